//===- TrainEntries.cpp - gecko-compile --train ---------------------------===//
//
// Manifest section written for --train (docs/model/artifact.md):
//   "train": {"batch": B, "length": L, "multi_document": bool,
//             "hyper": ["lr", "beta1", "beta2", "eps", "weight_decay",
//                       "clip_norm", "step", "grad_scale"],
//             "weight_decay": [parameter names that get decay],
//             "entries": ["train_step", "optimizer_step", "accumulate_grads"]}
// and one "entries" item per training function, with "in_place": the
// arguments the function updates (optimizer_step: parameters and both
// moments; accumulate_grads: the accumulators).
//
//===----------------------------------------------------------------------===//

#include "TrainEntries.h"

#include "gecko/Reference/Model.h"

namespace json = llvm::json;

namespace gecko::compile {

llvm::Error addTrainFunctions(mlir::ModuleOp module,
                              const ref::GeckoConfig &config,
                              const model::TrainSpec &spec) {
  return model::buildTrainFunctions(module, config, spec);
}

llvm::Error addTrainManifest(
    json::Value &manifest, const ref::GeckoConfig &config,
    const model::TrainSpec &spec,
    llvm::function_ref<json::Value(const model::ArgInfo &)> describe) {
  json::Object *root = manifest.getAsObject();
  json::Array *entries = root ? root->getArray("entries") : nullptr;
  if (!entries)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "internal error: manifest without entries");
  llvm::Expected<model::Signature> step =
      model::trainStepSignature(config, spec);
  if (!step)
    return step.takeError();
  model::Signature opt = model::optimizerStepSignature(config);
  model::Signature acc = model::accumulateGradsSignature(config);
  size_t numParams = ref::modelParamShapes(config).size();

  auto list = [&](llvm::ArrayRef<model::ArgInfo> args) {
    json::Array out;
    for (const model::ArgInfo &a : args)
      out.push_back(describe(a));
    return out;
  };
  auto names = [](llvm::ArrayRef<model::ArgInfo> args) {
    json::Array out;
    for (const model::ArgInfo &a : args)
      out.push_back(a.name);
    return out;
  };
  auto entry = [&](llvm::StringRef name, const model::Signature &sig,
                   llvm::ArrayRef<model::ArgInfo> inPlace) {
    return json::Object{{"name", name},
                        {"symbol", ("_gecko_packed_" + name).str()},
                        {"length", spec.length},
                        {"start", 0},
                        {"args", list(sig.args)},
                        {"results", list(sig.results)},
                        {"in_place", names(inPlace)}};
  };
  llvm::ArrayRef<model::ArgInfo> optArgs(opt.args);
  // optimizer_step: hyper, params, grads, adam_m, adam_v.
  std::vector<model::ArgInfo> optInPlace(optArgs.begin() + 1,
                                         optArgs.begin() + 1 + numParams);
  optInPlace.insert(optInPlace.end(), optArgs.begin() + 1 + 2 * numParams,
                    optArgs.end());
  entries->push_back(entry("train_step", *step, {}));
  entries->push_back(entry("optimizer_step", opt, optInPlace));
  entries->push_back(
      entry("accumulate_grads", acc,
            llvm::ArrayRef<model::ArgInfo>(acc.args).take_front(numParams)));

  json::Array decay;
  for (const auto &[name, shape] : ref::modelParamShapes(config))
    if (model::paramGetsWeightDecay(name, shape))
      decay.push_back(name);
  (*root)["train"] = json::Object{
      {"batch", spec.batch},
      {"length", spec.length},
      {"multi_document", spec.segments},
      {"hyper", json::Array{"lr", "beta1", "beta2", "eps", "weight_decay",
                            "clip_norm", "step", "grad_scale"}},
      {"weight_decay", std::move(decay)},
      {"entries",
       json::Array{"train_step", "optimizer_step", "accumulate_grads"}}};
  return llvm::Error::success();
}

} // namespace gecko::compile
