//===- TrainStep.h - gecko IR of the compiled training step -----*- C++ -*-===//
//
// Three entry functions make one optimisation step of a Gecko model
// (docs/training.md):
//
//   train_step(inputs (B,L) i64, targets (B,L) i64, params...)
//       -> (loss f32 scalar tensor, grad.<param>...)
//     forward (model builder, start 0, no stream) + mean next-token
//     cross-entropy over B*L positions + its reverse sweep (gecko-autodiff's
//     emitBackward seeded with dloss = 1), in ONE function on tensors.
//
//   optimizer_step(hyper memref<8xf32>, params..., grad.*..., adam_m.*...,
//                  adam_v.*...) -> stats memref<2xf32>
//     global-norm clipping + AdamW updating the parameters and both moments
//     IN PLACE (linalg.generic on the argument memrefs, nothing copied);
//     stats = (pre-clip global norm, clip factor applied).
//
//   accumulate_grads(acc.*..., grad.*...)
//     acc += grad in place, for gradient accumulation over micro-batches.
//
// The hyperparameters are a runtime argument so that one artifact serves
// every step; the learning-rate schedule is computed by the caller.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_MODEL_TRAINSTEP_H
#define GECKO_MODEL_TRAINSTEP_H

#include "gecko/Model/ModelBuilder.h"

namespace gecko::model {

/// The shape of one training micro-batch.
struct TrainSpec {
  int64_t batch = 1;
  /// Tokens per row; a multiple of chunk_size.
  int64_t length = 0;
  /// Multi-document mode (bos = inputs == bos_id), as CallSpec::segments.
  bool segments = false;
};

/// Layout of the optimizer_step `hyper` argument (f32 each).
enum HyperIndex : int64_t {
  kHyperLr = 0,          // learning rate of this step (schedule applied)
  kHyperBeta1 = 1,       // AdamW beta1
  kHyperBeta2 = 2,       // AdamW beta2
  kHyperEps = 3,         // AdamW epsilon (added to sqrt(v_hat))
  kHyperWeightDecay = 4, // decoupled weight decay (decayed params only)
  kHyperClipNorm = 5,    // max global gradient norm; <= 0: no clipping
  kHyperStep = 6,        // 1-based step number (bias correction)
  kHyperGradScale = 7,   // multiplies every gradient first (1/K for K
                         // accumulated micro-batches)
  kHyperCount = 8,
};

/// Why a train step of this shape cannot be built (config, L not a positive
/// multiple of chunk_size, batch < 1), or success.
llvm::Error checkTrain(const ref::GeckoConfig &config, const TrainSpec &spec);

/// Whether AdamW decays parameter `name`: every rank-2 `*weight` (the
/// embedding, every linear layer, the output projection); not the norms'
/// scales and biases, linear biases, CEMA parameters or the z-split
/// gamma/beta.
bool paramGetsWeightDecay(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);

/// Argument / result lists of the three entries (names as in the manifest:
/// "inputs", "targets", parameter names, "loss", "grad.<p>", "hyper",
/// "adam_m.<p>", "adam_v.<p>", "acc.<p>", "stats").
llvm::Expected<Signature> trainStepSignature(const ref::GeckoConfig &config,
                                             const TrainSpec &spec);
Signature optimizerStepSignature(const ref::GeckoConfig &config);
Signature accumulateGradsSignature(const ref::GeckoConfig &config);

/// The train step at the builder's insertion point from `args` (inputs,
/// targets, params..., and with `seedLogits` a trailing dlogits (B,L,V) f32):
/// returns (loss, grad.<p>...). `seedLogits` replaces the cross-entropy seed
/// by the upstream gradient of the logits (the grads are then those of
/// Σ dlogits ⊙ logits, as in the golden training files; loss is still the
/// cross-entropy). Usable as an exec::KernelBody.
llvm::Expected<llvm::SmallVector<mlir::Value>>
buildTrainStepBody(mlir::OpBuilder &builder, mlir::Location loc,
                   const ref::GeckoConfig &config, const TrainSpec &spec,
                   mlir::ValueRange args, bool seedLogits = false);

/// `func.func @name` entries appended to `module` (argument and result
/// names as `gecko.name` attributes).
llvm::Expected<mlir::func::FuncOp>
buildTrainStepFunction(mlir::ModuleOp module, llvm::StringRef name,
                       const ref::GeckoConfig &config, const TrainSpec &spec);
mlir::func::FuncOp buildOptimizerStepFunction(mlir::ModuleOp module,
                                              llvm::StringRef name,
                                              const ref::GeckoConfig &config);
mlir::func::FuncOp buildAccumulateGradsFunction(mlir::ModuleOp module,
                                                llvm::StringRef name,
                                                const ref::GeckoConfig &config);

/// All three, named "train_step", "optimizer_step", "accumulate_grads".
llvm::Error buildTrainFunctions(mlir::ModuleOp module,
                                const ref::GeckoConfig &config,
                                const TrainSpec &spec);

/// Registers gecko-autodiff as the model builder's backward hook
/// (model::setBackwardBuilder): `<name>_backward(args..., result cotangents)
/// -> gradients of every float argument`.
void registerAutodiffBackwardBuilder();

} // namespace gecko::model

#endif // GECKO_MODEL_TRAINSTEP_H
