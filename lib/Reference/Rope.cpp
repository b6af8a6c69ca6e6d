//===- Rope.cpp - Rotary embedding (spec §4) ------------------------------===//
//
// The angles reproduce the reference's fp32 arithmetic so that tables agree
// bit for bit at large positions; only cos/sin and the rotation are double.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/Rope.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gecko::ref {

namespace {

// Shape errors are programming errors; fail loudly even in release builds.
void require(bool ok, const char *what) {
  if (ok)
    return;
  std::fprintf(stderr, "gecko::ref::rope: %s\n", what);
  std::abort();
}

/// Rotates the adjacent pairs of heads [0, numRopeHeads) by `direction` times
/// the table angle (+1 forward, -1 for the gradient).
Tensor rotate(const Tensor &x, const RopeTable &table, int64_t numRopeHeads,
              double direction) {
  require(x.rank() == 4, "x must be (B, L, H, d)");
  int64_t batch = x.dim(0), length = x.dim(1), heads = x.dim(2),
          headDim = x.dim(3);
  require(headDim % 2 == 0, "head dim must be even");
  require(numRopeHeads >= 0 && numRopeHeads <= heads,
          "numRopeHeads must be in [0, H]");
  std::vector<int64_t> tableShape{length, headDim / 2};
  require(table.cos.shape == tableShape && table.sin.shape == tableShape,
          "cos/sin must be (L, d/2)");
  Tensor y = x;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < length; ++t)
      for (int64_t h = 0; h < numRopeHeads; ++h)
        for (int64_t j = 0; j < headDim / 2; ++j) {
          double c = table.cos.at(t, j), s = direction * table.sin.at(t, j);
          double even = x.at(b, t, h, 2 * j), odd = x.at(b, t, h, 2 * j + 1);
          y.at(b, t, h, 2 * j) = even * c - odd * s;
          y.at(b, t, h, 2 * j + 1) = even * s + odd * c;
        }
  return y;
}

} // namespace

RopeTable ropeTable(int64_t headDim, double base, int64_t start, int64_t end) {
  require(headDim > 0 && headDim % 2 == 0, "head dim must be even");
  require(0 <= start && start <= end, "need 0 <= start <= end");
  int64_t half = headDim / 2;
  // Inverse frequencies: base^(2j/d) in double, rounded to fp32, reciprocal
  // in fp32 (the reference's checkpoint buffer).
  std::vector<float> inverseFrequency(half);
  for (int64_t j = 0; j < half; ++j) {
    float frequency = static_cast<float>(
        std::pow(base, static_cast<double>(2 * j) / headDim));
    inverseFrequency[j] = 1.0f / frequency;
  }
  RopeTable table{Tensor({end - start, half}), Tensor({end - start, half})};
  for (int64_t t = start; t < end; ++t) {
    float position = static_cast<float>(t);
    for (int64_t j = 0; j < half; ++j) {
      float angle = position * inverseFrequency[j]; // fp32 product
      table.cos.at(t - start, j) = std::cos(static_cast<double>(angle));
      table.sin.at(t - start, j) = std::sin(static_cast<double>(angle));
    }
  }
  return table;
}

Tensor ropeForward(const Tensor &x, const RopeTable &table,
                   int64_t numRopeHeads) {
  return rotate(x, table, numRopeHeads, 1.0);
}

Tensor ropeBackward(const Tensor &dy, const RopeTable &table,
                    int64_t numRopeHeads) {
  return rotate(dy, table, numRopeHeads, -1.0);
}

} // namespace gecko::ref
