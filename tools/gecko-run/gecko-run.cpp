//===- gecko-run.cpp - Run a compiled Gecko model -------------------------===//
//
// score / generate / stream over an artifact written by gecko-compile.
// Links only the model runtime (no MLIR, no LLVM); docs/tools/gecko-run.md.
//
//===----------------------------------------------------------------------===//

#include "Options.h"
#include "Train.h"

#include "gecko/Runtime/Json.h"
#include "gecko/Runtime/Model.h"
#include "gecko/Runtime/Safetensors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace gecko::rt;
using namespace gecko::run;

namespace {

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

const char *kUsage =
    "usage: gecko-run <command> [options]\n"
    "\n"
    "Runs a Gecko model compiled by gecko-compile (an artifact directory).\n"
    "\n"
    "commands:\n"
    "  score     logits or next-token log-likelihoods of a token file\n"
    "  generate  prefill a prompt, then decode new tokens\n"
    "  stream    run a long token stream in blocks; progress, tokens/s and\n"
    "            peak memory\n"
    "  train     train an artifact compiled with --train (docs/training.md)\n"
    "  make-task write a synthetic long-range recall task (token file)\n"
    "\n"
    "`gecko-run <command> --help` lists the options of a command.\n";

const char *kCommonHelp =
    "  --artifact DIR         the artifact (gecko-compile output)\n"
    "  --weights FILE         parameters (.safetensors, F32, the manifest's\n"
    "                         names and shapes)\n"
    "  --init-random          random demo weights instead (deterministic)\n"
    "  --seed N               seed of --init-random (default 0)\n"
    "  --threads N            OpenMP threads of the model (default:\n"
    "                         OMP_NUM_THREADS or every core)\n"
    "  --decode on|off        tokens after the last chunk boundary through\n"
    "                         the artifact's decode entry, one call per token\n"
    "                         (on, the default when it has one) or through\n"
    "                         padded chunk calls (off)\n";

const char *kTokenHelp =
    "  --token-dtype T        binary token files: u16, u32 (default) or i64,\n"
    "                         little-endian; a .txt file holds whitespace-\n"
    "                         separated ids\n";

const char *kScoreHelp =
    "usage: gecko-run score --artifact DIR (--weights FILE | --init-random\n"
    "                       [--seed N]) --tokens FILE -o OUT.safetensors\n"
    "                       [--output=logits|logprobs]\n"
    "\n"
    "Runs the tokens through the model in one stream. With a batch-B\n"
    "artifact the tokens are split into B equal rows.\n"
    "  --output=logits        tensor 'logits' (L, V) f32 ((B, L, V) for B > "
    "1)\n"
    "  --output=logprobs      tensor 'logprobs' (L-1) f32: log p(t[i+1] |\n"
    "                         t[..i]); prints mean NLL and perplexity\n"
    "  --expect FILE          compare the logits with tensor 'logits' of a\n"
    "                         safetensors file (same element count)\n"
    "  --tolerance T          allowed |a - b| <= T * (1 + |b|) (default "
    "1e-5)\n"
    "  --schedule N,N,...     feed each row in calls of these lengths (the\n"
    "                         last one repeats; default: one call)\n";

const char *kGenerateHelp =
    "usage: gecko-run generate --artifact DIR (--weights FILE |\n"
    "                          --init-random) (--prompt-tokens FILE |\n"
    "                          --prompt TEXT) --max-new-tokens N\n"
    "                          [--temperature T] [--top-p P] [--seed S]\n"
    "\n"
    "Prefills the prompt, then decodes N tokens one at a time (batch-1\n"
    "artifacts). --prompt takes text as bytes (byte-level vocabularies,\n"
    "vocab_size >= 256).\n"
    "  --temperature T        0 (default) = greedy, else sample softmax(l/T)\n"
    "  --top-p P              nucleus sampling: the smallest set of tokens\n"
    "                         with probability >= P (default 1)\n"
    "  --seed S               seeds the sampler (and --init-random)\n"
    "  -o FILE                also write the generated ids (.txt)\n";

const char *kStreamHelp =
    "usage: gecko-run stream --artifact DIR (--weights FILE | --init-random)\n"
    "                        (--tokens FILE | --synthetic N) [--seed S]\n"
    "\n"
    "Reads the stream in fixed-size blocks (never the whole file) and runs it\n"
    "through one session (batch-1 artifacts). Prints a progress line at 64K,\n"
    "1M, 4M, 16M, ... tokens and at the end: tokens, tokens/s, peak RSS\n"
    "(VmHWM) and the mean next-token NLL.\n"
    "  --synthetic N          N random ids (seeded by --seed) instead of a "
    "file\n"
    "  --block N              tokens per block (default 4096, rounded up to a\n"
    "                         multiple of the chunk size)\n"
    "  --report-json FILE     also write the figures as JSON\n";

/// Parses `--key=value`, `--key value`, `-o value` and boolean flags.
bool parseArgs(int argc, char **argv, Options *opts, std::string *error) {
  static const std::vector<std::string> kValued = {"--artifact",
                                                   "--weights",
                                                   "--seed",
                                                   "--tokens",
                                                   "-o",
                                                   "--output",
                                                   "--token-dtype",
                                                   "--expect",
                                                   "--tolerance",
                                                   "--prompt-tokens",
                                                   "--prompt",
                                                   "--max-new-tokens",
                                                   "--temperature",
                                                   "--top-p",
                                                   "--synthetic",
                                                   "--block",
                                                   "--report-json",
                                                   "--threads",
                                                   "--decode",
                                                   "--schedule"};
  return parseOptions(argc, argv, {"--init-random"}, kValued, opts, error);
}

/// Rejects options that `command` does not take.
bool checkAllowed(const Options &opts, const std::vector<std::string> &allowed,
                  std::string *error) {
  auto ok = [&](const std::string &k) {
    return std::find(allowed.begin(), allowed.end(), k) != allowed.end();
  };
  for (const auto &[k, v] : opts.values)
    if (!ok(k)) {
      *error = "gecko-run " + opts.command + " does not take " + k;
      return false;
    }
  for (const std::string &k : opts.flags)
    if (!ok(k)) {
      *error = "gecko-run " + opts.command + " does not take " + k;
      return false;
    }
  return true;
}

//===----------------------------------------------------------------------===//
// Token files
//===----------------------------------------------------------------------===//

/// Reads ids from a .txt file (whitespace separated) or a raw little-endian
/// file of u16/u32/i64, block by block; checks every id against the vocab.
class TokenReader {
public:
  Status open(const std::string &path, const std::string &dtype,
              int64_t vocab) {
    this->path = path;
    this->vocab = vocab;
    text = path.size() >= 4 && path.compare(path.size() - 4, 4, ".txt") == 0;
    if (!text) {
      if (dtype == "u16")
        width = 2;
      else if (dtype == "u32")
        width = 4;
      else if (dtype == "i64")
        width = 8;
      else
        return Status::error("--token-dtype must be u16, u32 or i64, not '" +
                             dtype + "'");
    }
    file = std::fopen(path.c_str(), "rb");
    if (!file)
      return Status::error(path + ": cannot open: " + std::strerror(errno));
    return Status::success();
  }
  ~TokenReader() {
    if (file)
      std::fclose(file);
  }

