//===- ComplexEma.h - Multi-head complex EMA (spec §2) ----------*- C++ -*-===//
//
// Complex values are stored as a trailing axis of 2 = (re, im); gradients of
// complex values follow PyTorch's convention (dL/dRe, dL/dIm).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_REFERENCE_COMPLEXEMA_H
#define GECKO_REFERENCE_COMPLEXEMA_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

/// Derived coefficients: p (D,N), q (D,N,2), gamma (D,N,2).
struct CemaCoefficients {
  Tensor p, q, gamma;
};

/// alpha, delta (D,N), theta (D), gamma (D,N,2).
CemaCoefficients cemaCoefficients(const Tensor &alpha, const Tensor &delta,
                                  const Tensor &theta, const Tensor &gamma);

struct CemaResult {
  Tensor y; // (B,D,L), includes the +x residual
  Tensor h; // (B,D,N,2), state after the last step
};

/// x (B,D,L); optional hx (B,D,N,2) and bos (B,L).
CemaResult cemaForward(const Tensor &x, const CemaCoefficients &coeffs,
                       const Tensor *hx, const Tensor *bos);

struct CemaScanGrads {
  Tensor x, hx, p, q, gamma; // hx is zeros when no hx was given
};

/// Upstream dy (B,D,L) and optional dh (B,D,N,2).
CemaScanGrads cemaBackward(const Tensor &x, const CemaCoefficients &coeffs,
                           const Tensor *hx, const Tensor *bos,
                           const Tensor &dy, const Tensor *dh);

struct CemaParamGrads {
  Tensor alpha, delta, theta, gamma;
};

/// Chains gradients of (p, q, gamma) to the raw parameters.
CemaParamGrads cemaCoefficientsBackward(const Tensor &alpha,
                                        const Tensor &delta,
                                        const Tensor &theta,
                                        const Tensor &gamma,
                                        const CemaScanGrads &grads);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_COMPLEXEMA_H
