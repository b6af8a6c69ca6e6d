//===- Train.h - Train a compiled Gecko model, checkpoints ------*- C++ -*-===//
//
// Part of the model runtime (GeckoModelRuntime; no MLIR, no LLVM). An
// artifact compiled with `gecko-compile --train` has three more entries
// (docs/model/artifact.md, docs/training.md):
//   train_step(inputs, targets, params...) -> (loss, grads...)
//   optimizer_step(hyper, params..., grads..., adam_m..., adam_v...) -> stats
//     (updates the parameters and both moments in place)
//   accumulate_grads(acc..., grads...)  (acc += grads in place)
// `Trainer` drives them: one optimisation step = K micro-batches through
// train_step (gradients summed with accumulate_grads) and one
// optimizer_step with grad_scale 1/K. It trains the Model's own parameter
// buffers, so a Session on the same Model sees the current weights.
// Checkpoints are safetensors files (weights, both AdamW moments, metadata
// with a checksum of the data and the model identity), written atomically.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_TRAIN_H
#define GECKO_RUNTIME_TRAIN_H

#include "gecko/Runtime/Model.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gecko::rt {

/// The "train" section of a manifest and its three entries.
struct TrainSpec {
  int64_t batch = 0;  // rows per train_step call (micro-batch)
  int64_t length = 0; // tokens per row (a multiple of the chunk size)
  bool multiDocument = false;
  std::vector<bool> decay; // per parameter: gets weight decay
  EntrySpec trainStep, optimizerStep, accumulateGrads;
};

/// Reads and checks the training entries of `model`'s artifact; an
/// artifact compiled without --train is an error that says so.
Status loadTrainSpec(const Model &model, TrainSpec *out);

/// AdamW, clipping and the learning-rate schedule: linear warmup from
/// lr/warmup to lr over `warmup` steps, then cosine decay to minLr at
/// `steps` (computed here, per step, in double; passed to the compiled
/// optimizer_step as f32).
struct OptimizerConfig {
  double lr = 3e-4, minLr = 3e-5;
  int64_t warmup = 0, steps = 1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weightDecay = 0.1;
  double clipNorm = 1.0; // <= 0: no clipping
};
/// The learning rate of 1-based step `step`.
double learningRate(const OptimizerConfig &config, int64_t step);

struct StepStats {
  double loss = 0;     // mean over the micro-batches of their mean CE
  double lr = 0;       // this step's learning rate
  float gradNorm = 0;  // global norm of the averaged gradient, pre-clip
  float clipScale = 1; // factor the clipping applied
};

class Trainer {
public:
  /// `model` (with weights) must outlive the trainer; its parameter
  /// buffers are trained in place. Moments start at zero.
  static Status create(Model &model, std::unique_ptr<Trainer> *out);
  ~Trainer();
  Trainer(const Trainer &) = delete;
  Trainer &operator=(const Trainer &) = delete;

  const TrainSpec &spec() const { return train; }
  /// Tokens per micro-batch (batch * length).
  int64_t microBatchTokens() const { return train.batch * train.length; }

  /// One optimisation step (1-based `step`, for the bias correction and
  /// the schedule) over `microBatches` micro-batches: `inputs` / `targets`
  /// hold microBatches * batch * length ids each ([k][row][position]),
  /// already checked against the vocabulary. A non-finite loss or gradient
  /// norm is an error (the parameters are then no longer usable).
  Status step(const int64_t *inputs, const int64_t *targets,
              int64_t microBatches, int64_t step, const OptimizerConfig &config,
              StepStats *out);

  /// The model's parameters and the AdamW moments (manifest order).
  size_t numParams() const { return model.manifest().params.size(); }
  const TensorSpec &paramSpec(size_t i) const {
    return model.manifest().params[i];
  }
  float *param(size_t i) { return model.mutableParam(i); }
  float *moment1(size_t i) { return m[i]; }
  float *moment2(size_t i) { return v[i]; }
  const Model &modelRef() const { return model; }

private:
  explicit Trainer(Model &model) : model(model) {}
  Model &model;
  TrainSpec train;
  Model::PackedFn trainFn = nullptr, optimizerFn = nullptr,
                  accumulateFn = nullptr;
  std::vector<float *> m, v;
  void *library = nullptr;
};

/// A hex string identifying the model a checkpoint belongs to: a hash of
/// the manifest's config and parameter names / shapes (not of the
/// compiled code, so a recompiled artifact of the same model resumes).
std::string modelIdentity(const Model &model);

/// What a checkpoint records besides the tensors.
struct CheckpointInfo {
  int64_t step = 0; // optimisation steps done
  /// Free-form training state (data position, seed, rng, options), stored
  /// as metadata strings.
  std::map<std::string, std::string> fields;
};

/// Writes `path` atomically (temporary file in the same directory, fsync,
/// rename, directory fsync): tensors "param.<name>", "adam_m.<name>",
/// "adam_v.<name>" (F32) and metadata (format, step, model identity, the
/// fields, the data size and an FNV-1a checksum of every tensor's bytes).
/// With the environment variable GECKO_TRAIN_TEST_KILL_IN_CHECKPOINT=<step>
/// the process kills itself (SIGKILL) halfway through writing the
/// checkpoint of that step (a testing hook for interrupted writes).
Status saveCheckpoint(const std::string &path, Trainer &trainer,
                      const CheckpointInfo &info);

/// Loads a checkpoint into the trainer's parameters and moments after
/// checking it completely: readable and in bounds (truncation), the
/// format, the checksum (corruption), the model identity (a checkpoint of
/// another model) and every tensor's presence, dtype and shape. On error
/// nothing is modified.
Status loadCheckpoint(const std::string &path, Trainer &trainer,
                      CheckpointInfo *info);

/// The newest "step-<N>.safetensors" in `dir` (largest N), or "" when there
/// is none. Temporary files of interrupted writes are ignored.
std::string latestCheckpoint(const std::string &dir);

} // namespace gecko::rt

#endif // GECKO_RUNTIME_TRAIN_H
