//===- CpuKernelsBlockModel.cpp - Block and model cases, compiled ---------===//
//
// The "block" and "model" golden cases through the compiled path: each call
// is one function of the model builder (gecko/Model/ModelBuilder.h) run by
// exec::runKernel, fed by name from the golden tensors (or, for the model
// stream, from the state the previous compiled call returned):
// - block__train*: out.y of one call on a fresh stream (bos / segment ids
//   when the file has them);
// - block__stream_segments: every call's out.y and cache_out.*, each call
//   continuing from the STORED cache_out of the previous call (as the
//   reference backend does), then full.out.y in one call;
// - model__train*: out.logits; model__stream*: the logits of every call of
//   the schedule concatenated, and the final cache.*.
// Training calls also record every gradient (grad.x / grad.<param>): the
// kernel wraps the builder's forward body in a detached function, emits its
// backward with gecko-autodiff (mlir::gecko::emitBackward: recomputed
// forward + reverse sweep of the `_grad` ops) fed with gout.*, and returns
// the forward results followed by the gradient of every f32 argument, all
// in one compiled kernel.
//
//===----------------------------------------------------------------------===//

#include "CpuKernels.h"

#include "gecko/Autodiff/Autodiff.h"
#include "gecko/Model/ModelBuilder.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <map>

using namespace llvm;
using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

