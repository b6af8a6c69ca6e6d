//===- artifact-driver.cpp - Stream a gecko-compile artifact --------------===//
//
// Test driver for test/tools/gecko-compile: reads an artifact's
// manifest.json, dlopens its model.so and streams random tokens through the
// packed entries as the runtime does (docs/model/artifact.md):
//  1. chunks: the first chunk through "first_chunk", the next full chunks
//     through "chunk" with kv_count = tokens so far and the state results fed
//     back by position, and a last partial chunk padded with id 0 to
//     chunk_size (3 full chunks + r tokens);
//  2. decode (when the artifact has a "decode" entry): 4 chunks token by
//     token, every token at residue r < C-1 through "decode" (boundary state
//     zero before the first full chunk, partial state fed back; the partial
//     buffers are never cleared, so stale slots must be masked), every
//     (C-1)-th through "first_chunk"/"chunk" over the chunk's C tokens.
// Every logit of every call is compared with the reference library's
// modelForward over the 4C tokens in one call (double, random parameters,
// seed 1): |a-b| / max(1, |b|) <= 1e-4 for the chunk calls and 1e-5 for the
// decode calls. Every argument buffer is checksummed before and after each
// call: the library must never write into its arguments. Multi-document
// artifacts get bos_id at a few positions, also inside partial chunks. Links
// the reference library and LLVMSupport (for JSON); the model library itself
// is only dlopen'ed.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/Model.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace json = llvm::json;
using namespace gecko;

namespace {

struct TensorInfo {
  std::string name, dtype;
  std::vector<int64_t> shape;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape)
      n *= s;
    return n;
  }
  size_t elementBytes() const {
    return dtype == "f32" ? 4 : dtype == "i1" ? 1 : 8; // i64, c64
  }
  bool scalar() const { return shape.empty() && dtype == "i64"; }
};

struct Entry {
  std::string symbol;
  int64_t start = 0;
  std::vector<TensorInfo> args, results;
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "artifact-driver: %s\n", message.c_str());
  std::exit(2);
}

std::vector<TensorInfo> readList(const json::Array *list) {
  if (!list)
    die("manifest: missing tensor list");
  std::vector<TensorInfo> out;
  for (const json::Value &v : *list) {
    const json::Object *o = v.getAsObject();
    TensorInfo t;
    t.name = o->getString("name")->str();
    t.dtype = o->getString("dtype")->str();
    for (const json::Value &s : *o->getArray("shape"))
      t.shape.push_back(*s.getAsInteger());
    out.push_back(t);
  }
  return out;
}