  /// Appends up to `max` ids to `out`; 0 appended = end of file.
  Status read(size_t max, std::vector<int64_t> *out) {
    return text ? readText(max, out) : readBinary(max, out);
  }

  Status readAll(std::vector<int64_t> *out) {
    while (true) {
      size_t before = out->size();
      if (Status s = read(1 << 16, out); !s)
        return s;
      if (out->size() == before)
        return Status::success();
    }
  }

private:
  Status check(int64_t id) {
    if (id < 0 || id >= vocab)
      return Status::error(path + ": token " + std::to_string(index) + " is " +
                           std::to_string(id) +
                           ", outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
    ++index;
    return Status::success();
  }

  Status readBinary(size_t max, std::vector<int64_t> *out) {
    std::vector<uint8_t> buf(max * width);
    size_t n = std::fread(buf.data(), 1, buf.size(), file);
    if (std::ferror(file))
      return Status::error(path + ": read error");
    if (n % width)
      return Status::error(path + ": size is not a multiple of " +
                           std::to_string(width) + " bytes (--token-dtype)");
    for (size_t i = 0; i < n / width; ++i) {
      uint64_t v = 0;
      for (size_t b = 0; b < width; ++b)
        v |= static_cast<uint64_t>(buf[i * width + b]) << (8 * b);
      int64_t id = static_cast<int64_t>(v);
      if (Status s = check(id); !s)
        return s;
      out->push_back(id);
    }
    return Status::success();
  }

  Status readText(size_t max, std::vector<int64_t> *out) {
    size_t added = 0;
    while (added < max) {
      // Next word: skip whitespace, then collect non-whitespace characters.
      int c;
      while ((c = std::fgetc(file)) != EOF && std::isspace(c))
        ;
      if (c == EOF)
        break;
      std::string word(1, static_cast<char>(c));
      while ((c = std::fgetc(file)) != EOF && !std::isspace(c))
        if (word.size() < 64)
          word += static_cast<char>(c);
      int64_t id;
      char *end = nullptr;
      errno = 0;
      long long v = std::strtoll(word.c_str(), &end, 10);
      if (errno || *end)
        return Status::error(path + ": token " + std::to_string(index) + " ('" +
                             word + "') is not an integer");
      id = v;
      if (Status s = check(id); !s)
        return s;
      out->push_back(id);
      ++added;
    }
    return Status::success();
  }

  std::string path;
  std::FILE *file = nullptr;
  bool text = false;
  size_t width = 4;
  int64_t vocab = 0;
  int64_t index = 0;
};

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// VmHWM / VmRSS of this process in KiB (0 if unknown).
int64_t procStatusKiB(const char *key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atoll(line.c_str() + n + 1);
  return 0;
}

/// log softmax(row)[target].
double logProb(const float *row, int64_t vocab, int64_t target) {
  float mx = *std::max_element(row, row + vocab);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v)
    sum += std::exp(static_cast<double>(row[v]) - mx);
  return static_cast<double>(row[target]) - mx - std::log(sum);
}

Status loadModel(const Options &opts, std::unique_ptr<Model> *model) {
  if (!opts.has("--artifact"))
    return Status::error("--artifact DIR is required");
  if (opts.has("--weights") == opts.has("--init-random"))
    return Status::error("give exactly one of --weights FILE and "
                         "--init-random");
  if (Status s = Model::load(opts.get("--artifact"), model); !s)
    return s;
  if (opts.has("--threads")) {
    int64_t threads = 0;
    if (!parseInt(opts.get("--threads"), 1, &threads) || threads > 4096)
      return Status::error("--threads must be an integer in [1, 4096]");
    if (Status s = (*model)->setNumThreads(static_cast<int>(threads)); !s)
      return s;
  }
  int64_t seed = 0;
  if (!opts.has("--weights") && opts.has("--seed") &&
      !parseInt(opts.get("--seed"), 0, &seed))
    return Status::error("--seed must be a non-negative integer");
  return loadOrInitWeights(**model, opts, static_cast<uint64_t>(seed));
}

/// loadModel for the commands that run one stream (generate, stream).
Status loadBatch1Model(const Options &opts, std::unique_ptr<Model> *model) {
  if (Status s = loadModel(opts, model); !s)
    return s;
  if ((*model)->batch() != 1)
    return Status::error(opts.command +
                         " runs batch-1 artifacts; this one has batch " +
                         std::to_string((*model)->batch()));
  return Status::success();
}

/// --decode on|off.
Status configureSession(const Options &opts, Session &session) {
  std::string decode = opts.get("--decode", "on");
  if (decode != "on" && decode != "off")
    return Status::error("--decode must be on or off, not '" + decode + "'");
  session.setUseDecode(decode == "on");
  return Status::success();
}

std::string printable(const std::vector<int64_t> &ids) {
  std::string out;
  for (int64_t id : ids) {
    if (id == '\n')
      out += "\\n";
    else if (id == '\\')
      out += "\\\\";
    else if (id >= 0x20 && id < 0x7f)
      out += static_cast<char>(id);
    else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<int>(id & 0xff));
      out += buf;
    }
  }
  return out;
}

