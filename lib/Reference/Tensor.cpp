//===- Tensor.cpp - Dense tensor of the reference library -----------------===//

#include "gecko/Reference/Tensor.h"

#include <sstream>
#include <utility>

namespace gecko::ref {

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor::Tensor(std::vector<int64_t> s, double fill)
    : shape(std::move(s)), data(numElements(shape), fill) {}

Tensor::Tensor(std::vector<int64_t> s, std::vector<double> values)
    : shape(std::move(s)), data(std::move(values)) {
  assert(numElements(shape) == numel() && "value count does not match shape");
}

int64_t Tensor::offset(std::initializer_list<int64_t> idx) const {
  assert(static_cast<int64_t>(idx.size()) == rank() && "index rank mismatch");
  int64_t off = 0;
  size_t d = 0;
  for (int64_t i : idx) {
    assert(i >= 0 && i < shape[d] && "index out of range");
    off = off * shape[d++] + i;
  }
  return off;
}

Tensor Tensor::reshaped(std::vector<int64_t> newShape) const {
  assert(numElements(newShape) == numel() && "reshape changes element count");
  return Tensor(std::move(newShape), data);
}

Tensor Tensor::transposed(int64_t a, int64_t b) const {
  if (a < 0)
    a += rank();
  if (b < 0)
    b += rank();
  std::vector<int64_t> outShape = shape;
  std::swap(outShape[a], outShape[b]);
  Tensor out(outShape);
  std::vector<int64_t> inStride(rank(), 1);
  for (int64_t d = rank() - 2; d >= 0; --d)
    inStride[d] = inStride[d + 1] * shape[d + 1];
  std::vector<int64_t> idx(rank(), 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    // idx enumerates the output in row-major order.
    int64_t src = 0;
    for (int64_t d = 0; d < rank(); ++d) {
      int64_t inDim = d == a ? b : (d == b ? a : d);
      src += idx[d] * inStride[inDim];
    }
    out.data[o] = data[src];
    for (int64_t d = rank() - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  return out;
}

std::string Tensor::shapeString() const {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << ")";
  return os.str();
}

// Views a tensor as (outer, axis, inner) for the slicing helpers.
static void splitAround(const Tensor &t, int64_t axis, int64_t &outer,
                        int64_t &inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= t.shape[d];
  for (int64_t d = axis + 1; d < t.rank(); ++d)
    inner *= t.shape[d];
}

Tensor concat(const Tensor &a, const Tensor &b, int64_t axis) {
  if (axis < 0)
    axis += a.rank();
  assert(a.rank() == b.rank() && "concat rank mismatch");
  std::vector<int64_t> shape = a.shape;
  shape[axis] += b.shape[axis];
  Tensor out(shape);
  insertSlice(out, a, axis, 0);
  insertSlice(out, b, axis, a.shape[axis]);
  return out;
}

Tensor slice(const Tensor &t, int64_t axis, int64_t begin, int64_t end) {
  if (axis < 0)
    axis += t.rank();
  assert(0 <= begin && begin <= end && end <= t.shape[axis] && "bad slice");
  std::vector<int64_t> shape = t.shape;
  shape[axis] = end - begin;
  Tensor out(shape);
  int64_t outer, inner;
  splitAround(t, axis, outer, inner);
  int64_t n = end - begin, full = t.shape[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k)
        out.data[(o * n + i) * inner + k] =
            t.data[(o * full + begin + i) * inner + k];
  return out;
}

void insertSlice(Tensor &dst, const Tensor &src, int64_t axis, int64_t begin) {
  if (axis < 0)
    axis += dst.rank();
  int64_t outer, inner;
  splitAround(dst, axis, outer, inner);
  int64_t n = src.shape[axis], full = dst.shape[axis];
  assert(begin + n <= full && "insertSlice out of range");
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k)
        dst.data[(o * full + begin + i) * inner + k] =
            src.data[(o * n + i) * inner + k];
}

void addInPlace(Tensor &dst, const Tensor &src) {
  assert(dst.shape == src.shape && "addInPlace shape mismatch");
  for (int64_t i = 0; i < dst.numel(); ++i)
    dst.data[i] += src.data[i];
}

} // namespace gecko::ref
