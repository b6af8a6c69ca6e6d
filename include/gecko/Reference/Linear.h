//===- Linear.h - Linear layer, SiLU, embedding (spec §7) -------*- C++ -*-===//
//
// Dense building blocks of the Gecko block and model: y = x W^T + b with W
// laid out (out, in), the SiLU activation and the embedding lookup.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_REFERENCE_LINEAR_H
#define GECKO_REFERENCE_LINEAR_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

/// x (..., in), weight (out, in), optional bias (out) -> (..., out).
Tensor linearForward(const Tensor &x, const Tensor &weight, const Tensor *bias);

struct LinearGrads {
  Tensor x, weight, bias; // bias empty when the layer has none
};
/// Gradients for upstream dy (..., out).
LinearGrads linearBackward(const Tensor &x, const Tensor &weight, bool hasBias,
                           const Tensor &dy);

/// silu(x) = x * sigmoid(x), elementwise.
Tensor siluForward(const Tensor &x);
/// dx = dy * silu'(x).
Tensor siluBackward(const Tensor &x, const Tensor &dy);

/// table (V, D), ids (...) holding integral values in [0, V) -> (..., D).
Tensor embeddingForward(const Tensor &table, const Tensor &ids);
/// Scatter-add of dy (..., D) into a (V, D) gradient table.
Tensor embeddingBackward(int64_t vocabSize, const Tensor &ids,
                         const Tensor &dy);

/// Elementwise product and sum of equally shaped tensors.
Tensor multiply(const Tensor &a, const Tensor &b);
Tensor add(const Tensor &a, const Tensor &b);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_LINEAR_H