//===----------------------------------------------------------------------===//
// score
//===----------------------------------------------------------------------===//

int score(const Options &opts) {
  std::string error;
  if (!checkAllowed(opts,
                    {"--artifact", "--weights", "--init-random", "--seed",
                     "--threads", "--tokens", "-o", "--output", "--token-dtype",
                     "--expect", "--tolerance", "--decode", "--schedule"},
                    &error))
    return fail(error);
  std::string output = opts.get("--output", "logits");
  if (output != "logits" && output != "logprobs")
    return fail("--output must be logits or logprobs, not '" + output + "'");
  if (!opts.has("--tokens"))
    return fail("--tokens FILE is required");
  if (!opts.has("-o"))
    return fail("-o OUT.safetensors is required");
  double tolerance = 1e-5;
  if (opts.has("--tolerance") &&
      (!parseDouble(opts.get("--tolerance"), &tolerance) || tolerance < 0))
    return fail("--tolerance must be a non-negative number");
  std::unique_ptr<Model> model;
  if (Status s = loadModel(opts, &model); !s)
    return fail(s.message());
  int64_t batch = model->batch(), vocab = model->vocabSize();

  TokenReader reader;
  std::vector<int64_t> tokens;
  if (Status s = reader.open(opts.get("--tokens"),
                             opts.get("--token-dtype", "u32"), vocab);
      !s)
    return fail(s.message());
  if (Status s = reader.readAll(&tokens); !s)
    return fail(s.message());
  if (tokens.empty())
    return fail(opts.get("--tokens") + ": no tokens");
  if (tokens.size() % batch)
    return fail(opts.get("--tokens") + ": " + std::to_string(tokens.size()) +
                " tokens cannot be split into " + std::to_string(batch) +
                " equal rows (the artifact's batch)");
  int64_t length = static_cast<int64_t>(tokens.size()) / batch;
  std::vector<int64_t> schedule;
  if (opts.has("--schedule")) {
    std::string text = opts.get("--schedule");
    size_t at = 0;
    while (at <= text.size()) {
      size_t comma = std::min(text.find(',', at), text.size());
      int64_t n = 0;
      if (!parseInt(text.substr(at, comma - at), 1, &n))
        return fail("--schedule must be a comma-separated list of positive "
                    "integers, not '" +
                    text + "'");
      schedule.push_back(n);
      at = comma + 1;
    }
  } else {
    schedule.push_back(length);
  }

  Session session(*model);
  if (Status s = configureSession(opts, session); !s)
    return fail(s.message());
  std::vector<float> logits(tokens.size() * vocab);
  double t0 = now();
  for (int64_t at = 0, call = 0; at < length; ++call) {
    int64_t n = std::min(schedule[std::min<size_t>(call, schedule.size() - 1)],
                         length - at);
    std::vector<int64_t> part;
    for (int64_t b = 0; b < batch; ++b)
      part.insert(part.end(), tokens.begin() + b * length + at,
                  tokens.begin() + b * length + at + n);
    std::vector<float> out;
    if (Status s = session.feed(part, &out); !s)
      return fail(s.message());
    for (int64_t b = 0; b < batch; ++b)
      std::copy(out.begin() + b * n * vocab, out.begin() + (b + 1) * n * vocab,
                logits.begin() + (b * length + at) * vocab);
    at += n;
  }
  double seconds = now() - t0;
  std::printf("scored %lld tokens (%lld x %lld) in %.3f s, %.0f tokens/s\n",
              static_cast<long long>(tokens.size()),
              static_cast<long long>(batch), static_cast<long long>(length),
              seconds, tokens.size() / std::max(seconds, 1e-9));

  int rc = 0;
  if (opts.has("--expect")) {
    std::unique_ptr<st::File> expect;
    if (Status s = st::File::open(opts.get("--expect"), &expect); !s)
      return fail(s.message());
    const st::TensorView *ref = expect->find("logits");
    if (!ref)
      return fail(opts.get("--expect") + ": no tensor 'logits'");
    if (ref->numel() != static_cast<int64_t>(logits.size()))
      return fail(opts.get("--expect") + ": 'logits' has " +
                  std::to_string(ref->numel()) + " elements, computed " +
                  std::to_string(logits.size()));
    std::vector<float> want(ref->numel());
    if (!st::toFloat(*ref, want.data()))
      return fail(opts.get("--expect") + ": 'logits' is not a float tensor");
    double maxAbs = 0, maxScaled = 0;
    size_t worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      double d = std::fabs(static_cast<double>(logits[i]) - want[i]);
      double scaled = d / (1.0 + std::fabs(want[i]));
      maxAbs = std::max(maxAbs, d);
      if (scaled > maxScaled || std::isnan(d)) {
        maxScaled = std::isnan(d) ? INFINITY : scaled;
        worst = i;
      }
    }
    bool ok = maxScaled <= tolerance;
    std::printf("expect %s: max |a-b| %.3g, max |a-b|/(1+|b|) %.3g at "
                "element %zu (tolerance %g): %s\n",
                opts.get("--expect").c_str(), maxAbs, maxScaled, worst,
                tolerance, ok ? "PASS" : "FAIL");
    if (!ok)
      rc = 1;
  }

  std::vector<st::TensorOut> out;
  std::vector<float> logprobs;
  std::map<std::string, std::string> meta = {
      {"output", output}, {"tokens", std::to_string(tokens.size())}};
  if (output == "logits") {
    std::vector<int64_t> shape = {length, vocab};
    if (batch > 1)
      shape.insert(shape.begin(), batch);
    out.push_back({"logits", st::DType::F32, shape, logits.data()});
  } else {
    double nll = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t + 1 < length; ++t) {
        double lp = logProb(&logits[(b * length + t) * vocab], vocab,
                            tokens[b * length + t + 1]);
        logprobs.push_back(static_cast<float>(lp));
        nll -= lp;
      }
    std::vector<int64_t> shape = {length - 1};
    if (batch > 1)
      shape.insert(shape.begin(), batch);
    out.push_back({"logprobs", st::DType::F32, shape, logprobs.data()});
    size_t n = logprobs.size();
    if (n) {
      std::printf("tokens %lld, predictions %zu, mean NLL %.6f nats, "
                  "perplexity %.4f\n",
                  static_cast<long long>(tokens.size()), n, nll / n,
                  std::exp(nll / n));
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.9g", nll / n);
      meta["mean_nll"] = buf;
    }
  }
  if (Status s = st::write(opts.get("-o"), out, meta); !s)
    return fail(s.message());
  return rc;
}

