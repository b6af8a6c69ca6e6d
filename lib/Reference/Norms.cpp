//===- Norms.cpp - Group RMS/layer norm, z split (spec §3) ----------------===//
//
// Every norm works on groups of consecutive elements of the last dimension;
// the tensor is viewed as rows of D = G * groupSize values.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/Norms.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gecko::ref {

namespace {

// Shape errors are programming errors; fail loudly even in release builds.
void require(bool ok, const char *what) {
  if (ok)
    return;
  std::fprintf(stderr, "gecko::ref::norms: %s\n", what);
  std::abort();
}

/// A tensor viewed as (rows, groups, groupSize).
struct GroupView {
  int64_t rows, groups, groupSize;
  int64_t features() const { return groups * groupSize; }
};

GroupView checkNormShapes(const Tensor &x, int64_t numGroups,
                          const Tensor *weight, const Tensor *bias) {
  require(x.rank() >= 1, "x must have at least one dimension");
  int64_t features = x.dim(-1);
  require(numGroups > 0 && features % numGroups == 0,
          "numGroups must divide the last dimension");
  require(!weight || weight->shape == std::vector<int64_t>{features},
          "weight must match the last dimension");
  require(!bias || bias->shape == std::vector<int64_t>{features},
          "bias must match the last dimension");
  return {features ? x.numel() / features : 0, numGroups, features / numGroups};
}

double scaleAt(const Tensor *weight, int64_t i) {
  return weight ? (*weight)[i] + 1.0 : 1.0;
}

/// Normalised values x̂ and the reciprocal scale r of one group; `centered`
/// selects layer norm (subtract the mean) over RMS norm.
double normalizeGroup(const double *x, int64_t n, double eps, bool centered,
                      double *xHat) {
  double mean = 0.0;
  if (centered) {
    for (int64_t i = 0; i < n; ++i)
      mean += x[i];
    mean /= n;
  }
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sq += (x[i] - mean) * (x[i] - mean);
  double rstd = 1.0 / std::sqrt(sq / n + eps);
  for (int64_t i = 0; i < n; ++i)
    xHat[i] = (x[i] - mean) * rstd;
  return rstd;
}

Tensor groupNormForward(const Tensor &x, int64_t numGroups,
                        const Tensor *weight, const Tensor *bias, double eps,
                        bool centered) {
  GroupView v = checkNormShapes(x, numGroups, weight, bias);
  Tensor y(x.shape);
  for (int64_t r = 0; r < v.rows; ++r)
    for (int64_t g = 0; g < v.groups; ++g) {
      int64_t base = r * v.features() + g * v.groupSize;
      normalizeGroup(&x.data[base], v.groupSize, eps, centered, &y.data[base]);
      for (int64_t j = 0; j < v.groupSize; ++j) {
        int64_t i = g * v.groupSize + j;
        y[base + j] =
            y[base + j] * scaleAt(weight, i) + (bias ? (*bias)[i] : 0.0);
      }
    }
  return y;
}

NormGrads groupNormBackward(const Tensor &x, int64_t numGroups,
                            const Tensor *weight, const Tensor *bias,
                            double eps, const Tensor &dy, bool centered) {
  GroupView v = checkNormShapes(x, numGroups, weight, bias);
  require(dy.shape == x.shape, "dy must have the shape of x");
  NormGrads grads;
  grads.x = Tensor(x.shape);
  if (weight)
    grads.weight = Tensor(weight->shape);
  if (bias)
    grads.bias = Tensor(bias->shape);
  std::vector<double> xHat(v.groupSize), scaledGrad(v.groupSize);
  for (int64_t r = 0; r < v.rows; ++r)
    for (int64_t g = 0; g < v.groups; ++g) {
      int64_t base = r * v.features() + g * v.groupSize;
      double rstd = normalizeGroup(&x.data[base], v.groupSize, eps, centered,
                                   xHat.data());
      // g = (w+1) dy; RMS: dx = r(g − x̂ mean(g x̂));
      // LN additionally removes mean(g).
      double meanGrad = 0.0, meanGradXHat = 0.0;
      for (int64_t j = 0; j < v.groupSize; ++j) {
        int64_t i = g * v.groupSize + j;
        scaledGrad[j] = dy[base + j] * scaleAt(weight, i);
        meanGrad += scaledGrad[j];
        meanGradXHat += scaledGrad[j] * xHat[j];
        if (weight)
          grads.weight[i] += dy[base + j] * xHat[j];
        if (bias)
          grads.bias[i] += dy[base + j];
      }
      meanGrad = centered ? meanGrad / v.groupSize : 0.0;
      meanGradXHat /= v.groupSize;
      for (int64_t j = 0; j < v.groupSize; ++j)
        grads.x[base + j] =
            rstd * (scaledGrad[j] - meanGrad - xHat[j] * meanGradXHat);
    }
  return grads;
}

constexpr int64_t kSplitRows = 4; // q, k, aq, ak

struct ZSplitDims {
  int64_t tokens, features, headDim;
};

ZSplitDims checkZSplitShapes(const Tensor &z, const Tensor &gamma,
                             const Tensor &beta, int64_t numHeads) {
  require(z.rank() == 3, "z must be (B, L, Z)");
  int64_t features = z.dim(2);
  require(numHeads > 0 && features % numHeads == 0,
          "numHeads must divide z_dim");
  std::vector<int64_t> paramShape{kSplitRows, features};
  require(gamma.shape == paramShape, "gamma must be (4, Z)");
  require(beta.shape == paramShape, "beta must be (4, Z)");
  return {z.dim(0) * z.dim(1), features, features / numHeads};
}

} // namespace

