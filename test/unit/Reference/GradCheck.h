//===- GradCheck.h - Finite-difference helpers for reference tests -*- C++ -*-//
//
// Shared by the reference-library unit tests: random inputs, a scalar loss
// Σ gout ⊙ out, central-difference gradients and a relative comparison.
// Everything is double, so central differences with eps ~1e-6 are accurate
// to ~1e-9 relative for the smooth ops of the reference library.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TEST_UNIT_REFERENCE_GRADCHECK_H
#define GECKO_TEST_UNIT_REFERENCE_GRADCHECK_H

#include "gecko/Reference/Tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace gecko::ref::testutil {

/// Uniform values in [lo, hi) whose magnitude is at least `minAbs`, so that no
/// test silently runs on zeros.
inline Tensor randomTensor(std::vector<int64_t> shape, std::mt19937_64 &rng,
                           double lo = -1.0, double hi = 1.0,
                           double minAbs = 0.05) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<double> dist(lo, hi);
  for (double &v : t.data) {
    do
      v = dist(rng);
    while (std::fabs(v) < minAbs);
  }
  return t;
}

/// 0/1 mask of `shape` with each entry set with probability `p`.
inline Tensor randomMask(std::vector<int64_t> shape, std::mt19937_64 &rng,
                         double p) {
  Tensor t(std::move(shape));
  std::bernoulli_distribution dist(p);
  for (double &v : t.data)
    v = dist(rng) ? 1.0 : 0.0;
  return t;
}

/// Σ a ⊙ b over all elements (shapes must agree).
inline double dot(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape) << "dot of mismatched shapes";
  double s = 0.0;
  for (int64_t i = 0, e = std::min(a.numel(), b.numel()); i < e; ++i)
    s += a[i] * b[i];
  return s;
}

/// Central-difference gradient of `loss` with respect to every element of
/// `param`; `param` is perturbed in place and restored, so `loss` must read it
/// by reference.
inline Tensor numericGradient(const std::function<double()> &loss,
                              Tensor &param, double eps = 1e-6) {
  Tensor grad(param.shape);
  for (int64_t i = 0; i < param.numel(); ++i) {
    double saved = param[i];
    param[i] = saved + eps;
    double plus = loss();
    param[i] = saved - eps;
    double minus = loss();
    param[i] = saved;
    grad[i] = (plus - minus) / (2.0 * eps);
  }
  return grad;
}

/// Largest |a - b| / max(1, |b|) over all elements; +inf on shape mismatch or
/// a non-finite value.
inline double maxRelativeError(const Tensor &actual, const Tensor &expected) {
  if (actual.shape != expected.shape)
    return INFINITY;
  double worst = 0.0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    double a = actual[i], b = expected[i];
    if (!std::isfinite(a) || !std::isfinite(b))
      return INFINITY;
    worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
  }
  return worst;
}

/// Passes when every element agrees to `tol` relative (see maxRelativeError).
/// Also fails when `expected` is all zeros, which would make the check vacuous.
inline ::testing::AssertionResult
tensorsNear(const Tensor &actual, const Tensor &expected, double tol = 1e-6) {
  if (actual.shape != expected.shape)
    return ::testing::AssertionFailure()
           << "shape " << actual.shapeString() << " vs expected "
           << expected.shapeString();
  double err = maxRelativeError(actual, expected);
  if (!(err <= tol)) {
    std::ostringstream os;
    for (int64_t i = 0; i < actual.numel(); ++i) {
      double a = actual[i], b = expected[i];
      if (!(std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b)))) {
        os << "first mismatch at flat index " << i << ": " << a << " vs " << b;
        break;
      }
    }
    return ::testing::AssertionFailure()
           << "max relative error " << err << " > " << tol << "; " << os.str();
  }
  return ::testing::AssertionSuccess();
}

/// Checks an analytic gradient against central differences of `loss` with
/// respect to `param`, and that the gradient is not identically zero.
inline ::testing::AssertionResult
gradientMatches(const Tensor &analytic, const std::function<double()> &loss,
                Tensor &param, double tol = 1e-6, double eps = 1e-6) {
  Tensor numeric = numericGradient(loss, param, eps);
  bool allZero = std::all_of(numeric.data.begin(), numeric.data.end(),
                             [](double v) { return v == 0.0; });
  if (allZero && numeric.numel() > 0)
    return ::testing::AssertionFailure()
           << "numeric gradient is identically zero: vacuous check";
  return tensorsNear(analytic, numeric, tol);
}

} // namespace gecko::ref::testutil

#endif // GECKO_TEST_UNIT_REFERENCE_GRADCHECK_H