//===----------------------------------------------------------------------===//
// generate
//===----------------------------------------------------------------------===//

/// Greedy (temperature 0) or temperature / top-p sampling.
int64_t pickToken(const float *logits, int64_t vocab, double temperature,
                  double topP, std::mt19937_64 &rng) {
  if (temperature <= 0)
    return std::max_element(logits, logits + vocab) - logits;
  float mx = *std::max_element(logits, logits + vocab);
  std::vector<double> probs(vocab);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v)
    sum += probs[v] = std::exp((logits[v] - mx) / temperature);
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return probs[a] != probs[b] ? probs[a] > probs[b] : a < b;
  });
  size_t keep = order.size();
  double cum = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    cum += probs[order[i]] / sum;
    if (cum >= topP) {
      keep = i + 1;
      break;
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i)
    kept += probs[order[i]];
  double u = (rng() >> 11) * (1.0 / 9007199254740992.0) * kept;
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[order[i]];
    if (u < 0)
      return order[i];
  }
  return order[keep - 1];
}

int generate(const Options &opts) {
  std::string error;
  if (!checkAllowed(opts,
                    {"--artifact", "--weights", "--init-random", "--seed",
                     "--threads", "--prompt-tokens", "--prompt",
                     "--max-new-tokens", "--temperature", "--top-p",
                     "--token-dtype", "-o", "--decode"},
                    &error))
    return fail(error);
  if (opts.has("--prompt-tokens") == opts.has("--prompt"))
    return fail("give exactly one of --prompt-tokens FILE and --prompt TEXT");
  int64_t maxNew = 0;
  if (!opts.has("--max-new-tokens") ||
      !parseInt(opts.get("--max-new-tokens"), 0, &maxNew))
    return fail("--max-new-tokens N (N >= 0) is required");
  double temperature = 0, topP = 1;
  if (opts.has("--temperature") &&
      (!parseDouble(opts.get("--temperature"), &temperature) ||
       temperature < 0))
    return fail("--temperature must be a number >= 0");
  if (opts.has("--top-p") &&
      (!parseDouble(opts.get("--top-p"), &topP) || topP <= 0 || topP > 1))
    return fail("--top-p must be in (0, 1]");
  int64_t seed = 0;
  if (opts.has("--seed") && !parseInt(opts.get("--seed"), 0, &seed))
    return fail("--seed must be a non-negative integer");
  std::unique_ptr<Model> model;
  if (Status s = loadBatch1Model(opts, &model); !s)
    return fail(s.message());
  int64_t vocab = model->vocabSize();
  bool byteLevel = vocab >= 256;

  std::vector<int64_t> prompt;
  if (opts.has("--prompt")) {
    if (!byteLevel)
      return fail("--prompt TEXT needs a byte-level vocabulary (vocab_size >= "
                  "256; this model has " +
                  std::to_string(vocab) + "); use --prompt-tokens");
    for (unsigned char c : opts.get("--prompt"))
      prompt.push_back(c);
  } else {
    TokenReader reader;
    if (Status s = reader.open(opts.get("--prompt-tokens"),
                               opts.get("--token-dtype", "u32"), vocab);
        !s)
      return fail(s.message());
    if (Status s = reader.readAll(&prompt); !s)
      return fail(s.message());
  }
  if (prompt.empty())
    return fail("the prompt is empty");

  Session session(*model);
  if (Status s = configureSession(opts, session); !s)
    return fail(s.message());
  std::vector<float> logits;
  double t0 = now();
  if (Status s = session.feed(prompt, &logits); !s)
    return fail(s.message());
  double prefill = now() - t0;
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::vector<int64_t> generated;
  std::vector<float> last(logits.end() - vocab, logits.end());
  t0 = now();
  for (int64_t i = 0; i < maxNew; ++i) {
    int64_t next = pickToken(last.data(), vocab, temperature, topP, rng);
    generated.push_back(next);
    if (i + 1 == maxNew)
      break;
    if (Status s = session.feed(&next, 1, last.data()); !s)
      return fail(s.message());
  }
  double decode = now() - t0;
  std::printf("prompt: %zu tokens, prefill %.3f s (%.0f tokens/s)\n",
              prompt.size(), prefill, prompt.size() / std::max(prefill, 1e-9));
  std::string ids;
  for (int64_t id : generated)
    ids += (ids.empty() ? "" : " ") + std::to_string(id);
  std::printf("generated %zu tokens (%s, %.0f tokens/s): %s\n",
              generated.size(), temperature > 0 ? "sampled" : "greedy",
              generated.size() / std::max(decode, 1e-9), ids.c_str());
  std::printf("library calls: %llu chunk, %llu decode\n",
              static_cast<unsigned long long>(session.calls()),
              static_cast<unsigned long long>(session.decodeCalls()));
  if (byteLevel)
    std::printf("text: \"%s\" + \"%s\"\n", printable(prompt).c_str(),
                printable(generated).c_str());
  if (opts.has("-o"))
    if (Status s = st::writeFileAtomic(opts.get("-o"), ids + "\n"); !s)
      return fail(s.message());
  return 0;
}

