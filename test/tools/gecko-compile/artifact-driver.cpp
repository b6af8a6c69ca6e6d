//===- artifact-driver.cpp - Stream a gecko-compile artifact --------------===//
//
// Test driver for test/tools/gecko-compile: reads an artifact's
// manifest.json, dlopens its model.so and streams random tokens through the
// packed entries as the runtime does (docs/model/artifact.md): the first
// chunk through "first_chunk", the next full chunks through "chunk" with
// kv_count = tokens so far and the state results fed back by position, and a
// last partial chunk padded with id 0 to chunk_size. Every logit of every
// call (the first r of the padded one) is compared with the reference
// library's streaming modelForward (3C tokens, then the r-token call) in
// double (random parameters, seed 1): |a-b| / max(1, |b|) <= 1e-4.
// Multi-document artifacts get bos_id at a few positions. Links the reference
// library and LLVMSupport (for JSON); the model library itself is only
// dlopen'ed.
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

/// Calls a packed entry; returns the result buffers (`aligned + offset`
/// contiguous checked) and the `allocated` pointers to free.
struct CallResult {
  std::vector<void *> data, allocated;
};

CallResult call(void (*fn)(void **), const Entry &entry,
                const std::vector<void *> &argData, int64_t kvCount) {
  std::vector<std::vector<int64_t>> descs;
  std::vector<void *> descPtrs(entry.args.size());
  descs.reserve(entry.args.size());
  std::vector<void *> args(1 + entry.args.size());
  for (size_t i = 0; i < entry.args.size(); ++i) {
    if (entry.args[i].scalar()) {
      args[1 + i] = &kvCount;
      continue;
    }
    descs.push_back(descriptor(argData[i], entry.args[i].shape));
    descPtrs[i] = descs.back().data();
    args[1 + i] = &descPtrs[i];
  }
  size_t words = 0;
  for (const TensorInfo &r : entry.results)
    words += 3 + 2 * r.shape.size();
  std::vector<int64_t> storage(words, 0);
  args[0] = storage.data();
  fn(args.data());
  CallResult out;
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
    out.allocated.push_back(reinterpret_cast<void *>(d[0]));
    out.data.push_back(reinterpret_cast<char *>(d[1]) +
                       d[2] * r.elementBytes());
    at += 3 + 2 * rank;
  }
  return out;
}

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
  Entry first, chunk;
  for (const json::Value &e : *m.getArray("entries")) {
    const json::Object &o = *e.getAsObject();
    Entry &entry =
        o.getString("name") == std::optional<llvm::StringRef>("first_chunk")
            ? first
            : chunk;
    entry.symbol = o.getString("symbol")->str();
    entry.start = *o.getInteger("start");
    entry.args = readList(o.getArray("args"));
    entry.results = readList(o.getArray("results"));
  }
  if (first.args.size() != 1 + params.size() ||
      chunk.args.size() != 1 + params.size() + state.size() ||
      first.results.size() != state.size() ||
      chunk.results.size() != state.size())
    die("manifest: entry signatures do not match params/state");

  std::string library = dir + "/" + m.getString("library")->str();
  void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    die(std::string("dlopen: ") + dlerror());
  using Packed = void (*)(void **);
  auto firstFn = reinterpret_cast<Packed>(dlsym(handle, first.symbol.c_str()));
  auto chunkFn = reinterpret_cast<Packed>(dlsym(handle, chunk.symbol.c_str()));
  if (!firstFn || !chunkFn)
    die(std::string("dlsym: ") + dlerror());

  // Random parameters (the reference's, in double) as f32 buffers.
  ref::ParamMap ref = ref::randomParams(ref::modelParamShapes(config), 1);
  std::vector<std::vector<float>> paramData;
  for (const TensorInfo &p : params) {
    auto it = ref.find(p.name);
    if (it == ref.end() || it->second.shape != p.shape)
      die("manifest param " + p.name + " is not a reference parameter");
    paramData.emplace_back(it->second.data.begin(), it->second.data.end());
  }

  // Tokens: three full chunks and a partial one.
  const int64_t r = std::max<int64_t>(1, C / 2 + 1 < C ? C / 2 + 1 : C - 1);
  const int64_t N = 3 * C + r;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int64_t> id(0, V - 1);
  std::vector<int64_t> tokens(B * N);
  for (int64_t &t : tokens)
    t = id(rng);
  if (multi)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t pos : {int64_t(0), C / 2, C + 1, 2 * C + C / 2})
        tokens[b * N + pos] = config.bos_id;
  // The reference streams 3C tokens, then the r-token call of spec §9 (no
  // padding), so that the padded compiled call is checked against exact
  // logits.
  ref::ModelCache cache = ref::emptyModelCache(config);
  std::vector<double> expected(B * N * V);
  for (auto [begin, count] :
       {std::pair<int64_t, int64_t>{0, 3 * C}, {3 * C, r}}) {
    ref::Tensor part({B, count});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < count; ++l)
        part.at(b, l) = double(tokens[b * N + begin + l]);
    ref::Checked<ref::Tensor> logits =
        ref::modelForward(ref, config, part, multi, &cache);
    if (!logits)
      die("reference: " + logits.error);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < count; ++l)
        for (int64_t v = 0; v < V; ++v)
          expected[(b * N + begin + l) * V + v] = logits->at(b, l, v);
  }

  std::vector<void *> stateData(state.size(), nullptr);
  std::set<void *> owned; // library buffers we hold
  bool ok = true;
  for (int64_t start = 0; start < N; start += C) {
    int64_t real = std::min(C, N - start);
    std::vector<int64_t> callTokens(B * C, 0); // padded with id 0
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < real; ++l)
        callTokens[b * C + l] = tokens[b * N + start + l];
    const Entry &entry = start == 0 ? first : chunk;
    std::vector<void *> argData = {callTokens.data()};
    for (auto &p : paramData)
      argData.push_back(p.data());
    if (start > 0) {
      argData.push_back(nullptr); // kv_count
      for (size_t i = 1; i < state.size(); ++i)
        argData.push_back(stateData[i]);
    }
    CallResult result =
        call(start == 0 ? firstFn : chunkFn, entry, argData, start);
    // Logits of the real tokens against the reference.
    const float *logits = static_cast<const float *>(result.data[0]);
    double worst = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < real; ++l)
        for (int64_t v = 0; v < V; ++v) {
          double got = logits[(b * C + l) * V + v];
          double want = expected[(b * N + start + l) * V + v];
          double err = std::fabs(got - want) / std::max(1.0, std::fabs(want));
          if (!(err <= worst))
            worst = err;
        }
    bool pass = worst <= 1e-4;
    ok = ok && pass;
    std::printf("%s start %lld, %lld of %lld tokens: max rel error %.3g %s\n",
                entry.symbol.c_str(), (long long)start, (long long)real,
                (long long)C, worst, pass ? "ok" : "FAIL");
    // Library buffers not aliasing ours are owned by us now.
    std::set<void *> fresh;
    for (void *p : result.allocated)
      if (std::find(argData.begin(), argData.end(), p) == argData.end() &&
          p != callTokens.data())
        fresh.insert(p);
    if (real == C) {
      // Full chunk: the state results replace the state.
      std::set<void *> keep(result.allocated.begin() + 1,
                            result.allocated.end());
      for (void *p : owned)
        if (!keep.count(p))
          std::free(p);
      owned.clear();
      for (void *p : fresh)
        if (keep.count(p))
          owned.insert(p);
      if (!keep.count(result.allocated[0]) && fresh.count(result.allocated[0]))
        std::free(result.allocated[0]);
      for (size_t i = 1; i < state.size(); ++i)
        stateData[i] = result.data[i];
    } else {
      // Padded partial chunk: its state is discarded.
      for (void *p : fresh)
        if (!owned.count(p))
          std::free(p);
    }
  }
  for (void *p : owned)
    std::free(p);
  dlclose(handle);
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
