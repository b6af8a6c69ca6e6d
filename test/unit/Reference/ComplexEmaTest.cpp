//===- ComplexEmaTest.cpp - Multi-head complex EMA (spec §2) --------------===//

#include "GradCheck.h"

#include "gecko/Reference/ComplexEma.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr int64_t kBatch = 2, kChannels = 3, kLength = 9, kOrder = 4;

struct CemaCase {
  Tensor alpha, delta, theta, gamma; // raw parameters
  CemaCoefficients coeffs;           // derived from them
  Tensor x, hx, bos, dy, dh;
  bool withHx = false, withBos = false;

  explicit CemaCase(std::mt19937_64 &rng) {
    alpha = randomTensor({kChannels, kOrder}, rng, -2.0, 2.0);
    delta = randomTensor({kChannels, kOrder}, rng, -2.0, 2.0);
    theta = randomTensor({kChannels}, rng, -2.0, 2.0);
    gamma = randomTensor({kChannels, kOrder, 2}, rng);
    coeffs = cemaCoefficients(alpha, delta, theta, gamma);
    x = randomTensor({kBatch, kChannels, kLength}, rng);
    hx = randomTensor({kBatch, kChannels, kOrder, 2}, rng);
    // Row 0: bos mid-sequence; row 1: bos at t=0 and later.
    bos = Tensor({kBatch, kLength},
                 std::vector<double>{0, 0, 0, 1, 0, 0, 0, 1, 0, //
                                     1, 0, 0, 0, 0, 1, 0, 0, 0});
    dy = randomTensor(x.shape, rng);
    dh = randomTensor(hx.shape, rng);
  }

  const Tensor *hxOrNull() const { return withHx ? &hx : nullptr; }
  const Tensor *bosOrNull() const { return withBos ? &bos : nullptr; }

  double loss(const CemaCoefficients &c) const {
    CemaResult r = cemaForward(x, c, hxOrNull(), bosOrNull());
    return dot(dy, r.y) + dot(dh, r.h);
  }
  double rawParamLoss() const {
    return loss(cemaCoefficients(alpha, delta, theta, gamma));
  }
  CemaScanGrads backward() const {
    return cemaBackward(x, coeffs, hxOrNull(), bosOrNull(), dy, &dh);
  }
};

void checkScanGradients(CemaCase &c) {
  CemaScanGrads grads = c.backward();
  auto loss = [&] { return c.loss(c.coeffs); };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.p, loss, c.coeffs.p)) << "dp";
  EXPECT_TRUE(gradientMatches(grads.q, loss, c.coeffs.q)) << "dq";
  EXPECT_TRUE(gradientMatches(grads.gamma, loss, c.coeffs.gamma)) << "dgamma";
  if (c.withHx)
    EXPECT_TRUE(gradientMatches(grads.hx, loss, c.hx)) << "dhx";
}

void checkParamGradients(CemaCase &c) {
  CemaParamGrads grads = cemaCoefficientsBackward(c.alpha, c.delta, c.theta,
                                                  c.gamma, c.backward());
  auto loss = [&] { return c.rawParamLoss(); };
  EXPECT_TRUE(gradientMatches(grads.alpha, loss, c.alpha)) << "dalpha";
  EXPECT_TRUE(gradientMatches(grads.delta, loss, c.delta)) << "ddelta";
  EXPECT_TRUE(gradientMatches(grads.theta, loss, c.theta)) << "dtheta";
  EXPECT_TRUE(gradientMatches(grads.gamma, loss, c.gamma)) << "dgamma";
}

TEST(ComplexEmaTest, ScanGradientsPlain) {
  std::mt19937_64 rng(21);
  CemaCase c(rng);
  checkScanGradients(c);
}

TEST(ComplexEmaTest, ScanGradientsWithHxAndBos) {
  std::mt19937_64 rng(22);
  CemaCase c(rng);
  c.withHx = c.withBos = true;
  checkScanGradients(c);
}

TEST(ComplexEmaTest, ScanGradientsWithHx) {
  std::mt19937_64 rng(23);
  CemaCase c(rng);
  c.withHx = true;
  checkScanGradients(c);
}

TEST(ComplexEmaTest, ParameterGradientsPlain) {
  std::mt19937_64 rng(24);
  CemaCase c(rng);
  checkParamGradients(c);
}

TEST(ComplexEmaTest, ParameterGradientsWithHxAndBos) {
  std::mt19937_64 rng(25);
  CemaCase c(rng);
  c.withHx = c.withBos = true;
  checkParamGradients(c);
}

