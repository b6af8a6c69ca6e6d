//===- Manifest.cpp - manifest.json of a Gecko artifact -------------------===//
//
// Parses and cross-checks the manifest (docs/model/artifact.md) and decides
// whether this runtime and machine can run the artifact.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Model.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/utsname.h>

namespace gecko::rt {

const char *elemTypeName(ElemType type) {
  switch (type) {
  case ElemType::F32:
    return "f32";
  case ElemType::I64:
    return "i64";
  case ElemType::I1:
    return "i1";
  case ElemType::C64:
    return "c64";
  }
  return "?";
}

size_t elemTypeSize(ElemType type) {
  switch (type) {
  case ElemType::F32:
    return 4;
  case ElemType::I64:
    return 8;
  case ElemType::I1:
    return 1;
  case ElemType::C64:
    return 8;
  }
  return 0;
}

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string specText(const TensorSpec &spec) {
  return "'" + spec.name + "' " + shapeText(spec.shape) + " " +
         elemTypeName(spec.type);
}

/// Reads manifest fields, remembering the first error with its JSON path.
class Reader {
public:
  explicit Reader(std::string name) : name(std::move(name)) {}

  bool fail(const std::string &path, const std::string &what) {
    if (error.empty())
      error = name + ": " + (path.empty() ? "" : "'" + path + "' ") + what;
    return false;
  }

  const json::Value *member(const json::Value &obj, const std::string &path,
                            const char *key, json::Value::Kind kind) {
    const json::Value *v = obj.get(key);
    std::string full = path.empty() ? key : path + "." + key;
    if (!v) {
      fail(full, "is missing");
      return nullptr;
    }
    if (v->kind() != kind) {
      fail(full, std::string("must be a ") + json::Value::kindName(kind) +
                     ", found a " + json::Value::kindName(v->kind()));
      return nullptr;
    }
    return v;
  }

  bool str(const json::Value &obj, const std::string &path, const char *key,
           std::string *out) {
    const json::Value *v = member(obj, path, key, json::Value::Kind::String);
    if (!v)
      return false;
    *out = v->asString();
    return true;
  }

  bool integer(const json::Value &obj, const std::string &path, const char *key,
               int64_t min, int64_t *out) {
    const json::Value *v = member(obj, path, key, json::Value::Kind::Number);
    if (!v)
      return false;
    std::string full = path.empty() ? key : path + "." + key;
    std::optional<int64_t> i = v->asInt();
    if (!i)
      return fail(full, "must be an integer");
    if (*i < min)
      return fail(full, "must be >= " + std::to_string(min) + ", found " +
                            std::to_string(*i));
    *out = *i;
    return true;
  }

  bool tensor(const json::Value &v, const std::string &path, TensorSpec *out) {
    if (!v.isObject())
      return fail(path, "must be an object {name, shape, dtype}");
    std::string dtype;
    if (!str(v, path, "name", &out->name) || !str(v, path, "dtype", &dtype))
      return false;
    const json::Value *shape =
        member(v, path, "shape", json::Value::Kind::Array);
    if (!shape)
      return false;
    for (const json::Value &d : shape->items()) {
      std::optional<int64_t> dim = d.asInt();
      if (!dim || *dim < 0 || *dim > (int64_t(1) << 40))
        return fail(path + ".shape",
                    "entries must be non-negative integers (tensor '" +
                        out->name + "')");
      out->shape.push_back(*dim);
    }
    if (dtype == "f32")
      out->type = ElemType::F32;
    else if (dtype == "i64")
      out->type = ElemType::I64;
    else if (dtype == "i1")
      out->type = ElemType::I1;
    else if (dtype == "c64")
      out->type = ElemType::C64;
    else
      return fail(path + ".dtype", "'" + dtype + "' of tensor '" + out->name +
                                       "' is not one of f32, i64, i1, c64");
    return true;
  }

  bool tensors(const json::Value &obj, const std::string &path, const char *key,
               std::vector<TensorSpec> *out) {
    const json::Value *list = member(obj, path, key, json::Value::Kind::Array);
    if (!list)
      return false;
    std::string full = path.empty() ? key : path + "." + key;
    for (size_t i = 0; i < list->items().size(); ++i) {
      TensorSpec spec;
      if (!tensor(list->items()[i], full + "[" + std::to_string(i) + "]",
                  &spec))
        return false;
      out->push_back(std::move(spec));
    }
    return true;
  }

