//===- TrainEntries.h - gecko-compile --train ---------------------*- C++
//-*-===//
//
// The training entries of an artifact (docs/model/artifact.md, "Training
// entries"): train_step, optimizer_step and accumulate_grads built by
// gecko::model (include/gecko/Model/TrainStep.h) into the same module as
// the streaming entries, and their manifest description.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TOOLS_GECKO_COMPILE_TRAINENTRIES_H
#define GECKO_TOOLS_GECKO_COMPILE_TRAINENTRIES_H

#include "gecko/Model/TrainStep.h"

#include "llvm/Support/JSON.h"

namespace gecko::compile {

/// Adds the three training functions to `module`.
llvm::Error addTrainFunctions(mlir::ModuleOp module,
                              const ref::GeckoConfig &config,
                              const model::TrainSpec &spec);

/// Appends the training entries to manifest["entries"] and sets
/// manifest["train"] (micro-batch, length, hyperparameter layout, the
/// parameters that get weight decay, the arguments updated in place).
/// `describe` turns a signature entry into the manifest's tensor object.
llvm::Error addTrainManifest(
    llvm::json::Value &manifest, const ref::GeckoConfig &config,
    const model::TrainSpec &spec,
    llvm::function_ref<llvm::json::Value(const model::ArgInfo &)> describe);

} // namespace gecko::compile

#endif // GECKO_TOOLS_GECKO_COMPILE_TRAINENTRIES_H