//===----------------------------------------------------------------------===//
// stream
//===----------------------------------------------------------------------===//

struct Milestone {
  int64_t tokens;
  double seconds;
  int64_t peakKiB, rssKiB;
  double meanNll;
};

int stream(const Options &opts) {
  std::string error;
  if (!checkAllowed(opts,
                    {"--artifact", "--weights", "--init-random", "--seed",
                     "--threads", "--tokens", "--synthetic", "--token-dtype",
                     "--block", "--report-json", "--decode"},
                    &error))
    return fail(error);
  if (opts.has("--tokens") == opts.has("--synthetic"))
    return fail("give exactly one of --tokens FILE and --synthetic N");
  int64_t synthetic = 0, block = 4096, seed = 0;
  if (opts.has("--synthetic") &&
      !parseInt(opts.get("--synthetic"), 1, &synthetic))
    return fail("--synthetic N needs N >= 1");
  if (opts.has("--block") && !parseInt(opts.get("--block"), 1, &block))
    return fail("--block N needs N >= 1");
  if (opts.has("--seed") && !parseInt(opts.get("--seed"), 0, &seed))
    return fail("--seed must be a non-negative integer");
  std::unique_ptr<Model> model;
  if (Status s = loadBatch1Model(opts, &model); !s)
    return fail(s.message());
  int64_t vocab = model->vocabSize(), chunk = model->chunkSize();
  block = (block + chunk - 1) / chunk * chunk;

  TokenReader reader;
  if (opts.has("--tokens"))
    if (Status s = reader.open(opts.get("--tokens"),
                               opts.get("--token-dtype", "u32"), vocab);
        !s)
      return fail(s.message());
  std::mt19937_64 rng(static_cast<uint64_t>(seed));

  Session session(*model);
  if (Status s = configureSession(opts, session); !s)
    return fail(s.message());
  std::vector<int64_t> tokens;
  std::vector<float> logits(block * vocab), lastRow(vocab);
  bool haveLast = false;
  int64_t total = 0, predictions = 0;
  double nll = 0;
  std::vector<Milestone> milestones;
  int64_t nextMilestone = 65536;
  auto report = [&](double seconds) {
    Milestone m{total, seconds, procStatusKiB("VmHWM"), procStatusKiB("VmRSS"),
                predictions ? nll / predictions : 0.0};
    milestones.push_back(m);
    std::printf("tokens %lld  %.0f tokens/s  peak RSS %.1f MiB  mean NLL "
                "%.6f\n",
                static_cast<long long>(m.tokens),
                m.tokens / std::max(m.seconds, 1e-9), m.peakKiB / 1024.0,
                m.meanNll);
    std::fflush(stdout);
  };
  double t0 = now();
  while (true) {
    tokens.clear();
    if (opts.has("--synthetic")) {
      int64_t n = std::min(block, synthetic - total);
      for (int64_t i = 0; i < n; ++i)
        tokens.push_back(static_cast<int64_t>(rng() % vocab));
    } else if (Status s = reader.read(block, &tokens); !s) {
      return fail(s.message());
    }
    if (tokens.empty())
      break;
    int64_t n = static_cast<int64_t>(tokens.size());
    if (Status s = session.feed(tokens.data(), n, logits.data()); !s)
      return fail(s.message());
    if (haveLast) {
      nll -= logProb(lastRow.data(), vocab, tokens[0]);
      ++predictions;
    }
    for (int64_t t = 0; t + 1 < n; ++t)
      nll -= logProb(&logits[t * vocab], vocab, tokens[t + 1]);
    predictions += n - 1;
    std::copy(logits.begin() + (n - 1) * vocab, logits.begin() + n * vocab,
              lastRow.begin());
    haveLast = true;
    total += n;
    if (total >= nextMilestone) {
      report(now() - t0);
      while (total >= nextMilestone)
        nextMilestone =
            nextMilestone < (1 << 20) ? (1 << 20) : nextMilestone * 4;
    }
  }
  if (total == 0)
    return fail(opts.get("--tokens") + ": no tokens");
  double seconds = now() - t0;
  if (milestones.empty() || milestones.back().tokens != total)
    report(seconds);
  std::printf("stream done: %lld tokens, %llu chunk calls, %llu decode calls, "
              "%.2f s, %.0f tokens/s, peak RSS %.1f MiB\n",
              static_cast<long long>(total),
              static_cast<unsigned long long>(session.calls()),
              static_cast<unsigned long long>(session.decodeCalls()), seconds,
              total / std::max(seconds, 1e-9),
              milestones.back().peakKiB / 1024.0);

  if (opts.has("--report-json")) {
    json::Value root = json::Value::object();
    root.set("artifact", json::Value::string(opts.get("--artifact")));
    root.set("tokens", json::Value::integer(total));
    root.set("chunk_size", json::Value::integer(chunk));
    root.set("calls",
             json::Value::integer(static_cast<int64_t>(session.calls())));
    root.set("decode_calls",
             json::Value::integer(static_cast<int64_t>(session.decodeCalls())));
    root.set("seconds", json::Value::number(seconds));
    root.set("tokens_per_second",
             json::Value::number(total / std::max(seconds, 1e-9)));
    root.set("peak_rss_kib", json::Value::integer(milestones.back().peakKiB));
    root.set("mean_nll",
             json::Value::number(predictions ? nll / predictions : 0.0));
    std::vector<json::Value> list;
    for (const Milestone &m : milestones) {
      json::Value item = json::Value::object();
      item.set("tokens", json::Value::integer(m.tokens));
      item.set("seconds", json::Value::number(m.seconds));
      item.set("tokens_per_second",
               json::Value::number(m.tokens / std::max(m.seconds, 1e-9)));
      item.set("peak_rss_kib", json::Value::integer(m.peakKiB));
      item.set("rss_kib", json::Value::integer(m.rssKiB));
      item.set("mean_nll", json::Value::number(m.meanNll));
      list.push_back(std::move(item));
    }
    root.set("progress", json::Value::array(std::move(list)));
    if (Status s = st::writeFileAtomic(opts.get("--report-json"),
                                       json::write(root, 2, true) + "\n");
        !s)
      return fail(s.message());
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  Options opts;
  opts.command = argv[1];
  if (opts.command == "--help" || opts.command == "-h" ||
      opts.command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (opts.command == "train")
    return gecko::run::trainCommand(argc, argv);
  if (opts.command == "make-task")
    return gecko::run::makeTaskCommand(argc, argv);
  const char *help = opts.command == "score"      ? kScoreHelp
                     : opts.command == "generate" ? kGenerateHelp
                     : opts.command == "stream"   ? kStreamHelp
                                                  : nullptr;
  if (!help)
    return fail("unknown command '" + opts.command +
                "' (score, generate, stream, train, make-task; see "
                "gecko-run --help)");
  std::string error;
  if (!parseArgs(argc, argv, &opts, &error))
    return fail(error);
  if (opts.help) {
    std::fputs(help, stdout);
    std::fputs("common options:\n", stdout);
    std::fputs(kCommonHelp, stdout);
    std::fputs(kTokenHelp, stdout);
    return 0;
  }
  if (opts.command == "score")
    return score(opts);
  if (opts.command == "generate")
    return generate(opts);
  return stream(opts);
}