namespace {

using TensorMap = std::map<std::string, Tensor>;

Tensor scalarTensor(double value) {
  return Tensor(std::vector<int64_t>{}, std::vector<double>{value});
}

/// The forward body of one call wrapped in a detached function (for
/// emitBackward), or an error.
Expected<mlir::func::FuncOp> detachedForward(mlir::OpBuilder &b,
                                             mlir::Location loc,
                                             const ref::GeckoConfig &config,
                                             const model::CallSpec &spec,
                                             bool isModel, mlir::TypeRange in) {
  auto forward = mlir::func::FuncOp::create(loc, "train_forward",
                                            b.getFunctionType(in, {}));
  mlir::Block *entry = forward.addEntryBlock();
  mlir::OpBuilder fb = mlir::OpBuilder::atBlockBegin(entry);
  auto results =
      isModel
          ? model::buildModelBody(fb, loc, config, spec, entry->getArguments())
          : model::buildBlockBody(fb, loc, config, spec, entry->getArguments());
  if (!results) {
    forward.erase();
    return results.takeError();
  }
  mlir::func::ReturnOp::create(fb, loc, *results);
  forward.setFunctionType(
      b.getFunctionType(in, mlir::ValueRange(*results).getTypes()));
  return forward;
}

/// Runs one builder call: arguments are looked up by signature name in
/// `inputs` (kv_count from `start`); returns the results by name. With
/// `cotangents` (one per result, by result name), also returns
/// "grad.<name>" for every f32 argument, from gecko-autodiff's backward.
Expected<TensorMap> runCall(const ref::GeckoConfig &config,
                            const model::CallSpec &spec, bool isModel,
                            const TensorMap &inputs,
                            const TensorMap *cotangents = nullptr) {
  Expected<model::Signature> sig = isModel
                                       ? model::modelSignature(config, spec)
                                       : model::blockSignature(config, spec);
  if (!sig)
    return sig.takeError();
  std::vector<KernelInput> args;
  for (const model::ArgInfo &a : sig->args) {
    if (a.kind == model::ArgKind::ScalarI64) {
      args.push_back(KernelInput::scalar(spec.start));
      continue;
    }
    auto it = inputs.find(a.name);
    if (it == inputs.end())
      return kernelError("no tensor for argument '" + a.name + "'");
    std::vector<int64_t> shape = a.shape;
    ElementKind kind = ElementKind::F32;
    switch (a.kind) {
    case model::ArgKind::I64:
      kind = ElementKind::I64;
      break;
    case model::ArgKind::I1:
      kind = ElementKind::I1;
      break;
    case model::ArgKind::ComplexF32:
      kind = ElementKind::ComplexF32;
      shape.push_back(2);
      break;
    default:
      break;
    }
    if (it->second.shape != shape)
      return kernelError("argument '" + a.name + "' has shape " +
                         it->second.shapeString() + ", expected " +
                         Tensor(shape).shapeString());
    args.push_back(KernelInput::tensor(it->second, kind));
  }
  std::vector<std::string> gradNames;
  SmallVector<unsigned> wrt;
  if (cotangents) {
    for (auto [i, a] : llvm::enumerate(sig->args))
      if (a.kind == model::ArgKind::F32) {
        wrt.push_back(i);
        gradNames.push_back("grad." + a.name);
      }
    for (const model::ArgInfo &res : sig->results) {
      auto it = cotangents->find(res.name);
      if (it == cotangents->end())
        return kernelError("no upstream gradient for result '" + res.name +
                           "'");
      args.push_back(KernelInput::tensor(it->second));
    }
  }
  size_t numArgs = sig->args.size();
  std::string bodyError;
  exec::KernelBody body = [&](mlir::OpBuilder &b, mlir::Location loc,
                              mlir::ValueRange values) {
    if (cotangents) {
      mlir::ValueRange fwdArgs = values.take_front(numArgs);
      auto forward =
          detachedForward(b, loc, config, spec, isModel, fwdArgs.getTypes());
      if (!forward) {
        bodyError = toString(forward.takeError());
        return SmallVector<mlir::Value>{};
      }
      SmallVector<mlir::Value> results;
      SmallVector<mlir::Value> cots(values.drop_front(numArgs));
      mlir::FailureOr<SmallVector<mlir::Value>> grads =
          mlir::gecko::emitBackward(b, loc, *forward, fwdArgs, cots, wrt,
                                    &results);
      forward->erase();
      if (failed(grads)) {
        bodyError = "gecko-autodiff could not differentiate the forward";
        return SmallVector<mlir::Value>{};
      }
      llvm::append_range(results, *grads);
      return results;
    }
    auto results = isModel
                       ? model::buildModelBody(b, loc, config, spec, values)
                       : model::buildBlockBody(b, loc, config, spec, values);
    if (!results) {
      bodyError = toString(results.takeError());
      return SmallVector<mlir::Value>{};
    }
    return *results;
  };
  auto values = exec::runKernel(args, body);
  if (!bodyError.empty())
    return kernelError(bodyError);
  if (!values)
    return values.takeError();
  size_t numResults = sig->results.size();
  if (values->size() != numResults + gradNames.size())
    return kernelError("the kernel returned " + Twine(values->size()) +
                       " values for " + Twine(numResults) + " results and " +
                       Twine(gradNames.size()) + " gradients");
  TensorMap out;
  for (size_t i = 0; i < numResults; ++i)
    out[sig->results[i].name] = std::move((*values)[i]);
  for (size_t i = 0; i < gradNames.size(); ++i)
    out[gradNames[i]] = std::move((*values)[numResults + i]);
  return out;
}

Expected<ref::GeckoConfig> caseConfig(const GoldenCase &c) {
  Expected<std::string> text = c.meta("config");
  if (!text)
    return text.takeError();
  return model::parseConfig(*text);
}

Expected<std::vector<int64_t>> caseSchedule(const GoldenCase &c) {
  Expected<std::string> text = c.meta("schedule");
  if (!text)
    return text.takeError();
  Expected<json::Value> value = json::parse(*text);
  if (!value)
    return value.takeError();
  std::vector<int64_t> lengths;
  if (const json::Array *arr = value->getAsArray())
    for (const json::Value &v : *arr)
      if (std::optional<int64_t> n = v.getAsInteger(); n && *n > 0)
        lengths.push_back(*n);
      else
        return kernelError("metadata 'schedule' holds a non-positive length");
  else
    return kernelError("metadata 'schedule' is not a JSON list");
  return lengths;
}

/// Every "param.<name>" tensor as <name> (`prefix` prepended).
void addParams(const GoldenCase &c, TensorMap &inputs) {
  for (const auto &[key, t] : c.tensors)
    if (StringRef(key).starts_with("param."))
      inputs[key.substr(6)] = t;
}

/// Copies c[`from` + name] to inputs[`to` + name] for the present names.
void copyPrefixed(const GoldenCase &c, StringRef from, StringRef to,
                  TensorMap &inputs) {
  for (const auto &[key, t] : c.tensors) {
    StringRef k = key;
    if (k.consume_front(from))
      inputs[(to + k).str()] = t;
  }
}

Tensor cumsumRows(const Tensor &bos) {
  Tensor seg(bos.shape);
  for (int64_t b = 0; b < bos.dim(0); ++b) {
    double running = 0.0;
    for (int64_t t = 0; t < bos.dim(1); ++t)
      seg.at(b, t) = running += bos.at(b, t);
  }
  return seg;
}

/// The upstream gradient of a training call's only result (`name`, golden
/// key `outKey`) from gout.*.
Expected<TensorMap> trainCotangents(const GoldenCase &c, StringRef outKey,
                                    StringRef name) {
  Expected<const Tensor *> out = c.require(outKey);
  if (!out)
    return out.takeError();
  TensorMap cot;
  cot[name.str()] = c.upstreamGrad(outKey, **out);
  return cot;
}

/// Records every "grad.*" of a training call's results.
void addTrainingGradients(const TensorMap &out, CaseResults &r) {
  for (const auto &[name, t] : out)
    if (StringRef(name).starts_with("grad."))
      r.add(name, t);
}

Error runBlock(const GoldenCase &c, CaseResults &r,
               const ref::GeckoConfig &config) {
  if (StringRef(c.variant).starts_with("train")) {
    Expected<const Tensor *> x = c.require("in.x");
    if (!x)
      return x.takeError();
    TensorMap inputs;
    addParams(c, inputs);
    inputs["x"] = **x;
    model::CallSpec spec;
    spec.batch = (*x)->dim(0), spec.length = (*x)->dim(1);
    if (const Tensor *bos = c.find("in.bos_mask")) {
      Expected<const Tensor *> seg = c.require("in.segment_idx");
      if (!seg)
        return seg.takeError();
      spec.segments = true;
      inputs["bos_mask"] = *bos;
      inputs["segment_idx"] = **seg;
    }
    Expected<TensorMap> cot = trainCotangents(c, "out.y", "y");
    if (!cot)
      return cot.takeError();
    Expected<TensorMap> out = runCall(config, spec, false, inputs, &*cot);
    if (!out)
      return out.takeError();
    r.add("out.y", (*out)["y"]);
    addTrainingGradients(*out, r);
    return Error::success();
  }

  Expected<std::vector<int64_t>> schedule = caseSchedule(c);
  if (!schedule)
    return schedule.takeError();
  int64_t kv = 0;
  for (size_t i = 0; i < schedule->size(); ++i) {
    std::string pre = formatv("call{0}.", i).str();
    Expected<const Tensor *> x = c.require(pre + "in.x");
    if (!x)
      return x.takeError();
    if (const Tensor *start = c.find(pre + "in.start"))
      if (static_cast<int64_t>((*start)[0]) != kv)
        return kernelError(pre + "in.start disagrees with the cache's "
                                 "kv_count");
    TensorMap inputs;
    addParams(c, inputs);
    inputs["x"] = **x;
    model::CallSpec spec;
    spec.batch = (*x)->dim(0), spec.length = (*x)->dim(1);
    spec.start = kv, spec.stream = true;
    if (const Tensor *bos = c.find(pre + "in.bos_mask")) {
      spec.segments = true;
      inputs["bos_mask"] = *bos;
      Expected<const Tensor *> seg = c.require(pre + "in.segment_idx");
      if (!seg)
        return seg.takeError();
      inputs["segment_idx"] = **seg;
      copyPrefixed(c, pre + "in.prev_segment_", "prev_segment_", inputs);
    }
    if (i > 0) // continue from the STORED cache of the previous call
      copyPrefixed(c, formatv("call{0}.cache_out.", i - 1).str(), "cache.",
                   inputs);
    Expected<TensorMap> out = runCall(config, spec, false, inputs);
    if (!out)
      return out.takeError();
    for (auto &[name, t] : *out) {
      StringRef n = name;
      if (n == "y")
        r.add(pre + "out.y", t);
      else
        r.add(pre + n.str(), t); // "cache_out.*"
    }
    kv += spec.length;
    r.add(pre + "cache_out.kv_count", scalarTensor(static_cast<double>(kv)));
    if (const Tensor *stored = c.find(pre + "cache_out.kv_count"))
      kv = static_cast<int64_t>((*stored)[0]);
  }
  Expected<const Tensor *> fullX = c.require("full.in.x");
  if (!fullX)
    return fullX.takeError();
  Expected<const Tensor *> fullBos = c.require("full.in.bos_mask");
  if (!fullBos)
    return fullBos.takeError();
  TensorMap inputs;
  addParams(c, inputs);
  inputs["x"] = **fullX;
  inputs["bos_mask"] = **fullBos;
  inputs["segment_idx"] = cumsumRows(**fullBos);
  model::CallSpec spec;
  spec.batch = (*fullX)->dim(0), spec.length = (*fullX)->dim(1);
  spec.segments = true;
  Expected<TensorMap> out = runCall(config, spec, false, inputs);
  if (!out)
    return out.takeError();
  r.add("full.out.y", (*out)["y"]);
  return Error::success();
}

Expected<bool> multiSegments(const GoldenCase &c) {
  Expected<std::string> text = c.meta("multi_segments");
  if (!text)
    return text.takeError();
  StringRef s = StringRef(*text).trim();
  if (s == "true" || s == "True" || s == "1")
    return true;
  if (s == "false" || s == "False" || s == "0")
    return false;
  return kernelError("metadata 'multi_segments' is not a boolean: " + s);
}

Error runModel(const GoldenCase &c, CaseResults &r,
               const ref::GeckoConfig &config) {
  Expected<bool> multi = multiSegments(c);
  if (!multi)
    return multi.takeError();
  Expected<const Tensor *> tokens = c.require("in.tokens");
  if (!tokens)
    return tokens.takeError();
  const Tensor &all = **tokens;
  if (all.rank() != 2)
    return kernelError("in.tokens is not (B, L)");
  TensorMap params;
  addParams(c, params);

  if (StringRef(c.variant).starts_with("train")) {
    TensorMap inputs = params;
    inputs["tokens"] = all;
    model::CallSpec spec;
    spec.batch = all.dim(0), spec.length = all.dim(1), spec.segments = *multi;
    Expected<TensorMap> cot = trainCotangents(c, "out.logits", "logits");
    if (!cot)
      return cot.takeError();
    Expected<TensorMap> out = runCall(config, spec, true, inputs, &*cot);
    if (!out)
      return out.takeError();
    r.add("out.logits", (*out)["logits"]);
    addTrainingGradients(*out, r);
    return Error::success();
  }

  Expected<std::vector<int64_t>> schedule = caseSchedule(c);
  if (!schedule)
    return schedule.takeError();
  TensorMap state; // "cache.*" returned by the previous compiled call
  std::optional<Tensor> logits;
  int64_t pos = 0;
  for (int64_t n : *schedule) {
    if (pos + n > all.dim(1))
      return kernelError("metadata 'schedule' runs past the tokens");
    TensorMap inputs = params;
    inputs.insert(state.begin(), state.end());
    inputs["tokens"] = ref::slice(all, 1, pos, pos + n);
    model::CallSpec spec;
    spec.batch = all.dim(0), spec.length = n, spec.start = pos;
    spec.stream = true, spec.segments = *multi;
    Expected<TensorMap> out = runCall(config, spec, true, inputs);
    if (!out)
      return kernelError(formatv("model call at position {0}: ", pos) +
                         toString(out.takeError()));
    logits =
        logits ? ref::concat(*logits, (*out)["logits"], 1) : (*out)["logits"];
    state.clear();
    for (auto &[name, t] : *out)
      if (StringRef(name).starts_with("cache."))
        state[name] = std::move(t);
    pos += n;
  }
  if (!logits)
    return kernelError("metadata 'schedule' is empty");
  r.add("out.logits", *logits);
  for (auto &[name, t] : state)
    r.add(name, t);
  for (int64_t i = 0; i < config.num_layers; ++i)
    r.add(formatv("cache.layers.{0}.kv_count", i).str(),
          scalarTensor(static_cast<double>(pos)));
  r.add("cache.pos", scalarTensor(static_cast<double>(pos)));
  return Error::success();
}

} // namespace

Error runBlockModelCase(const GoldenCase &c, CaseResults &r) {
  Expected<ref::GeckoConfig> config = caseConfig(c);
  if (!config)
    return config.takeError();
  if (c.op == "block")
    return runBlock(c, r, *config);
  return runModel(c, r, *config);
}

} // namespace gecko::conform