/// A memref descriptor {allocated, aligned, offset, sizes[R], strides[R]}
/// (all 8 bytes) over `data`.
std::vector<int64_t> descriptor(void *data, const std::vector<int64_t> &shape) {
  size_t rank = shape.size();
  std::vector<int64_t> d(3 + 2 * rank);
  d[0] = d[1] = reinterpret_cast<int64_t>(data);
  d[2] = 0;
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    d[3 + i] = shape[i];
    d[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return d;
}

uint64_t checksum(const void *data, size_t bytes) {
  const auto *p = static_cast<const unsigned char *>(data);
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (size_t i = 0; i < bytes; ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

using Bytes = std::vector<unsigned char>;

/// Calls a packed entry on `argData` (nullptr for the scalar kv_count) and
/// returns a copy of every result; frees every buffer the library returned
/// (those that are not one of the arguments). Fails the run when an argument
/// buffer changed.
std::vector<Bytes> call(void (*fn)(void **), const Entry &entry,
                        const std::vector<const void *> &argData,
                        int64_t kvCount, bool *ok) {
  std::vector<std::vector<int64_t>> descs(entry.args.size());
  std::vector<void *> descPtrs(entry.args.size());
  std::vector<void *> args(1 + entry.args.size());
  std::vector<uint64_t> before(entry.args.size(), 0);
  for (size_t i = 0; i < entry.args.size(); ++i) {
    const TensorInfo &a = entry.args[i];
    if (a.scalar()) {
      args[1 + i] = &kvCount;
      continue;
    }
    descs[i] = descriptor(const_cast<void *>(argData[i]), a.shape);
    descPtrs[i] = descs[i].data();
    args[1 + i] = &descPtrs[i];
    before[i] = checksum(argData[i], a.numel() * a.elementBytes());
  }
  size_t words = 0;
  for (const TensorInfo &r : entry.results)
    words += 3 + 2 * r.shape.size();
  std::vector<int64_t> storage(words, 0);
  args[0] = storage.data();
  fn(args.data());
  for (size_t i = 0; i < entry.args.size(); ++i)
    if (!entry.args[i].scalar() &&
        checksum(argData[i], entry.args[i].numel() *
                                 entry.args[i].elementBytes()) != before[i]) {
      std::printf("%s (kv_count %lld) wrote into its argument '%s' FAIL\n",
                  entry.symbol.c_str(), (long long)kvCount,
                  entry.args[i].name.c_str());
      *ok = false;
    }
  std::vector<Bytes> out;
  std::set<void *> toFree;
  size_t at = 0;
  for (const TensorInfo &r : entry.results) {
    size_t rank = r.shape.size();
    int64_t *d = storage.data() + at;
    for (size_t i = 0; i < rank; ++i)
      if (d[3 + i] != r.shape[i])
        die(r.name + ": result size mismatch");
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      if (r.shape[i] > 1 && d[3 + rank + i] != stride)
        die(r.name + ": result is not contiguous");
      stride *= r.shape[i];
    }
    const auto *data =
        reinterpret_cast<const unsigned char *>(d[1]) + d[2] * r.elementBytes();
    out.emplace_back(data, data + r.numel() * r.elementBytes());
    void *allocated = reinterpret_cast<void *>(d[0]);
    if (std::find(argData.begin(), argData.end(), allocated) == argData.end())
      toFree.insert(allocated);
    at += 3 + 2 * rank;
  }
  for (void *p : toFree)
    std::free(p);
  return out;
}

Bytes zeros(const TensorInfo &t) { return Bytes(t.numel() * t.elementBytes()); }

} // namespace

int main(int argc, char **argv) {
  if (argc != 2)
    die("usage: artifact-driver <artifact dir>");
  std::string dir = argv[1];
  auto buffer = llvm::MemoryBuffer::getFile(dir + "/manifest.json");
  if (!buffer)
    die("cannot read " + dir + "/manifest.json");
  llvm::Expected<json::Value> parsed = json::parse((*buffer)->getBuffer());
  if (!parsed)
    die("manifest: " + llvm::toString(parsed.takeError()));
  const json::Object &m = *parsed->getAsObject();
  const json::Object &c = *m.getObject("config");
  ref::GeckoConfig config;
  auto integer = [&](const char *key) { return *c.getInteger(key); };
  config.num_layers = integer("num_layers");
  config.model_dim = integer("model_dim");
  config.z_dim = integer("z_dim");
  config.value_dim = integer("value_dim");
  config.num_heads = integer("num_heads");
  config.ffn_hidden_dim = integer("ffn_hidden_dim");
  config.cema_ndim = integer("cema_ndim");
  config.chunk_size = integer("chunk_size");
  config.vocab_size = integer("vocab_size");
  config.timenorm_num_groups = integer("timenorm_num_groups");
  config.layernorm_num_groups = integer("layernorm_num_groups");
  config.bos_id = integer("bos_id");
  config.timenorm_beta1 = *c.getNumber("timenorm_beta1");
  config.timenorm_beta2 = *c.getNumber("timenorm_beta2");
  config.norm_eps = *c.getNumber("norm_eps");
  config.rope_base = *c.getNumber("rope_base");
  if (std::optional<int64_t> n = c.getInteger("num_rope_heads"))
    config.num_rope_heads = *n;
  const int64_t B = *m.getInteger("batch");
  const int64_t C = *m.getInteger("chunk_size");
  const int64_t V = config.vocab_size;
  const bool multi = *m.getBoolean("multi_document");

  std::vector<TensorInfo> params = readList(m.getArray("params"));
  std::vector<TensorInfo> state = readList(m.getArray("state"));
  Entry first, chunk, decode;
  bool hasDecode = false;
  for (const json::Value &e : *m.getArray("entries")) {
    const json::Object &o = *e.getAsObject();
    llvm::StringRef name = *o.getString("name");
    Entry *entry = name == "first_chunk" ? &first
                   : name == "chunk"     ? &chunk
                   : name == "decode"    ? &decode
                                         : nullptr;
    if (!entry)
      continue; // e.g. the training entries
    hasDecode |= entry == &decode;
    entry->symbol = o.getString("symbol")->str();
    entry->start = *o.getInteger("start");
    entry->args = readList(o.getArray("args"));
    entry->results = readList(o.getArray("results"));
  }
  if (first.args.size() != 1 + params.size() ||
      chunk.args.size() != 1 + params.size() + state.size() ||
      first.results.size() != state.size() ||
      chunk.results.size() != state.size())
    die("manifest: entry signatures do not match params/state");
  std::vector<TensorInfo> partial;
  if (hasDecode) {
    partial = readList(m.getArray("decode_state"));
    if (decode.args.size() !=
            1 + params.size() + state.size() + partial.size() ||
        decode.results.size() != 1 + partial.size())
      die("manifest: the decode signature does not match decode_state");
  }

  std::string library = dir + "/" + m.getString("library")->str();
  void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    die(std::string("dlopen: ") + dlerror());
  using Packed = void (*)(void **);
  auto symbol = [&](const Entry &e) {
    auto fn = reinterpret_cast<Packed>(dlsym(handle, e.symbol.c_str()));
    if (!fn)
      die(std::string("dlsym: ") + dlerror());
    return fn;
  };
  Packed firstFn = symbol(first), chunkFn = symbol(chunk);
  Packed decodeFn = hasDecode ? symbol(decode) : nullptr;

  // Random parameters (the reference's, in double) as f32 buffers.
  ref::ParamMap ref = ref::randomParams(ref::modelParamShapes(config), 1);
  std::vector<std::vector<float>> paramData;
  for (const TensorInfo &p : params) {
    auto it = ref.find(p.name);
    if (it == ref.end() || it->second.shape != p.shape)
      die("manifest param " + p.name + " is not a reference parameter");
    paramData.emplace_back(it->second.data.begin(), it->second.data.end());
  }

  // Tokens: four chunks; the reference runs them in one call.
  const int64_t N = 4 * C;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int64_t> id(0, V - 1);
  std::vector<int64_t> tokens(B * N);
  for (int64_t &t : tokens)
    t = id(rng);
  if (multi)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t pos :
           {int64_t(0), C / 2, C + 1, 2 * C + C / 2, 3 * C + 1, 3 * C + 2})
        tokens[b * N + std::min(pos, N - 1)] = config.bos_id;
  std::vector<double> expected(B * N * V);
  {
    ref::ModelCache cache = ref::emptyModelCache(config);
    ref::Tensor all({B, N});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < N; ++l)
        all.at(b, l) = double(tokens[b * N + l]);
    ref::Checked<ref::Tensor> logits =
        ref::modelForward(ref, config, all, multi, &cache);
    if (!logits)
      die("reference: " + logits.error);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < N; ++l)
        for (int64_t v = 0; v < V; ++v)
          expected[(b * N + l) * V + v] = logits->at(b, l, v);
  }
  // Worst relative error of positions [from, from + count) of a call whose
  // logits are (B, rows, V), row `row0` holding position `from`.
  auto compare = [&](const Bytes &logitBytes, int64_t rows, int64_t row0,
                     int64_t from, int64_t count) {
    const float *logits = reinterpret_cast<const float *>(logitBytes.data());
    double worst = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < count; ++l)
        for (int64_t v = 0; v < V; ++v) {
          double got = logits[(b * rows + row0 + l) * V + v];
          double want = expected[(b * N + from + l) * V + v];
          double err = std::fabs(got - want) / std::max(1.0, std::fabs(want));
          if (!(err <= worst))
            worst = err;
        }
    return worst;
  };
  // Arguments of a chunk call over tokens [start, start + C) (padded with id
  // 0 past `real`) from `boundary` (state[1..]).
  auto chunkTokens = [&](int64_t start, int64_t real) {
    std::vector<int64_t> out(B * C, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < real; ++l)
        out[b * C + l] = tokens[b * N + start + l];
    return out;
  };
  auto chunkArgs = [&](const std::vector<int64_t> &callTokens, int64_t start,
                       const std::vector<Bytes> &boundary) {
    std::vector<const void *> args = {callTokens.data()};
    for (auto &p : paramData)
      args.push_back(p.data());
    if (start > 0) {
      args.push_back(nullptr); // kv_count
      for (const Bytes &s : boundary)
        args.push_back(s.data());
    }
    return args;
  };
  bool ok = true;

  // 1. Chunks: 3 full chunks and a padded partial one.
  const int64_t r = std::max<int64_t>(1, C / 2 + 1 < C ? C / 2 + 1 : C - 1);
  std::vector<Bytes> boundary; // state[1..]
  for (int64_t start = 0; start < 3 * C + r; start += C) {
    int64_t real = std::min(C, 3 * C + r - start);
    std::vector<int64_t> callTokens = chunkTokens(start, real);
    const Entry &entry = start == 0 ? first : chunk;
    std::vector<Bytes> results =
        call(start == 0 ? firstFn : chunkFn, entry,
             chunkArgs(callTokens, start, boundary), start, &ok);
    double worst = compare(results[0], C, 0, start, real);
    bool pass = worst <= 1e-4;
    ok = ok && pass;
    std::printf("%s start %lld, %lld of %lld tokens: max rel error %.3g %s\n",
                entry.symbol.c_str(), (long long)start, (long long)real,
                (long long)C, worst, pass ? "ok" : "FAIL");
    if (real == C) // a padded call's state is discarded
      boundary.assign(results.begin() + 1, results.end());
  }

  // 2. Decode: token by token over the 4 chunks.
  if (hasDecode) {
    boundary.clear();
    for (size_t i = 1; i < state.size(); ++i)
      boundary.push_back(zeros(state[i]));
    std::vector<Bytes> partialState;
    for (const TensorInfo &t : partial)
      partialState.push_back(zeros(t));
    for (int64_t k = 0; k < N / C; ++k) {
      double worstDecode = 0, worstChunk = 0;
      for (int64_t rr = 0; rr < C; ++rr) {
        int64_t pos = k * C + rr;
        if (rr == C - 1) {
          // The chunk is complete: the chunk call advances the boundary.
          std::vector<int64_t> callTokens = chunkTokens(k * C, C);
          std::vector<Bytes> results =
              call(k == 0 ? firstFn : chunkFn, k == 0 ? first : chunk,
                   chunkArgs(callTokens, k * C, boundary), k * C, &ok);
          worstChunk = compare(results[0], C, C - 1, pos, 1);
          boundary.assign(results.begin() + 1, results.end());
          continue;
        }
        std::vector<int64_t> callTokens(B);
        for (int64_t b = 0; b < B; ++b)
          callTokens[b] = tokens[b * N + pos];
        std::vector<const void *> args = {callTokens.data()};
        for (auto &p : paramData)
          args.push_back(p.data());
        args.push_back(nullptr); // kv_count
        for (const Bytes &s : boundary)
          args.push_back(s.data());
        for (const Bytes &s : partialState)
          args.push_back(s.data());
        std::vector<Bytes> results = call(decodeFn, decode, args, pos, &ok);
        worstDecode = std::max(worstDecode, compare(results[0], 1, 0, pos, 1));
        partialState.assign(results.begin() + 1, results.end());
      }
      bool pass = worstDecode <= 1e-5 && worstChunk <= 1e-4;
      ok = ok && pass;
      std::printf("decode chunk %lld: r = 0..%lld max rel error %.3g, chunk "
                  "call at r = %lld %.3g %s\n",
                  (long long)k, (long long)(C - 2), worstDecode,
                  (long long)(C - 1), worstChunk, pass ? "ok" : "FAIL");
    }
  }
  dlclose(handle);
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