TEST(ComplexEmaTest, CoefficientsFollowTheSpec) {
  std::mt19937_64 rng(26);
  CemaCase c(rng);
  const double pi = std::acos(-1.0);
  for (int64_t d = 0; d < kChannels; ++d)
    for (int64_t n = 0; n < kOrder; ++n) {
      double sa = 1 / (1 + std::exp(-c.alpha.at(d, n)));
      double sd = 1 / (1 + std::exp(-c.delta.at(d, n)));
      double st = 1 / (1 + std::exp(-c.theta[d]));
      double phase = (n + 1) * st * 2 * pi / kOrder;
      EXPECT_NEAR(c.coeffs.p.at(d, n), sa, 1e-15);
      EXPECT_NEAR(c.coeffs.q.at(d, n, 0), (1 - sa * sd) * std::cos(phase),
                  1e-15);
      EXPECT_NEAR(c.coeffs.q.at(d, n, 1), (1 - sa * sd) * std::sin(phase),
                  1e-15);
    }
  EXPECT_EQ(c.coeffs.gamma.data, c.gamma.data);
}

// Closed form: h_t = Σ_{s in window} q^(t−s) p x_s + [no bos ≤ t] q^(t+1) hx.
TEST(ComplexEmaTest, MatchesClosedForm) {
  std::mt19937_64 rng(27);
  CemaCase c(rng);
  c.withHx = c.withBos = true;
  CemaResult r = cemaForward(c.x, c.coeffs, &c.hx, &c.bos);
  using Complex = std::complex<double>;
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t d = 0; d < kChannels; ++d) {
      for (int64_t t = 0; t < kLength; ++t) {
        int64_t lastBos = -1;
        for (int64_t s = 0; s <= t; ++s)
          if (c.bos.at(b, s) != 0.0)
            lastBos = s;
        double y = c.x.at(b, d, t);
        for (int64_t n = 0; n < kOrder; ++n) {
          Complex q(c.coeffs.q.at(d, n, 0), c.coeffs.q.at(d, n, 1));
          Complex g(c.coeffs.gamma.at(d, n, 0), c.coeffs.gamma.at(d, n, 1));
          Complex h;
          for (int64_t s = std::max<int64_t>(lastBos, 0); s <= t; ++s)
            h += std::pow(q, double(t - s)) * c.coeffs.p.at(d, n) *
                 c.x.at(b, d, s);
          if (lastBos < 0)
            h += std::pow(q, double(t + 1)) *
                 Complex(c.hx.at(b, d, n, 0), c.hx.at(b, d, n, 1));
          y += (g * h).real();
          if (t == kLength - 1) {
            EXPECT_NEAR(r.h.at(b, d, n, 0), h.real(), 1e-12);
            EXPECT_NEAR(r.h.at(b, d, n, 1), h.imag(), 1e-12);
          }
        }
        EXPECT_NEAR(r.y.at(b, d, t), y, 1e-12);
      }
    }
}

TEST(ComplexEmaTest, SplitWithCarriedStateEqualsOneCall) {
  std::mt19937_64 rng(28);
  CemaCase c(rng);
  CemaResult whole = cemaForward(c.x, c.coeffs, &c.hx, &c.bos);
  for (int64_t split = 1; split < kLength; ++split) {
    Tensor bos1 = slice(c.bos, 1, 0, split),
           bos2 = slice(c.bos, 1, split, kLength);
    CemaResult first =
        cemaForward(slice(c.x, 2, 0, split), c.coeffs, &c.hx, &bos1);
    CemaResult second =
        cemaForward(slice(c.x, 2, split, kLength), c.coeffs, &first.h, &bos2);
    EXPECT_TRUE(tensorsNear(concat(first.y, second.y, 2), whole.y, 1e-13))
        << "split " << split;
    EXPECT_TRUE(tensorsNear(second.h, whole.h, 1e-13)) << "split " << split;
  }
}

TEST(ComplexEmaTest, HxHasNoEffectFromTheFirstBos) {
  std::mt19937_64 rng(29);
  CemaCase c(rng);
  CemaResult r1 = cemaForward(c.x, c.coeffs, &c.hx, &c.bos);
  Tensor otherHx = randomTensor(c.hx.shape, rng);
  CemaResult r2 = cemaForward(c.x, c.coeffs, &otherHx, &c.bos);
  for (int64_t d = 0; d < kChannels; ++d)
    for (int64_t t = 0; t < kLength; ++t) {
      // Row 0's first bos is at t=3; row 1 starts with one.
      if (t >= 3)
        EXPECT_EQ(r1.y.at(0, d, t), r2.y.at(0, d, t));
      else
        EXPECT_NE(r1.y.at(0, d, t), r2.y.at(0, d, t));
      EXPECT_EQ(r1.y.at(1, d, t), r2.y.at(1, d, t));
    }
  CemaScanGrads grads = cemaBackward(c.x, c.coeffs, &c.hx, &c.bos, c.dy, &c.dh);
  for (int64_t i = 0; i < kChannels * kOrder * 2; ++i)
    EXPECT_EQ(grads.hx[kChannels * kOrder * 2 + i], 0.0); // row 1
}

TEST(ComplexEmaDeathTest, RejectsMismatchedHx) {
  std::mt19937_64 rng(30);
  CemaCase c(rng);
  Tensor badHx({kBatch, kChannels, kOrder}, 0.5);
  EXPECT_DEATH(cemaForward(c.x, c.coeffs, &badHx, nullptr), "hx must be");
}

} // namespace