Tensor groupRmsNorm(const Tensor &x, int64_t numGroups, const Tensor *weight,
                    double eps) {
  return groupNormForward(x, numGroups, weight, nullptr, eps,
                          /*centered=*/false);
}

Tensor groupLayerNorm(const Tensor &x, int64_t numGroups, const Tensor *weight,
                      const Tensor *bias, double eps) {
  return groupNormForward(x, numGroups, weight, bias, eps, /*centered=*/true);
}

NormGrads groupRmsNormBackward(const Tensor &x, int64_t numGroups,
                               const Tensor *weight, double eps,
                               const Tensor &dy) {
  return groupNormBackward(x, numGroups, weight, nullptr, eps, dy,
                           /*centered=*/false);
}

NormGrads groupLayerNormBackward(const Tensor &x, int64_t numGroups,
                                 const Tensor *weight, const Tensor *bias,
                                 double eps, const Tensor &dy) {
  return groupNormBackward(x, numGroups, weight, bias, eps, dy,
                           /*centered=*/true);
}

ZSplitResult zSplitForward(const Tensor &z, const Tensor &gamma,
                           const Tensor &beta, int64_t numHeads, double eps) {
  ZSplitDims d = checkZSplitShapes(z, gamma, beta, numHeads);
  Tensor zn = groupRmsNorm(z, numHeads, nullptr, eps);
  double invSqrtHeadDim = 1.0 / std::sqrt(static_cast<double>(d.headDim));
  ZSplitResult result{Tensor(z.shape), Tensor(z.shape), Tensor(z.shape),
                      Tensor(z.shape)};
  Tensor *outs[kSplitRows] = {&result.q, &result.k, &result.aq, &result.ak};
  for (int64_t row = 0; row < kSplitRows; ++row)
    for (int64_t tok = 0; tok < d.tokens; ++tok)
      for (int64_t i = 0; i < d.features; ++i) {
        double scale = (gamma.at(row, i) + 1.0) * invSqrtHeadDim;
        (*outs[row])[tok * d.features + i] =
            zn[tok * d.features + i] * scale + beta.at(row, i);
      }
  return result;
}

ZSplitGrads zSplitBackward(const Tensor &z, const Tensor &gamma,
                           const Tensor &beta, int64_t numHeads, double eps,
                           const Tensor *dq, const Tensor *dk,
                           const Tensor *daq, const Tensor *dak) {
  ZSplitDims d = checkZSplitShapes(z, gamma, beta, numHeads);
  const Tensor *upstream[kSplitRows] = {dq, dk, daq, dak};
  for (const Tensor *g : upstream)
    require(!g || g->shape == z.shape, "output grads must have the shape of z");
  Tensor zn = groupRmsNorm(z, numHeads, nullptr, eps);
  double invSqrtHeadDim = 1.0 / std::sqrt(static_cast<double>(d.headDim));
  ZSplitGrads grads;
  grads.gamma = Tensor(gamma.shape);
  grads.beta = Tensor(beta.shape);
  Tensor dzn(z.shape);
  for (int64_t row = 0; row < kSplitRows; ++row) {
    if (!upstream[row])
      continue;
    const Tensor &dout = *upstream[row];
    for (int64_t tok = 0; tok < d.tokens; ++tok)
      for (int64_t i = 0; i < d.features; ++i) {
        int64_t e = tok * d.features + i;
        double scale = (gamma.at(row, i) + 1.0) * invSqrtHeadDim;
        dzn[e] += dout[e] * scale;
        grads.gamma.at(row, i) += dout[e] * zn[e] * invSqrtHeadDim;
        grads.beta.at(row, i) += dout[e];
      }
  }
  grads.z = groupRmsNormBackward(z, numHeads, nullptr, eps, dzn).x;
  return grads;
}

} // namespace gecko::ref
