//===- Rope.h - Rotary embedding (spec §4) ----------------------*- C++ -*-===//

#ifndef GECKO_REFERENCE_ROPE_H
#define GECKO_REFERENCE_ROPE_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

/// cos/sin (L, headDim/2) of positions [start, end), with angles formed in
/// fp32 exactly as the reference does (spec §4).
struct RopeTable {
  Tensor cos, sin;
};
RopeTable ropeTable(int64_t headDim, double base, int64_t start, int64_t end);

/// x (B,L,H,d): rotates adjacent pairs of heads [0, numRopeHeads).
Tensor ropeForward(const Tensor &x, const RopeTable &table,
                   int64_t numRopeHeads);
/// Gradient: rotation of dy by the negative angle.
Tensor ropeBackward(const Tensor &dy, const RopeTable &table,
                    int64_t numRopeHeads);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_ROPE_H
