//===- GradCheck.h - Finite-difference helpers for reference tests -*- C++ -*-//
//
// Shared by the reference-library unit tests: random inputs, a scalar loss
// Σ gout ⊙ out, central-difference gradients and relative comparisons.
// Everything is double, so central differences with eps ~1e-6 are accurate
// to ~1e-9 relative for the smooth ops of the reference library.
//
// Two gradient checks: gradientMatches compares every element against
// tol * max(1, |numeric|) (op-level tests); sampledGradientMatches compares
// chosen elements against the stricter tol * max(|numeric|, 1e-2), for the
// block and model tests whose losses are too expensive to difference fully.
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

/// Central difference of `loss` with respect to element `i` of `param`,
/// which is perturbed in place and restored.
inline double centralDifference(const std::function<double()> &loss,
                                Tensor &param, int64_t i, double eps) {
  double saved = param[i];
  param[i] = saved + eps;
  double plus = loss();
  param[i] = saved - eps;
  double minus = loss();
  param[i] = saved;
  return (plus - minus) / (2.0 * eps);
}

/// Central-difference gradient of `loss` with respect to every element of
/// `param`; `param` is perturbed in place and restored, so `loss` must read it
/// by reference.
inline Tensor numericGradient(const std::function<double()> &loss,
                              Tensor &param, double eps = 1e-6) {
  Tensor grad(param.shape);
  for (int64_t i = 0; i < param.numel(); ++i)
    grad[i] = centralDifference(loss, param, i, eps);
  return grad;
}

/// True when `t` has elements and all of them are exactly zero.
inline bool isAllZero(const Tensor &t) {
  return t.numel() > 0 && std::all_of(t.data.begin(), t.data.end(),
                                      [](double v) { return v == 0.0; });
}

/// Passes when `t` is non-empty and exactly zero everywhere.
inline ::testing::AssertionResult allZero(const Tensor &t) {
  if (t.numel() == 0)
    return ::testing::AssertionFailure() << "empty tensor";
  for (double x : t.data)
    if (x != 0.0)
      return ::testing::AssertionFailure() << "non-zero entry " << x;
  return ::testing::AssertionSuccess();
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
  if (isAllZero(numeric))
    return ::testing::AssertionFailure()
           << "numeric gradient is identically zero: vacuous check";
  return tensorsNear(analytic, numeric, tol);
}

/// For an optional operand: when `present`, gradientMatches; otherwise the op
/// must return an empty gradient for it.
inline ::testing::AssertionResult
optionalGradientMatches(bool present, const Tensor &analytic,
                        const std::function<double()> &loss, Tensor &param) {
  if (present)
    return gradientMatches(analytic, loss, param);
  if (analytic.numel() != 0)
    return ::testing::AssertionFailure()
           << "gradient of an absent operand has " << analytic.numel()
           << " elements, expected none";
  return ::testing::AssertionSuccess();
}

/// Flat indices for a sampled check: every element when `samples` < 0 or
/// covers them all, else `samples` uniform picks from `rng`.
inline std::vector<int64_t> sampleIndices(int64_t numel, int samples,
                                          std::mt19937_64 &rng) {
  std::vector<int64_t> indices;
  if (samples < 0 || samples >= numel) {
    for (int64_t i = 0; i < numel; ++i)
      indices.push_back(i);
  } else {
    std::uniform_int_distribution<int64_t> pick(0, numel - 1);
    for (int s = 0; s < samples; ++s)
      indices.push_back(pick(rng));
  }
  return indices;
}

/// Step and relative floor of sampledGradientMatches.
constexpr double kSampledEps = 1e-5, kSampledFloor = 1e-2;

/// Checks `analytic` against central differences (step kSampledEps) of `loss`
/// at the flat `indices` of `param`: |a - n| <= tol * max(|n|, 1e-2). Fails on
/// a shape mismatch and on an identically zero analytic gradient; reports
/// how many sampled indices mismatch and the first few, prefixed with `what`.
inline ::testing::AssertionResult
sampledGradientMatches(const std::string &what, const Tensor &analytic,
                       const std::function<double()> &loss, Tensor &param,
                       const std::vector<int64_t> &indices, double tol = 1e-6) {
  if (analytic.shape != param.shape)
    return ::testing::AssertionFailure()
           << what << ": gradient shape " << analytic.shapeString() << " vs "
           << param.shapeString();
  if (std::all_of(analytic.data.begin(), analytic.data.end(),
                  [](double v) { return v == 0.0; }))
    return ::testing::AssertionFailure() << what << ": gradient is all zero";
  std::ostringstream mismatches;
  int64_t failed = 0;
  for (int64_t i : indices) {
    double numeric = centralDifference(loss, param, i, kSampledEps);
    double a = analytic[i];
    if (std::fabs(a - numeric) <=
        tol * std::max(std::fabs(numeric), kSampledFloor))
      continue;
    if (failed++ < 5) // keep the message readable
      mismatches << what << "[" << i << "]: analytic " << a << " vs numeric "
                 << numeric << "; ";
  }
  if (failed)
    return ::testing::AssertionFailure()
           << failed << " of " << indices.size()
           << " sampled elements differ: " << mismatches.str();
  return ::testing::AssertionSuccess();
}

/// sampledGradientMatches at `samples` random elements (all when < 0).
inline ::testing::AssertionResult
sampledGradientMatches(const std::string &what, const Tensor &analytic,
                       const std::function<double()> &loss, Tensor &param,
                       int samples, std::mt19937_64 &rng, double tol = 1e-6) {
  return sampledGradientMatches(what, analytic, loss, param,
                                sampleIndices(param.numel(), samples, rng),
                                tol);
}

} // namespace gecko::ref::testutil

#endif // GECKO_TEST_UNIT_REFERENCE_GRADCHECK_H
