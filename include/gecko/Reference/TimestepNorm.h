//===- TimestepNorm.h - Timestep decay norm (spec §1) -----------*- C++ -*-===//

#ifndef GECKO_REFERENCE_TIMESTEPNORM_H
#define GECKO_REFERENCE_TIMESTEPNORM_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

struct TimestepNormConfig {
  int64_t numGroups = 1;
  double beta1 = 0.999;
  double beta2 = 0.9999;
  double eps = 1e-5;
};

/// Carried state: count (B,) integral, raw (uncorrected) mean and var (B, G).
struct TimestepNormState {
  Tensor count, mean, var;
};

struct TimestepNormResult {
  Tensor y;                // (B, L, D)
  TimestepNormState state; // after the last step
};

/// x (B,L,D); weight, bias (D); optional carried state pieces (absent = zeros),
/// bos (B,L) and padding (B,L) masks as 0/1 (null = absent).
TimestepNormResult
timestepNormForward(const Tensor &x, const Tensor &weight, const Tensor &bias,
                    const TimestepNormConfig &config, const Tensor *prevCount,
                    const Tensor *prevMean, const Tensor *prevVar,
                    const Tensor *bos, const Tensor *padding);

struct TimestepNormGrads {
  Tensor x, weight, bias, prevMean, prevVar;
};

/// Gradients for upstream dy (B,L,D) and optional upstream grads of the output
/// mean / var (B,G) (null = zero).
TimestepNormGrads
timestepNormBackward(const Tensor &x, const Tensor &weight, const Tensor &bias,
                     const TimestepNormConfig &config, const Tensor *prevCount,
                     const Tensor *prevMean, const Tensor *prevVar,
                     const Tensor *bos, const Tensor *padding, const Tensor &dy,
                     const Tensor *dMean, const Tensor *dVar);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_TIMESTEPNORM_H
