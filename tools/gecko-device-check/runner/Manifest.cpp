//===- Manifest.cpp - The device check's manifest.json, validated ---------===//

#include "Manifest.h"
#include "Random.h"
#include "gecko/Runtime/Json.h"

#include <cmath>
#include <cstdio>

namespace gecko::devcheck {

namespace json = gecko::rt::json;

size_t kernelDtypeSize(const std::string &dtype) {
  if (dtype == "f32")
    return 4;
  if (dtype == "f16" || dtype == "bf16")
    return 2;
  if (dtype == "i64" || dtype == "c64")
    return 8;
  if (dtype == "i1")
    return 1;
  return 0;
}

std::vector<int64_t> storedShape(const std::string &dtype,
                                 const std::vector<int64_t> &shape) {
  std::vector<int64_t> s = shape;
  if (dtype == "c64")
    s.push_back(2);
  return s;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : "x") + std::to_string(d);
  return text.empty() ? "scalar" : text;
}

namespace {

/// The safetensors dtype a kernel dtype is stored as.
std::string storageDtype(const std::string &dtype) {
  if (dtype == "f16")
    return "F16";
  if (dtype == "bf16")
    return "BF16";
  if (dtype == "i64")
    return "I64";
  if (dtype == "i1")
    return "BOOL";
  return "F32";
}

bool readText(const std::string &path, std::string &out, std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = path + ": cannot open";
    return false;
  }
  char buffer[1 << 16];
  size_t n;
  out.clear();
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    out.append(buffer, n);
  std::fclose(f);
  return true;
}

struct Reader {
  std::string &error;
  std::string where;

  bool fail(const std::string &why) {
    error = where + why;
    return false;
  }
  bool string(const json::Value &object, const char *key, std::string &out,
              bool optional = false) {
    const json::Value *v = object.get(key);
    if (!v)
      return optional || fail(std::string("missing \"") + key + "\"");
    if (!v->isString())
      return fail(std::string("\"") + key + "\" is not a string");
    out = v->asString();
    return true;
  }
  bool number(const json::Value &object, const char *key, double &out) {
    const json::Value *v = object.get(key);
    if (!v || !v->isNumber())
      return fail(std::string("missing number \"") + key + "\"");
    out = v->asNumber();
    return true;
  }
  bool integer(const json::Value &object, const char *key, int64_t &out) {
    double d;
    if (!number(object, key, d))
      return false;
    if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
      return fail(std::string("\"") + key + "\" is not an integer");
    out = static_cast<int64_t>(d);
    return true;
  }
  bool shape(const json::Value &object, std::vector<int64_t> &out) {
    const json::Value *v = object.get("shape");
    if (!v || !v->isArray())
      return fail("missing \"shape\"");
    out.clear();
    for (const json::Value &d : v->items()) {
      if (!d.isNumber() || d.asNumber() < 0 ||
          d.asNumber() != std::floor(d.asNumber()) || d.asNumber() > 1e12)
        return fail("bad \"shape\"");
      out.push_back(static_cast<int64_t>(d.asNumber()));
    }
    return true;
  }
};

