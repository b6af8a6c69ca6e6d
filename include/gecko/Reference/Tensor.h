//===- Tensor.h - Dense tensor of the reference library ---------*- C++ -*-===//
//
// The reference library is the numerical oracle for every compiled kernel. It
// stores every value as double so that it is more accurate than anything it
// checks and so that finite-difference gradient checks are meaningful. Masks,
// counts and ids are stored as doubles too (exact below 2^53).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_REFERENCE_TENSOR_H
#define GECKO_REFERENCE_TENSOR_H

#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace gecko::ref {

/// A dense row-major tensor of doubles. Deliberately simple: value semantics,
/// no views, no broadcasting.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, double fill = 0.0);
  Tensor(std::vector<int64_t> shape, std::vector<double> values);

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Size of dimension `i`; negative `i` counts from the back.
  int64_t dim(int64_t i) const {
    if (i < 0)
      i += rank();
    assert(i >= 0 && i < rank() && "dimension out of range");
    return shape[i];
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }

  double &operator[](int64_t i) { return data[i]; }
  double operator[](int64_t i) const { return data[i]; }

  /// Row-major element access with bounds asserted in debug builds.
  template <typename... Idx> double &at(Idx... idx) {
    return data[offset({static_cast<int64_t>(idx)...})];
  }
  template <typename... Idx> double at(Idx... idx) const {
    return data[offset({static_cast<int64_t>(idx)...})];
  }
  int64_t offset(std::initializer_list<int64_t> idx) const;

  /// Same data with another shape of equal element count.
  Tensor reshaped(std::vector<int64_t> newShape) const;
  /// Swaps two dimensions (copies).
  Tensor transposed(int64_t a, int64_t b) const;

  /// "(2, 12, 16)"
  std::string shapeString() const;
};

/// Element count of a shape.
int64_t numElements(const std::vector<int64_t> &shape);

/// Concatenates along dimension `axis`; the other dimensions must agree.
Tensor concat(const Tensor &a, const Tensor &b, int64_t axis);
/// Elements [begin, end) of dimension `axis`.
Tensor slice(const Tensor &t, int64_t axis, int64_t begin, int64_t end);
/// Writes `src` into `dst` at [begin, begin + src.dim(axis)) of `axis`.
void insertSlice(Tensor &dst, const Tensor &src, int64_t axis, int64_t begin);
/// dst += src (same shape).
void addInPlace(Tensor &dst, const Tensor &src);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_TENSOR_H
