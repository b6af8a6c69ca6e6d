//===- Norms.h - Group RMS/layer norm, z split (spec §3) --------*- C++ -*-===//

#ifndef GECKO_REFERENCE_NORMS_H
#define GECKO_REFERENCE_NORMS_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

/// Group RMS norm over the last dimension split in `numGroups` groups; the
/// applied scale is weight + 1 (null weight = no affine).
Tensor groupRmsNorm(const Tensor &x, int64_t numGroups, const Tensor *weight,
                    double eps);

/// Group layer norm (population variance); scale weight + 1, then + bias.
Tensor groupLayerNorm(const Tensor &x, int64_t numGroups, const Tensor *weight,
                      const Tensor *bias, double eps);

struct NormGrads {
  Tensor x, weight, bias; // weight/bias empty when absent
};

NormGrads groupRmsNormBackward(const Tensor &x, int64_t numGroups,
                               const Tensor *weight, double eps,
                               const Tensor &dy);
NormGrads groupLayerNormBackward(const Tensor &x, int64_t numGroups,
                                 const Tensor *weight, const Tensor *bias,
                                 double eps, const Tensor &dy);

/// z-norm (per-head RMS, no affine) then the q/k/aq/ak split:
/// z (B,L,Z), gamma, beta (4,Z) -> four (B,L,Z) tensors.
struct ZSplitResult {
  Tensor q, k, aq, ak;
};
ZSplitResult zSplitForward(const Tensor &z, const Tensor &gamma,
                           const Tensor &beta, int64_t numHeads, double eps);

struct ZSplitGrads {
  Tensor z, gamma, beta;
};
/// Upstream grads of q, k, aq, ak (null = zero).
ZSplitGrads zSplitBackward(const Tensor &z, const Tensor &gamma,
                           const Tensor &beta, int64_t numHeads, double eps,
                           const Tensor *dq, const Tensor *dk,
                           const Tensor *daq, const Tensor *dak);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_NORMS_H