bool readCase(const json::Value &c, CaseSpec &spec, std::string &error) {
  Reader r{error, "manifest: case: "};
  if (!c.isObject())
    return r.fail("not an object");
  if (!r.string(c, "name", spec.name))
    return false;
  r.where = "manifest: case '" + spec.name + "': ";
  if (!r.string(c, "op", spec.op) || !r.string(c, "variant", spec.variant) ||
      !r.string(c, "origin", spec.origin) ||
      !r.string(c, "shape", spec.shape) ||
      !r.string(c, "library", spec.library) ||
      !r.string(c, "symbol", spec.symbol) ||
      !r.string(c, "case_file", spec.caseFile) ||
      !r.string(c, "args_file", spec.argsFile) ||
      !r.number(c, "tolerance", spec.tolerance))
    return false;
  if (!(spec.tolerance >= 0) || std::isinf(spec.tolerance))
    return r.fail("bad tolerance");
  if (spec.name.empty() || spec.name.find('/') != std::string::npos)
    return r.fail("bad name");
  if (const json::Value *m = c.get("metadata")) {
    if (!m->isObject())
      return r.fail("\"metadata\" is not an object");
    for (size_t i = 0; i < m->keys().size(); ++i)
      if (m->values()[i].isString())
        spec.metadata[m->keys()[i]] = m->values()[i].asString();
  }
  const json::Value *args = c.get("args");
  const json::Value *results = c.get("results");
  if (!args || !args->isArray() || !results || !results->isArray())
    return r.fail("missing \"args\" / \"results\"");
  for (size_t i = 0; i < args->items().size(); ++i) {
    const json::Value &a = args->items()[i];
    r.where = "manifest: case '" + spec.name + "': argument " +
              std::to_string(i) + ": ";
    ArgSpec arg;
    std::string kind;
    if (!a.isObject() || !r.string(a, "kind", kind))
      return r.fail("needs a \"kind\"");
    if (kind == "scalar") {
      arg.scalar = true;
      if (!r.integer(a, "value", arg.value))
        return false;
    } else if (kind == "tensor") {
      if (!r.string(a, "from", arg.from) || !r.string(a, "key", arg.key) ||
          !r.string(a, "dtype", arg.dtype) || !r.shape(a, arg.shape))
        return false;
      if (arg.from != "case" && arg.from != "args" && arg.from != "random")
        return r.fail("\"from\" must be case, args or random");
      if (!kernelDtypeSize(arg.dtype))
        return r.fail("unknown dtype '" + arg.dtype + "'");
    } else {
      return r.fail("unknown kind '" + kind + "'");
    }
    spec.args.push_back(std::move(arg));
  }
  for (size_t i = 0; i < results->items().size(); ++i) {
    const json::Value &v = results->items()[i];
    r.where = "manifest: case '" + spec.name + "': result " +
              std::to_string(i) + ": ";
    ResultSpec result;
    if (!v.isObject() || !r.string(v, "key", result.key) ||
        !r.string(v, "dtype", result.dtype) || !r.shape(v, result.shape))
      return false;
    if (!kernelDtypeSize(result.dtype))
      return r.fail("unknown dtype '" + result.dtype + "'");
    if (const json::Value *cmp = v.get("compare"))
      result.compare = cmp->isBool() ? cmp->asBool() : true;
    spec.results.push_back(std::move(result));
  }
  if (spec.results.empty())
    return r.fail("no results");
  if (const json::Value *randoms = c.get("random_inputs")) {
    if (!randoms->isArray())
      return r.fail("\"random_inputs\" is not an array");
    for (const json::Value &v : randoms->items()) {
      RandomSpec random;
      std::string seed;
      r.where = "manifest: case '" + spec.name + "': random input: ";
      if (!v.isObject() || !r.string(v, "key", random.key) ||
          !r.shape(v, random.shape) || !r.string(v, "seed", seed) ||
          !r.number(v, "lo", random.lo) || !r.number(v, "hi", random.hi))
        return false;
      char *end = nullptr;
      random.seed = std::strtoull(seed.c_str(), &end, 10);
      if (seed.empty() || *end)
        return r.fail("bad seed '" + seed + "'");
      if (!isExactRange(random.lo, random.hi))
        return r.fail("range [" + std::to_string(random.lo) + ", " +
                      std::to_string(random.hi) + ") is not reproducible");
      spec.randomInputs.push_back(std::move(random));
    }
  }
  if (const json::Value *kernels = c.get("kernels"))
    if (kernels->isArray())
      for (const json::Value &k : kernels->items())
        if (k.isString())
          spec.kernels.push_back(k.asString());
  return true;
}

std::string joinPath(const std::string &dir, const std::string &file) {
  if (file.empty() || file[0] == '/')
    return file;
  return dir + "/" + file;
}

} // namespace