  std::string name;
  std::string error;
};

bool sameSpec(const TensorSpec &a, const TensorSpec &b) {
  return a.name == b.name && a.shape == b.shape && a.type == b.type;
}

/// `got` must equal `want` element by element.
bool checkList(Reader &r, const std::string &what,
               const std::vector<TensorSpec> &got,
               const std::vector<TensorSpec> &want) {
  if (got.size() != want.size())
    return r.fail("", what + " has " + std::to_string(got.size()) +
                          " entries, expected " + std::to_string(want.size()));
  for (size_t i = 0; i < got.size(); ++i)
    if (!sameSpec(got[i], want[i]))
      return r.fail("", what + " entry " + std::to_string(i) + " is " +
                            specText(got[i]) + ", expected " +
                            specText(want[i]));
  return true;
}

} // namespace

Status parseManifest(const std::string &text, const std::string &name,
                     Manifest *out) {
  std::string jsonError;
  std::optional<json::Value> root = json::parse(text, &jsonError);
  if (!root)
    return Status::error(name + ": invalid JSON: " + jsonError);
  Reader r(name);
  Manifest m;
  auto done = [&]() { return Status::error(r.error); };
  if (!root->isObject())
    return Status::error(name + ": the manifest must be a JSON object");
  std::string format;
  if (!r.str(*root, "", "format", &format))
    return done();
  if (format != "gecko-artifact")
    return Status::error(name + ": format is '" + format +
                         "', expected 'gecko-artifact'");
  if (!r.integer(*root, "", "version", 0, &m.version))
    return done();
  if (m.version != 1)
    return Status::error(name + ": artifact version " +
                         std::to_string(m.version) +
                         " is not supported (this runtime reads version 1)");
  if (!r.str(*root, "", "target", &m.target) ||
      !r.str(*root, "", "library", &m.library))
    return done();
  if (m.library.empty() || m.library.find('/') != std::string::npos ||
      m.library == "." || m.library == "..")
    return Status::error(name + ": library '" + m.library +
                         "' must be a file name inside the artifact");
  const json::Value *host =
      r.member(*root, "", "host", json::Value::Kind::Object);
  if (!host || !r.str(*host, "host", "triple", &m.triple) ||
      !r.str(*host, "host", "cpu", &m.cpu) ||
      !r.str(*host, "host", "features", &m.features))
    return done();
  const json::Value *config =
      r.member(*root, "", "config", json::Value::Kind::Object);
  if (!config || !r.integer(*config, "config", "vocab_size", 1, &m.vocabSize))
    return done();
  m.config = *config;
  m.bosId = 1;
  if (config->get("bos_id") &&
      !r.integer(*config, "config", "bos_id", 0, &m.bosId))
    return done();
  if (!r.integer(*root, "", "batch", 1, &m.batch) ||
      !r.integer(*root, "", "chunk_size", 1, &m.chunkSize))
    return done();
  const json::Value *multi =
      r.member(*root, "", "multi_document", json::Value::Kind::Bool);
  if (!multi)
    return done();
  m.multiDocument = multi->asBool();
  if (const json::Value *cc = config->get("chunk_size")) {
    std::optional<int64_t> c = cc->asInt();
    if (!c || *c != m.chunkSize)
      return Status::error(name + ": chunk_size " +
                           std::to_string(m.chunkSize) +
                           " differs from config.chunk_size");
  }
  if (!r.tensors(*root, "", "params", &m.params) ||
      !r.tensors(*root, "", "state", &m.state))
    return done();
  const json::Value *entries =
      r.member(*root, "", "entries", json::Value::Kind::Array);
  if (!entries)
    return done();
  bool haveFirst = false, haveChunk = false;
  for (size_t i = 0; i < entries->items().size(); ++i) {
    const json::Value &e = entries->items()[i];
    std::string path = "entries[" + std::to_string(i) + "]";
    EntrySpec spec;
    if (!e.isObject()) {
      r.fail(path, "must be an object");
      return done();
    }
    if (!r.str(e, path, "name", &spec.name) ||
        !r.str(e, path, "symbol", &spec.symbol) ||
        !r.integer(e, path, "length", 1, &spec.length) ||
        !r.integer(e, path, "start", 0, &spec.start) ||
        !r.tensors(e, path, "args", &spec.args) ||
        !r.tensors(e, path, "results", &spec.results))
      return done();
    if (spec.name == "first_chunk") {
      m.firstChunk = std::move(spec);
      haveFirst = true;
    } else if (spec.name == "chunk") {
      m.chunk = std::move(spec);
      haveChunk = true;
    } else if (spec.name == "decode") {
      m.decode = std::move(spec);
      m.hasDecode = true;
    } else { // other entries: for later runtimes
      m.otherEntries.push_back(std::move(spec));
    }
  }
  if (!haveFirst || !haveChunk)
    return Status::error(name + ": entries must include 'first_chunk' and "
                                "'chunk'");

  // Cross-checks, so that a bad manifest fails here and not in a call.
  int64_t b = m.batch, c = m.chunkSize, v = m.vocabSize;
  for (const TensorSpec &p : m.params)
    if (p.type != ElemType::F32)
      return Status::error(name + ": parameter " + specText(p) + " is not f32");
  if (m.state.empty() || m.state[0].name != "kv_count" ||
      !m.state[0].isScalar())
    return Status::error(name + ": state[0] must be the scalar i64 "
                                "'kv_count'");
  for (size_t i = 1; i < m.state.size(); ++i)
    if (m.state[i].isScalar())
      return Status::error(name + ": state entry " + specText(m.state[i]) +
                           " is a scalar; only kv_count may be one");
  TensorSpec tokens{"tokens", {b, c}, ElemType::I64};
  TensorSpec logits{"logits", {b, c, v}, ElemType::F32};
  std::vector<TensorSpec> firstArgs{tokens}, chunkArgs{tokens};
  firstArgs.insert(firstArgs.end(), m.params.begin(), m.params.end());
  chunkArgs.insert(chunkArgs.end(), m.params.begin(), m.params.end());
  chunkArgs.insert(chunkArgs.end(), m.state.begin(), m.state.end());
  std::vector<TensorSpec> results{logits};
  results.insert(results.end(), m.state.begin() + 1, m.state.end());
  for (const EntrySpec *e : {&m.firstChunk, &m.chunk}) {
    int64_t start = e == &m.firstChunk ? 0 : c;
    if (e->length != c || e->start != start)
      return Status::error(name + ": entry '" + e->name + "' has length " +
                           std::to_string(e->length) + " and start " +
                           std::to_string(e->start) + ", expected " +
                           std::to_string(c) + " and " + std::to_string(start));
    if (e->symbol.empty())
      return Status::error(name + ": entry '" + e->name +
                           "' has an empty symbol");
    if (!checkList(r, "entry '" + e->name + "' args", e->args,
                   e == &m.firstChunk ? firstArgs : chunkArgs) ||
        !checkList(r, "entry '" + e->name + "' results", e->results, results))
      return done();
  }
  // The optional decode entry: one token per row from the boundary state
  // and the partial-chunk state (decode_state), which it returns.
  if (m.hasDecode) {
    const EntrySpec &e = m.decode;
    if (!root->get("decode_state"))
      return Status::error(name + ": a 'decode' entry needs 'decode_state'");
    if (!r.tensors(*root, "", "decode_state", &m.decodeState))
      return done();
    if (c < 2 || e.length != 1)
      return Status::error(name + ": entry 'decode' has length " +
                           std::to_string(e.length) +
                           ", expected 1 (and chunk_size >= 2)");
    if (e.symbol.empty())
      return Status::error(name + ": entry 'decode' has an empty symbol");
    for (const TensorSpec &s : m.decodeState)
      if (s.isScalar())
        return Status::error(name + ": decode_state entry " + specText(s) +
                             " is a scalar");
    std::vector<TensorSpec> args{TensorSpec{"tokens", {b, 1}, ElemType::I64}};
    args.insert(args.end(), m.params.begin(), m.params.end());
    args.insert(args.end(), m.state.begin(), m.state.end());
    args.insert(args.end(), m.decodeState.begin(), m.decodeState.end());
    std::vector<TensorSpec> decodeResults{
        TensorSpec{"logits", {b, 1, v}, ElemType::F32}};
    decodeResults.insert(decodeResults.end(), m.decodeState.begin(),
                         m.decodeState.end());
    if (!checkList(r, "entry 'decode' args", e.args, args) ||
        !checkList(r, "entry 'decode' results", e.results, decodeResults))
      return done();
  }
  *out = std::move(m);
  return Status::success();
}

