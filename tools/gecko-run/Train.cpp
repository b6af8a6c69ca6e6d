//===- Train.cpp - gecko-run train / make-task ----------------------------===//
//
// train: data = a token file (u16 / u32 little-endian ids, or bytes of text
// with the byte-level vocabulary) cut into windows of L+1 tokens (inputs =
// the first L, targets = the last L). The windows are visited epoch by
// epoch in a permutation drawn from (seed, epoch) with SplitMix64, so the
// data order is a pure function of the seed and the number of rows already
// consumed (the "data position" stored in checkpoints): resuming from a
// checkpoint replays exactly the rows an uninterrupted run would see.
// Each step: K micro-batches of B rows through train_step, one
// optimizer_step (gecko/Runtime/Train.h).
//
// make-task: the associative-recall task of docs/training.md.
//
//===----------------------------------------------------------------------===//

#include "Train.h"
#include "Options.h"

#include "gecko/Runtime/Model.h"
#include "gecko/Runtime/Safetensors.h"
#include "gecko/Runtime/Train.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace gecko::rt;

namespace gecko::run {

namespace {

const char *kTrainHelp =
    "usage: gecko-run train --artifact DIR --data FILE --steps N\n"
    "                       (--init-random | --weights FILE | --resume)\n"
    "                       [options]\n"
    "\n"
    "Trains an artifact compiled with gecko-compile --train. The data file\n"
    "is cut into rows of L+1 tokens (L = the artifact's train length;\n"
    "inputs = the first L, targets = the last L), visited in a seeded\n"
    "order. One step = --grad-accum micro-batches of the artifact's train\n"
    "batch through train_step, then AdamW (compiled optimizer_step).\n"
    "  --data-format F        u16 (default), u32 (little-endian ids) or\n"
    "                         bytes (every byte of the file is a token)\n"
    "  --seq-len L            check that the artifact trains rows of L\n"
    "  --lr X                 peak learning rate (default 3e-4)\n"
    "  --min-lr X             end of the cosine decay (default lr / 10)\n"
    "  --warmup N             linear warmup steps (default 0)\n"
    "  --weight-decay X       decoupled decay of the matrices (default 0.1)\n"
    "  --clip X               global gradient-norm clip (default 1; 0 off)\n"
    "  --beta1/--beta2/--eps  AdamW (default 0.9, 0.95, 1e-8)\n"
    "  --grad-accum K         micro-batches per step (default 1)\n"
    "  --seed S               data order and --init-random (default 0)\n"
    "  --checkpoint-dir D     write D/step-<N>.safetensors (weights, AdamW\n"
    "                         moments, step, data position, checksum)\n"
    "  --checkpoint-every N   every N steps (and at the end; default: end)\n"
    "  --keep-checkpoints N   keep the newest N (default 2)\n"
    "  --resume               continue from the newest checkpoint in D,\n"
    "                         exactly as an uninterrupted run\n"
    "  --eval-data FILE       rows of L+1 tokens scored with the streaming\n"
    "                         entries before training, every --eval-every\n"
    "                         steps and at the end\n"
    "  --eval-every N         (default: only before and after)\n"
    "  --eval-rows N          rows of --eval-data to use (default 32)\n"
    "  --query-token Q        also report the NLL of the tokens that follow\n"
    "                         an input Q (make-task's query positions)\n"
    "  --export-weights FILE  write the final weights (for --weights)\n"
    "  --log-every N          progress line every N steps (default 1)\n"
    "  --threads N            OpenMP threads of the model\n";

const char *kMakeTaskHelp =
    "usage: gecko-run make-task --rows N --length L --chunk C -o FILE\n"
    "                           [--pairs P] [--keys K] [--values V]\n"
    "                           [--vocab N] [--filler F] [--gap G]\n"
    "                           [--seed S]\n"
    "\n"
    "Writes N rows of L+1 u16 tokens of an associative-recall task whose\n"
    "answers lie more than two chunks back: chunk 0 holds P key/value pairs,\n"
    "chunks 1 and 2 random filler, from chunk 3 on queries 'Q key value'\n"
    "(Q = 3) ask for the values of the keys of chunk 0, each once, in random\n"
    "order (so no answer can be copied from an earlier query). Sliding\n"
    "chunk attention sees one chunk back only, so only the working memory /\n"
    "EMA can carry the pairs. Keys are ids [8, 8+K), values [8+K, 8+K+V),\n"
    "filler the next F ids (default: the rest)"
    " of the vocabulary (default K 32, V 64, P 2, vocab 256). --gap G: G\n"
    "filler chunks before the queries (default 2; G < 1 puts the pairs in\n"
    "sliding-attention reach, a control).\n";

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Uniform in [0, n) (n > 0), by rejection: exact and portable.
uint64_t below(uint64_t &state, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do
    r = splitmix64(state);
  while (r >= limit);
  return r % n;
}

//===----------------------------------------------------------------------===//
// Token data
//===----------------------------------------------------------------------===//

/// A token file mapped read-only; every id is checked against the vocab
/// when it is opened.
class TokenData {
public:
  ~TokenData() {
    if (map && map != MAP_FAILED)
      munmap(map, size);
  }
  Status open(const std::string &path, const std::string &format,
              int64_t vocab) {
    this->path = path;
    if (format == "u16")
      width = 2;
    else if (format == "u32")
      width = 4;
    else if (format == "bytes")
      width = 1;
    else
      return Status::error("--data-format must be u16, u32 or bytes, not '" +
                           format + "'");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::error(path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::error(path + ": cannot stat: " + std::strerror(errno));
    }
    size = static_cast<size_t>(st.st_size);
    if (size % width) {
      ::close(fd);
      return Status::error(path + ": size " + std::to_string(size) +
                           " is not a multiple of " + std::to_string(width) +
                           " bytes (--data-format " + format + ")");
    }
    count = static_cast<int64_t>(size / width);
    if (size > 0) {
      map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) {
        ::close(fd);
        return Status::error(path + ": cannot map: " + std::strerror(errno));
      }
    }
    ::close(fd);
    for (int64_t i = 0; i < count; ++i)
      if (at(i) >= vocab)
        return Status::error(path + ": token id " + std::to_string(at(i)) +
                             " at position " + std::to_string(i) +
                             " is not below vocab_size " +
                             std::to_string(vocab));
    return Status::success();
  }
  int64_t size64() const { return count; }
  int64_t at(int64_t i) const {
    const auto *b = static_cast<const uint8_t *>(map) + i * width;
    uint64_t v = 0;
    for (size_t k = 0; k < width; ++k)
      v |= static_cast<uint64_t>(b[k]) << (8 * k);
    return static_cast<int64_t>(v);
  }
  const std::string &name() const { return path; }

private:
  std::string path;
  void *map = nullptr;
  size_t size = 0, width = 2;
  int64_t count = 0;
};

/// Rows of `rowTokens` = L+1 tokens in a seeded per-epoch order.
class RowOrder {
public:
  RowOrder(int64_t rows, uint64_t seed) : rows(rows), seed(seed) {}
  /// Window index of the `position`-th row consumed (0-based, global).
  int64_t window(int64_t position) {
    int64_t epoch = position / rows;
    if (epoch != cachedEpoch) {
      perm.resize(rows);
      for (int64_t i = 0; i < rows; ++i)
        perm[i] = i;
      uint64_t state = epochSeed(epoch);
      for (int64_t i = rows - 1; i > 0; --i)
        std::swap(perm[i], perm[below(state, i + 1)]);
      cachedEpoch = epoch;
    }
    return perm[position % rows];
  }
  uint64_t epochSeed(int64_t epoch) const {
    return seed * 0x2545f4914f6cdd1dull + static_cast<uint64_t>(epoch) + 1;
  }

private:
  int64_t rows;
  uint64_t seed;
  int64_t cachedEpoch = -1;
  std::vector<int64_t> perm;
};

std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

//===----------------------------------------------------------------------===//
// Evaluation through the streaming entries
//===----------------------------------------------------------------------===//

struct EvalResult {
  double allNll = 0, queryNll = 0;
  int64_t allCount = 0, queryCount = 0;
};

Status evaluate(const Model &model, const TokenData &data, int64_t length,
                int64_t maxRows, int64_t queryToken, EvalResult *out) {
  int64_t rowTokens = length + 1;
  int64_t rows = std::min(maxRows, data.size64() / rowTokens);
  int64_t batch = model.batch(), vocab = model.vocabSize();
  rows -= rows % batch;
  if (rows < 1)
    return Status::error(data.name() + ": fewer than " + std::to_string(batch) +
                         " eval rows of " + std::to_string(rowTokens) +
                         " tokens");
  Session session(model);
  std::vector<int64_t> tokens(batch * length);
  std::vector<float> logits;
  EvalResult r;
  for (int64_t first = 0; first < rows; first += batch) {
    session.reset();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < length; ++t)
        tokens[b * length + t] = data.at((first + b) * rowTokens + t);
    if (Status s = session.feed(tokens, &logits); !s)
      return s;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < length; ++t) {
        const float *row = logits.data() + (b * length + t) * vocab;
        int64_t target = data.at((first + b) * rowTokens + t + 1);
        float mx = *std::max_element(row, row + vocab);
        double sum = 0;
        for (int64_t k = 0; k < vocab; ++k)
          sum += std::exp(static_cast<double>(row[k]) - mx);
        double nll = mx + std::log(sum) - row[target];
        r.allNll += nll;
        ++r.allCount;
        if (queryToken >= 0 && t > 0 &&
            tokens[b * length + t - 1] == queryToken) {
          r.queryNll += nll;
          ++r.queryCount;
        }
      }
  }
  r.allNll /= std::max<int64_t>(1, r.allCount);
  r.queryNll /= std::max<int64_t>(1, r.queryCount);
  *out = r;
  return Status::success();
}