bool readManifest(const std::string &dir, Manifest &out, std::string &error) {
  std::string path = dir + "/manifest.json", text, why;
  if (!readText(path, text, error))
    return false;
  std::optional<json::Value> parsed = json::parse(text, &why);
  if (!parsed) {
    error = path + ": not JSON: " + why;
    return false;
  }
  const json::Value &root = *parsed;
  Reader r{error, path + ": "};
  std::string format;
  if (!root.isObject() || !r.string(root, "format", format) ||
      format != "gecko-device-check")
    return r.fail("not a gecko-device-check manifest");
  r.string(root, "chip", out.chip, true);
  r.string(root, "features", out.features, true);
  r.string(root, "binary_format", out.binaryFormat, true);
  const json::Value *cases = root.get("cases");
  if (!cases || !cases->isArray() || cases->items().empty())
    return r.fail("no cases");
  std::map<std::string, int> seen;
  for (const json::Value &c : cases->items()) {
    CaseSpec spec;
    if (!readCase(c, spec, error))
      return false;
    if (seen[spec.name]++)
      return r.fail("case '" + spec.name + "' appears twice");
    out.cases.push_back(std::move(spec));
  }
  return true;
}

bool loadCase(const std::string &dir, const CaseSpec &spec, LoadedCase &out,
              std::string &error) {
  std::string where = "case '" + spec.name + "': ";
  if (!readTensorFile(joinPath(dir, spec.caseFile), out.caseFile, error))
    return false;
  TensorFile argsFile;
  if (!spec.argsFile.empty() &&
      !readTensorFile(joinPath(dir, spec.argsFile), argsFile, error))
    return false;
  for (const RandomSpec &r : spec.randomInputs) {
    StoredTensor t;
    t.dtype = "F32";
    t.shape = r.shape;
    t.bytes.resize(static_cast<size_t>(t.numel()) * 4);
    float *values = reinterpret_cast<float *>(t.bytes.data());
    for (int64_t i = 0; i < t.numel(); ++i)
      values[i] = randomValue(r.seed, static_cast<uint64_t>(i), r.lo, r.hi);
    out.randomInputs.tensors[r.key] = std::move(t);
  }
  out.randomInputs.metadata = spec.metadata;
  out.argBytes.assign(spec.args.size(), {});
  for (size_t i = 0; i < spec.args.size(); ++i) {
    const ArgSpec &arg = spec.args[i];
    if (arg.scalar)
      continue;
    const TensorFile &source = arg.from == "case"   ? out.caseFile
                               : arg.from == "args" ? argsFile
                                                    : out.randomInputs;
    auto it = source.tensors.find(arg.key);
    std::string what = where + "argument " + std::to_string(i) + " ('" +
                       arg.key + "' from " + arg.from + ")";
    if (it == source.tensors.end()) {
      error = what + ": no such tensor";
      return false;
    }
    std::vector<int64_t> shape = storedShape(arg.dtype, arg.shape);
    if (it->second.shape != shape ||
        it->second.dtype != storageDtype(arg.dtype)) {
      error = what + ": stored as " + it->second.dtype + " " +
              shapeText(it->second.shape) + ", the kernel takes " +
              storageDtype(arg.dtype) + " " + shapeText(shape);
      return false;
    }
    out.argBytes[i] = it->second.bytes;
  }
  for (const ResultSpec &result : spec.results) {
    if (!result.compare)
      continue;
    auto it = out.caseFile.tensors.find(result.key);
    if (it == out.caseFile.tensors.end()) {
      error = where + "no expected value for result '" + result.key + "'";
      return false;
    }
    if (it->second.shape != storedShape(result.dtype, result.shape)) {
      error = where + "expected '" + result.key + "' is " +
              shapeText(it->second.shape) + ", the kernel returns " +
              shapeText(storedShape(result.dtype, result.shape));
      return false;
    }
  }
  return true;
}

} // namespace gecko::devcheck
