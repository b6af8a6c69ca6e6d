//===- Linear.cpp - Linear layer, SiLU, embedding -------------------------===//

#include "gecko/Reference/Linear.h"

#include <cmath>

namespace gecko::ref {

// Shape of x with its last dimension replaced.
static std::vector<int64_t> withLastDim(const Tensor &x, int64_t last) {
  std::vector<int64_t> shape = x.shape;
  shape.back() = last;
  return shape;
}

Tensor linearForward(const Tensor &x, const Tensor &weight,
                     const Tensor *bias) {
  int64_t out = weight.dim(0), in = weight.dim(1);
  assert(x.dim(-1) == in && "linear input width mismatch");
  assert((!bias || bias->numel() == out) && "linear bias size mismatch");
  int64_t rows = x.numel() / in;
  Tensor y(withLastDim(x, out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias ? (*bias)[o] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        acc += x[r * in + i] * weight[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

LinearGrads linearBackward(const Tensor &x, const Tensor &weight, bool hasBias,
                           const Tensor &dy) {
  int64_t out = weight.dim(0), in = weight.dim(1);
  int64_t rows = x.numel() / in;
  assert(dy.numel() == rows * out && "linear upstream gradient mismatch");
  LinearGrads g;
  g.x = Tensor(x.shape);
  g.weight = Tensor(weight.shape);
  if (hasBias)
    g.bias = Tensor({out});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double d = dy[r * out + o];
      if (hasBias)
        g.bias[o] += d;
      for (int64_t i = 0; i < in; ++i) {
        g.x[r * in + i] += d * weight[o * in + i];
        g.weight[o * in + i] += d * x[r * in + i];
      }
    }
  return g;
}

static double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

Tensor siluForward(const Tensor &x) {
  Tensor y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    y[i] = x[i] * sigmoid(x[i]);
  return y;
}

Tensor siluBackward(const Tensor &x, const Tensor &dy) {
  assert(x.shape == dy.shape && "silu gradient shape mismatch");
  Tensor dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    double s = sigmoid(x[i]);
    dx[i] = dy[i] * s * (1.0 + x[i] * (1.0 - s));
  }
  return dx;
}

Tensor embeddingForward(const Tensor &table, const Tensor &ids) {
  int64_t vocab = table.dim(0), width = table.dim(1);
  std::vector<int64_t> shape = ids.shape;
  shape.push_back(width);
  Tensor y(shape);
  for (int64_t t = 0; t < ids.numel(); ++t) {
    int64_t id = static_cast<int64_t>(ids[t]);
    assert(id >= 0 && id < vocab && "token id out of range");
    (void)vocab;
    for (int64_t d = 0; d < width; ++d)
      y[t * width + d] = table[id * width + d];
  }
  return y;
}

Tensor embeddingBackward(int64_t vocabSize, const Tensor &ids,
                         const Tensor &dy) {
  int64_t width = dy.dim(-1);
  assert(dy.numel() == ids.numel() * width && "embedding gradient mismatch");
  Tensor g({vocabSize, width});
  for (int64_t t = 0; t < ids.numel(); ++t) {
    int64_t id = static_cast<int64_t>(ids[t]);
    assert(id >= 0 && id < vocabSize && "token id out of range");
    for (int64_t d = 0; d < width; ++d)
      g[id * width + d] += dy[t * width + d];
  }
  return g;
}

Tensor multiply(const Tensor &a, const Tensor &b) {
  assert(a.shape == b.shape && "multiply shape mismatch");
  Tensor y(a.shape);
  for (int64_t i = 0; i < a.numel(); ++i)
    y[i] = a[i] * b[i];
  return y;
}

Tensor add(const Tensor &a, const Tensor &b) {
  assert(a.shape == b.shape && "add shape mismatch");
  Tensor y = a;
  addInPlace(y, b);
  return y;
}

} // namespace gecko::ref