std::string checkpointPath(const std::string &dir, int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step-%08lld.safetensors",
                static_cast<long long>(step));
  return dir + "/" + buf;
}

/// Deletes all but the newest `keep` step-<N>.safetensors of `dir`.
void pruneCheckpoints(const std::string &dir, int64_t keep, int64_t newest) {
  for (int64_t step = newest - 1; step >= 0; --step) {
    std::string path = checkpointPath(dir, step);
    if (access(path.c_str(), F_OK) != 0)
      continue;
    if (keep > 1) {
      --keep;
      continue;
    }
    ::unlink(path.c_str());
  }
}

/// Removes the temporary files of interrupted checkpoint writes
/// (step-<N>.safetensors.tmp-<pid>; the checkpoints themselves are only
/// ever renamed into place complete).
void removeStaleTemporaries(const std::string &dir) {
  DIR *d = opendir(dir.c_str());
  if (!d)
    return;
  std::vector<std::string> stale;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, 5, "step-") == 0 &&
        name.find(".safetensors.tmp-") != std::string::npos)
      stale.push_back(dir + "/" + name);
  }
  closedir(d);
  for (const std::string &path : stale) {
    std::printf("removing %s (an interrupted checkpoint write)\n",
                path.c_str());
    ::unlink(path.c_str());
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// gecko-run train
//===----------------------------------------------------------------------===//

int trainCommand(int argc, char **argv) {
  Options a;
  a.command = argv[1];
  std::string error;
  if (!parseOptions(argc, argv, {"--init-random", "--resume"},
                    {"--artifact",
                     "--data",
                     "--data-format",
                     "--steps",
                     "--seq-len",
                     "--lr",
                     "--min-lr",
                     "--warmup",
                     "--weight-decay",
                     "--clip",
                     "--beta1",
                     "--beta2",
                     "--eps",
                     "--grad-accum",
                     "--seed",
                     "--checkpoint-dir",
                     "--checkpoint-every",
                     "--keep-checkpoints",
                     "--weights",
                     "--eval-data",
                     "--eval-every",
                     "--eval-rows",
                     "--query-token",
                     "--export-weights",
                     "--log-every",
                     "--threads"},
                    &a, &error))
    return fail(error);
  if (a.help) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  for (const char *required : {"--artifact", "--data", "--steps"})
    if (!a.has(required))
      return fail(std::string(required) + " is required (see gecko-run train "
                                          "--help)");
  bool resume = a.has("--resume");
  std::string ckptDir = a.get("--checkpoint-dir");
  if (resume && ckptDir.empty())
    return fail("--resume needs --checkpoint-dir");
  if (a.has("--weights") && a.has("--init-random"))
    return fail("give at most one of --weights FILE and --init-random");

  int64_t steps = 0, gradAccum = 1, seed = 0, every = 0, keep = 2, warmup = 0,
          logEvery = 1, evalEvery = 0, evalRows = 32, queryToken = -1,
          threads = 0, seqLen = 0;
  OptimizerConfig opt;
  struct IntOpt {
    const char *name;
    int64_t min;
    int64_t *out;
  };
  for (IntOpt o :
       {IntOpt{"--steps", 1, &steps}, IntOpt{"--grad-accum", 1, &gradAccum},
        IntOpt{"--seed", 0, &seed}, IntOpt{"--checkpoint-every", 0, &every},
        IntOpt{"--keep-checkpoints", 1, &keep}, IntOpt{"--warmup", 0, &warmup},
        IntOpt{"--log-every", 1, &logEvery},
        IntOpt{"--eval-every", 0, &evalEvery},
        IntOpt{"--eval-rows", 1, &evalRows},
        IntOpt{"--query-token", 0, &queryToken},
        IntOpt{"--threads", 1, &threads}, IntOpt{"--seq-len", 1, &seqLen}})
    if (a.has(o.name) && !parseInt(a.get(o.name), o.min, o.out))
      return fail(std::string(o.name) + " must be an integer >= " +
                  std::to_string(o.min) + ", got '" + a.get(o.name) + "'");
  struct RealOpt {
    const char *name;
    double *out;
  };
  bool minLrGiven = a.has("--min-lr");
  for (RealOpt o :
       {RealOpt{"--lr", &opt.lr}, RealOpt{"--min-lr", &opt.minLr},
        RealOpt{"--weight-decay", &opt.weightDecay},
        RealOpt{"--clip", &opt.clipNorm}, RealOpt{"--beta1", &opt.beta1},
        RealOpt{"--beta2", &opt.beta2}, RealOpt{"--eps", &opt.eps}})
    if (a.has(o.name) && !parseDouble(a.get(o.name), o.out))
      return fail(std::string(o.name) + " must be a number, got '" +
                  a.get(o.name) + "'");
  if (!minLrGiven)
    opt.minLr = opt.lr / 10;
  if (opt.lr <= 0 || opt.minLr < 0 || opt.beta1 < 0 || opt.beta1 >= 1 ||
      opt.beta2 < 0 || opt.beta2 >= 1 || opt.eps <= 0 || opt.weightDecay < 0)
    return fail("need --lr > 0, --min-lr >= 0, 0 <= --beta1/--beta2 < 1, "
                "--eps > 0, --weight-decay >= 0");
  opt.warmup = warmup;
  opt.steps = steps;

  std::unique_ptr<Model> model;
  if (Status s = Model::load(a.get("--artifact"), &model); !s)
    return fail(s.message());
  TrainSpec spec;
  if (Status s = loadTrainSpec(*model, &spec); !s)
    return fail(s.message());
  int64_t chunk = model->chunkSize(), length = spec.length;
  if (seqLen) {
    if (seqLen % chunk)
      return fail("sequence length " + std::to_string(seqLen) +
                  " is not a multiple of chunk_size " + std::to_string(chunk));
    if (seqLen != length)
      return fail("--seq-len " + std::to_string(seqLen) +
                  " differs from the artifact's train length " +
                  std::to_string(length) +
                  " (recompile with gecko-compile --train-length=" +
                  std::to_string(seqLen) + ")");
  }
  if (threads)
    if (Status s = model->setNumThreads(static_cast<int>(threads)); !s)
      return fail(s.message());

  // Data.
  TokenData data;
  if (Status s = data.open(a.get("--data"), a.get("--data-format", "u16"),
                           model->vocabSize());
      !s)
    return fail(s.message());
  int64_t rowTokens = length + 1, batch = spec.batch;
  int64_t windows = data.size64() / rowTokens;
  if (windows < batch * gradAccum)
    return fail(data.name() + " holds " + std::to_string(data.size64()) +
                " tokens, fewer than one batch: " + std::to_string(gradAccum) +
                " micro-batch(es) x " + std::to_string(batch) + " rows x " +
                std::to_string(rowTokens) + " tokens (L+1) = " +
                std::to_string(gradAccum * batch * rowTokens));
  TokenData evalData;
  bool haveEval = a.has("--eval-data");
  if (haveEval)
    if (Status s =
            evalData.open(a.get("--eval-data"), a.get("--data-format", "u16"),
                          model->vocabSize());
        !s)
      return fail(s.message());

  // Weights, optimizer state, data position.
  std::string latest = resume ? latestCheckpoint(ckptDir) : "";
  if (latest.empty() && !a.has("--weights") && !a.has("--init-random"))
    return fail(resume ? "no checkpoint in " + ckptDir +
                             " to resume from; give --init-random or "
                             "--weights to start"
                       : "give --init-random, --weights FILE or --resume");
  if (Status s = loadOrInitWeights(*model, a, static_cast<uint64_t>(seed)); !s)
    return fail(s.message());
  std::unique_ptr<Trainer> trainer;
  if (Status s = Trainer::create(*model, &trainer); !s)
    return fail(s.message());
  int64_t done = 0, position = 0;
  std::map<std::string, std::string> options = {
      {"lr", fmt("%.17g", opt.lr)},
      {"min_lr", fmt("%.17g", opt.minLr)},
      {"warmup", std::to_string(warmup)},
      {"steps", std::to_string(steps)},
      {"weight_decay", fmt("%.17g", opt.weightDecay)},
      {"clip", fmt("%.17g", opt.clipNorm)},
      {"beta1", fmt("%.17g", opt.beta1)},
      {"beta2", fmt("%.17g", opt.beta2)},
      {"eps", fmt("%.17g", opt.eps)},
      {"grad_accum", std::to_string(gradAccum)},
      {"micro_batch", std::to_string(batch)},
      {"seq_len", std::to_string(length)},
      {"seed", std::to_string(seed)},
      {"data_tokens", std::to_string(data.size64())}};
  if (!latest.empty()) {
    CheckpointInfo info;
    if (Status s = loadCheckpoint(latest, *trainer, &info); !s)
      return fail(s.message());
    done = info.step;
    if (!parseInt(info.fields["data_position"], 0, &position))
      return fail("checkpoint " + latest + ": bad 'data_position' metadata");
    for (const char *key : {"seed", "grad_accum", "micro_batch", "seq_len"})
      if (info.fields[key] != options[key])
        return fail("checkpoint " + latest + " was written with " + key +
                    " = " + info.fields[key] + ", this run has " +
                    options[key] + " (the data order would differ)");
    for (const auto &[key, value] : options)
      if (info.fields.count(key) && info.fields[key] != value)
        std::fprintf(stderr,
                     "gecko-run: warning: checkpoint %s was written with %s "
                     "= %s, continuing with %s (the run will differ from an "
                     "uninterrupted one)\n",
                     latest.c_str(), key.c_str(), info.fields[key].c_str(),
                     value.c_str());
    std::printf("resumed from %s: step %lld, data position %lld\n",
                latest.c_str(), static_cast<long long>(done),
                static_cast<long long>(position));
  }
  if (!ckptDir.empty()) {
    mkdir(ckptDir.c_str(), 0755);
    removeStaleTemporaries(ckptDir);
  }

  RowOrder order(windows, static_cast<uint64_t>(seed));
  auto runEval = [&](int64_t step, EvalResult *result = nullptr) -> Status {
    if (!haveEval)
      return Status::success();
    EvalResult r;
    if (Status s = evaluate(*model, evalData, length, evalRows, queryToken, &r);
        !s)
      return s;
    if (result)
      *result = r;
    std::printf("eval step %lld: nll %.6f", static_cast<long long>(step),
                r.allNll);
    if (queryToken >= 0)
      std::printf("  query_nll %.6f (%lld positions)", r.queryNll,
                  static_cast<long long>(r.queryCount));
    std::printf("\n");
    std::fflush(stdout);
    return Status::success();
  };
  EvalResult firstEval;
  if (Status s = runEval(done, &firstEval); !s)
    return fail(s.message());

  std::printf("training %lld steps from step %lld: %lld x %lld rows x %lld "
              "tokens per step, %lld rows of data\n",
              static_cast<long long>(steps), static_cast<long long>(done),
              static_cast<long long>(gradAccum), static_cast<long long>(batch),
              static_cast<long long>(length), static_cast<long long>(windows));
  std::fflush(stdout);
  std::vector<int64_t> inputs(gradAccum * batch * length),
      targets(inputs.size());
  double start = now(), lastLog = start;
  int64_t tokensSinceLog = 0, startStep = done;
  for (int64_t step = done + 1; step <= steps; ++step) {
    for (int64_t r = 0; r < gradAccum * batch; ++r) {
      int64_t w = order.window(position++);
      for (int64_t t = 0; t < length; ++t) {
        inputs[r * length + t] = data.at(w * rowTokens + t);
        targets[r * length + t] = data.at(w * rowTokens + t + 1);
      }
    }
    StepStats stats;
    if (Status s = trainer->step(inputs.data(), targets.data(), gradAccum, step,
                                 opt, &stats);
        !s)
      return fail(s.message());
    tokensSinceLog += gradAccum * batch * length;
    if (step % logEvery == 0 || step == steps) {
      double t = now();
      std::printf("step %lld/%lld  loss %.9g  lr %.4e  grad_norm %.6e  clip "
                  "%.4f  tokens/s %.0f\n",
                  static_cast<long long>(step), static_cast<long long>(steps),
                  stats.loss, stats.lr, static_cast<double>(stats.gradNorm),
                  static_cast<double>(stats.clipScale),
                  tokensSinceLog / std::max(1e-9, t - lastLog));
      std::fflush(stdout);
      lastLog = t;
      tokensSinceLog = 0;
    }
    if (haveEval && evalEvery && step % evalEvery == 0 && step != steps)
      if (Status s = runEval(step); !s)
        return fail(s.message());
    if (!ckptDir.empty() && ((every && step % every == 0) || step == steps)) {
      CheckpointInfo info;
      info.step = step;
      info.fields = options;
      info.fields["data_position"] = std::to_string(position);
      info.fields["rng"] = "splitmix64 epoch " +
                           std::to_string(position / windows) + " seed " +
                           std::to_string(order.epochSeed(position / windows));
      double t0 = now();
      std::string path = checkpointPath(ckptDir, step);
      if (Status s = saveCheckpoint(path, *trainer, info); !s)
        return fail(s.message());
      pruneCheckpoints(ckptDir, keep, step);
      std::printf("checkpoint %s (%.2f s)\n", path.c_str(), now() - t0);
      std::fflush(stdout);
    }
  }
  double elapsed = now() - start;
  int64_t trained = steps - startStep;
  std::printf("trained %lld steps, %lld tokens in %.2f s: %.0f tokens/s\n",
              static_cast<long long>(trained),
              static_cast<long long>(trained * gradAccum * batch * length),
              elapsed,
              trained * gradAccum * batch * length / std::max(1e-9, elapsed));
  EvalResult lastEval;
  if (Status s = runEval(steps, &lastEval); !s)
    return fail(s.message());
  if (haveEval && queryToken >= 0 && firstEval.queryNll > 0)
    std::printf("query_nll %.6f -> %.6f: ratio %.4f\n", firstEval.queryNll,
                lastEval.queryNll, lastEval.queryNll / firstEval.queryNll);
  if (a.has("--export-weights")) {
    std::vector<st::TensorOut> out;
    for (size_t i = 0; i < trainer->numParams(); ++i)
      out.push_back({trainer->paramSpec(i).name, st::DType::F32,
                     trainer->paramSpec(i).shape, trainer->param(i)});
    if (Status s = st::write(a.get("--export-weights"), out,
                             {{"step", std::to_string(steps)}});
        !s)
      return fail(s.message());
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// gecko-run make-task
//===----------------------------------------------------------------------===//

int makeTaskCommand(int argc, char **argv) {
  Options a;
  a.command = argv[1];
  std::string error;
  if (!parseOptions(argc, argv, {},
                    {"--rows", "--length", "--chunk", "-o", "--pairs", "--keys",
                     "--values", "--vocab", "--seed", "--task", "--filler",
                     "--gap"},
                    &a, &error))
    return fail(error);
  if (a.help) {
    std::fputs(kMakeTaskHelp, stdout);
    return 0;
  }
  for (const char *required : {"--rows", "--length", "--chunk", "-o"})
    if (!a.has(required))
      return fail(std::string(required) +
                  " is required (see gecko-run make-task --help)");
  if (a.get("--task", "recall") != "recall")
    return fail("--task must be 'recall'");
  int64_t rows = 0, length = 0, chunk = 0, keys = 32, values = 64, vocab = 256,
          seed = 0, pairs = 2, filler = 0, gap = 2;
  struct IntOpt {
    const char *name;
    int64_t min;
    int64_t *out;
  };
  for (IntOpt o : {IntOpt{"--rows", 1, &rows}, IntOpt{"--length", 1, &length},
                   IntOpt{"--chunk", 1, &chunk}, IntOpt{"--keys", 1, &keys},
                   IntOpt{"--values", 1, &values}, IntOpt{"--vocab", 1, &vocab},
                   IntOpt{"--seed", 0, &seed}, IntOpt{"--pairs", 1, &pairs},
                   IntOpt{"--filler", 1, &filler}, IntOpt{"--gap", 0, &gap}})
    if (a.has(o.name) && !parseInt(a.get(o.name), o.min, o.out))
      return fail(std::string(o.name) +
                  " must be an integer >= " + std::to_string(o.min));
  const int64_t query = 3, keyBase = 8, valueBase = keyBase + keys,
                fillerBase = valueBase + values;
  if (fillerBase >= vocab || vocab > 65536)
    return fail("--vocab must exceed 8 + keys + values (" +
                std::to_string(fillerBase) + ") and be at most 65536");
  if (!filler)
    filler = vocab - fillerBase;
  if (fillerBase + filler > vocab)
    return fail("--filler " + std::to_string(filler) +
                " ids do not fit the vocabulary after the values");
  if (2 * pairs > chunk || pairs > keys)
    return fail("--pairs must fit chunk 0 (2 * pairs <= chunk) and be at "
                "most --keys");
  int64_t firstQuery = (gap + 1) * chunk;
  if (length + 1 < firstQuery + 3)
    return fail("--length must leave room for a query after chunk 0 and "
                "the --gap chunks (length + 1 >= (gap + 1) * chunk + 3)");
  uint64_t state = static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull + 7;
  std::vector<uint8_t> bytes;
  bytes.reserve(rows * (length + 1) * 2);
  std::vector<int64_t> row(length + 1), rowKeys(keys), rowValues(pairs);
  int64_t queries = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t &t : row)
      t = fillerBase + static_cast<int64_t>(below(state, filler));
    for (int64_t k = 0; k < keys; ++k)
      rowKeys[k] = keyBase + k;
    for (int64_t k = 0; k < pairs; ++k) // distinct keys: partial shuffle
      std::swap(rowKeys[k], rowKeys[k + below(state, keys - k)]);
    for (int64_t k = 0; k < pairs; ++k) {
      rowValues[k] = valueBase + static_cast<int64_t>(below(state, values));
      row[2 * k] = rowKeys[k];
      row[2 * k + 1] = rowValues[k];
    }
    // Each pair is asked at most once, in random order, so that no answer
    // can be copied from an earlier query of the same row.
    for (int64_t k = 0; k < pairs; ++k) {
      int64_t j = k + static_cast<int64_t>(below(state, pairs - k));
      std::swap(rowKeys[k], rowKeys[j]);
      std::swap(rowValues[k], rowValues[j]);
    }
    int64_t asked = 0;
    for (int64_t p = firstQuery; p + 2 <= length && asked < pairs; p += 3) {
      row[p] = query;
      row[p + 1] = rowKeys[asked];
      row[p + 2] = rowValues[asked];
      ++asked;
    }
    queries = asked;
    for (int64_t t : row) {
      bytes.push_back(static_cast<uint8_t>(t));
      bytes.push_back(static_cast<uint8_t>(t >> 8));
    }
  }
  std::string contents(bytes.begin(), bytes.end());
  if (Status s = st::writeFileAtomic(a.get("-o"), contents); !s)
    return fail(s.message());
  std::printf("wrote %lld rows of %lld u16 tokens to %s: %lld pairs in chunk "
              "0, %lld queries per row from position %lld (query token %lld; "
              "no-recall baseline ln(%lld) = %.4f nats)\n",
              static_cast<long long>(rows), static_cast<long long>(length + 1),
              a.get("-o").c_str(), static_cast<long long>(pairs),
              static_cast<long long>(queries),
              static_cast<long long>(firstQuery), static_cast<long long>(query),
              static_cast<long long>(values), std::log(double(values)));
  return 0;
}

} // namespace gecko::run