std::set<std::string> hostCpuFlags() {
  std::set<std::string> flags;
  auto add = [&](const std::string &line) {
    std::istringstream words(line);
    std::string w;
    while (words >> w)
      flags.insert(w);
  };
  if (const char *env = std::getenv("GECKO_RUNTIME_CPU_FLAGS")) {
    add(env);
    return flags;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.compare(0, 5, "flags") == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos)
        add(line.substr(colon + 1));
      break;
    }
  }
  return flags;
}

std::vector<std::string>
missingCpuFeatures(const std::string &features,
                   const std::set<std::string> &flags) {
  // LLVM x86 feature name -> /proc/cpuinfo flag.
  static const std::pair<const char *, const char *> kNames[] = {
      {"sse", "sse"},
      {"sse2", "sse2"},
      {"sse3", "pni"},
      {"ssse3", "ssse3"},
      {"sse4.1", "sse4_1"},
      {"sse4.2", "sse4_2"},
      {"sse4a", "sse4a"},
      {"avx", "avx"},
      {"avx2", "avx2"},
      {"fma", "fma"},
      {"fma4", "fma4"},
      {"xop", "xop"},
      {"f16c", "f16c"},
      {"bmi", "bmi1"},
      {"bmi2", "bmi2"},
      {"lzcnt", "abm"},
      {"popcnt", "popcnt"},
      {"movbe", "movbe"},
      {"aes", "aes"},
      {"pclmul", "pclmulqdq"},
      {"vpclmulqdq", "vpclmulqdq"},
      {"vaes", "vaes"},
      {"gfni", "gfni"},
      {"sha", "sha_ni"},
      {"adx", "adx"},
      {"rdrnd", "rdrand"},
      {"rdseed", "rdseed"},
      {"avx512f", "avx512f"},
      {"avx512bw", "avx512bw"},
      {"avx512dq", "avx512dq"},
      {"avx512vl", "avx512vl"},
      {"avx512cd", "avx512cd"},
      {"avx512ifma", "avx512ifma"},
      {"avx512vbmi", "avx512vbmi"},
      {"avx512vbmi2", "avx512_vbmi2"},
      {"avx512vnni", "avx512_vnni"},
      {"avx512bitalg", "avx512_bitalg"},
      {"avx512vpopcntdq", "avx512_vpopcntdq"},
      {"avx512bf16", "avx512_bf16"},
      {"avx512fp16", "avx512_fp16"},
      {"avxvnni", "avx_vnni"},
      {"amx-tile", "amx_tile"},
      {"amx-int8", "amx_int8"},
      {"amx-bf16", "amx_bf16"},
  };
  std::vector<std::string> missing;
  std::istringstream list(features);
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item.size() < 2 || item[0] != '+')
      continue;
    std::string feature = item.substr(1);
    for (const auto &[llvmName, flag] : kNames)
      if (feature == llvmName && !flags.count(flag))
        missing.push_back(feature);
  }
  return missing;
}

Status checkRunnable(const Manifest &m) {
  if (m.target != "cpu")
    return Status::error("artifact compiled for " + m.target +
                         "; this runtime build/machine runs cpu artifacts "
                         "only");
  std::string arch = m.triple.substr(0, m.triple.find('-'));
  struct utsname un;
  if (uname(&un) == 0) {
    std::string machine = un.machine;
    auto canon = [](std::string a) {
      if (a == "amd64")
        return std::string("x86_64");
      if (a == "arm64")
        return std::string("aarch64");
      return a;
    };
    if (canon(arch) != canon(machine))
      return Status::error("artifact compiled for " + m.triple +
                           "; this machine is " + machine);
  }
  if (arch == "x86_64" || arch == "amd64") {
    std::vector<std::string> missing =
        missingCpuFeatures(m.features, hostCpuFlags());
    if (!missing.empty()) {
      std::string list;
      for (const std::string &f : missing)
        list += (list.empty() ? "" : ", ") + f;
      return Status::error("artifact compiled for CPU " + m.cpu +
                           " uses CPU features this machine lacks: " + list +
                           " (recompile it on this machine or for a common "
                           "CPU)");
    }
  }
  return Status::success();
}

} // namespace gecko::rt
