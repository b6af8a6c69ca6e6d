//===- TimestepNormTest.cpp - Timestep decay norm (spec §1) ---------------===//

#include "GradCheck.h"

#include "gecko/Reference/Norms.h"
#include "gecko/Reference/TimestepNorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr int64_t kBatch = 2, kLength = 7, kChannels = 8, kGroups = 2;

/// Random inputs, carried state, masks and upstream gradients for one case.
struct TsnCase {
  TimestepNormConfig config;
  Tensor x, weight, bias, prevCount, prevMean, prevVar, bos, padding;
  Tensor dy, dMean, dVar;
  bool withState = false, withBos = false, withPadding = false;

  explicit TsnCase(std::mt19937_64 &rng) {
    // Strong decay so that carried state and resets matter within 7 steps.
    config = TimestepNormConfig{kGroups, 0.9, 0.99, 1e-5};
    x = randomTensor({kBatch, kLength, kChannels}, rng, -2.0, 2.0);
    weight = randomTensor({kChannels}, rng, -0.5, 0.5);
    bias = randomTensor({kChannels}, rng);
    prevCount = Tensor({kBatch}, std::vector<double>{3.0, 11.0});
    prevMean = randomTensor({kBatch, kGroups}, rng, -0.5, 0.5);
    prevVar = randomTensor({kBatch, kGroups}, rng, 0.1, 0.6);
    // Fixed masks covering: bos at 0, a later bos, a bos on a padded step,
    // padding at the start and in the middle.
    bos = Tensor({kBatch, kLength}, std::vector<double>{0, 0, 1, 0, 0, 1, 0, //
                                                        1, 0, 0, 1, 0, 0, 0});
    padding =
        Tensor({kBatch, kLength}, std::vector<double>{1, 0, 0, 0, 1, 0, 0, //
                                                      0, 0, 1, 1, 0, 0, 1});
    dy = randomTensor(x.shape, rng);
    dMean = randomTensor({kBatch, kGroups}, rng);
    dVar = randomTensor({kBatch, kGroups}, rng);
  }

  const Tensor *count() const { return withState ? &prevCount : nullptr; }
  const Tensor *mean() const { return withState ? &prevMean : nullptr; }
  const Tensor *var() const { return withState ? &prevVar : nullptr; }
  const Tensor *bosMask() const { return withBos ? &bos : nullptr; }
  const Tensor *padMask() const { return withPadding ? &padding : nullptr; }

  TimestepNormResult forward() const {
    return timestepNormForward(x, weight, bias, config, count(), mean(), var(),
                               bosMask(), padMask());
  }
  double loss() const {
    TimestepNormResult r = forward();
    return dot(dy, r.y) + dot(dMean, r.state.mean) + dot(dVar, r.state.var);
  }
  TimestepNormGrads backward() const {
    return timestepNormBackward(x, weight, bias, config, count(), mean(), var(),
                                bosMask(), padMask(), dy, &dMean, &dVar);
  }
};

void checkAllGradients(TsnCase &c) {
  TimestepNormGrads grads = c.backward();
  auto loss = [&] { return c.loss(); };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.weight, loss, c.weight)) << "dweight";
  EXPECT_TRUE(gradientMatches(grads.bias, loss, c.bias)) << "dbias";
  if (c.withState) {
    EXPECT_TRUE(gradientMatches(grads.prevMean, loss, c.prevMean))
        << "dprevMean";
    EXPECT_TRUE(gradientMatches(grads.prevVar, loss, c.prevVar)) << "dprevVar";
  }
}

TEST(TimestepNormTest, GradientsWithoutStateOrMasks) {
  std::mt19937_64 rng(1);
  TsnCase c(rng);
  checkAllGradients(c);
}

TEST(TimestepNormTest, GradientsWithStateBosAndPadding) {
  std::mt19937_64 rng(2);
  TsnCase c(rng);
  c.withState = c.withBos = c.withPadding = true;
  checkAllGradients(c);
}

TEST(TimestepNormTest, GradientsWithStateOnly) {
  std::mt19937_64 rng(3);
  TsnCase c(rng);
  c.withState = true;
  checkAllGradients(c);
}

TEST(TimestepNormTest, BosAtFirstStepCutsGradientToCarriedState) {
  std::mt19937_64 rng(4);
  TsnCase c(rng);
  c.withState = c.withBos = true;
  TimestepNormGrads grads = c.backward();
  // Row 1 starts with a bos: the carried state cannot matter.
  for (int64_t g = 0; g < kGroups; ++g) {
    EXPECT_EQ(grads.prevMean.at(1, g), 0.0);
    EXPECT_EQ(grads.prevVar.at(1, g), 0.0);
    EXPECT_NE(grads.prevMean.at(0, g), 0.0);
  }
}

TEST(TimestepNormTest, StreamingSplitEqualsOneCall) {
  std::mt19937_64 rng(5);
  TsnCase c(rng);
  c.withState = c.withBos = c.withPadding = true;
  TimestepNormResult whole = c.forward();
  for (int64_t split = 1; split < kLength; ++split) {
    Tensor x1 = slice(c.x, 1, 0, split), x2 = slice(c.x, 1, split, kLength);
    Tensor bos1 = slice(c.bos, 1, 0, split),
           bos2 = slice(c.bos, 1, split, kLength);
    Tensor pad1 = slice(c.padding, 1, 0, split),
           pad2 = slice(c.padding, 1, split, kLength);
    TimestepNormResult first =
        timestepNormForward(x1, c.weight, c.bias, c.config, &c.prevCount,
                            &c.prevMean, &c.prevVar, &bos1, &pad1);
    TimestepNormResult second =
        timestepNormForward(x2, c.weight, c.bias, c.config, &first.state.count,
                            &first.state.mean, &first.state.var, &bos2, &pad2);
    EXPECT_TRUE(tensorsNear(concat(first.y, second.y, 1), whole.y, 1e-13))
        << "split " << split;
    EXPECT_EQ(second.state.count.data, whole.state.count.data);
    EXPECT_TRUE(tensorsNear(second.state.mean, whole.state.mean, 1e-13));
    EXPECT_TRUE(tensorsNear(second.state.var, whole.state.var, 1e-13));
  }
}

TEST(TimestepNormTest, CountFollowsBosAndPadding) {
  std::mt19937_64 rng(6);
  TsnCase c(rng);
  c.withState = c.withBos = c.withPadding = true;
  TimestepNormResult r = c.forward();
  // Row 0: last effective bos at t=5, then t=6 -> count 2.
  // Row 1: last effective bos at t=0 (t=3 is padded), non-pad t=1,4,5 -> 4.
  EXPECT_EQ(r.state.count[0], 2.0);
  EXPECT_EQ(r.state.count[1], 4.0);
  c.withBos = false;
  r = c.forward();
  // Without bos: carried count plus the non-padded steps (5 and 4).
  EXPECT_EQ(r.state.count[0], 3.0 + 5.0);
  EXPECT_EQ(r.state.count[1], 11.0 + 4.0);
}

TEST(TimestepNormTest, PaddedStepsGiveZeroAndLeaveStateAlone) {
  std::mt19937_64 rng(7);
  TsnCase c(rng);
  c.withState = c.withPadding = true;
  TimestepNormResult r = c.forward();
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t t = 0; t < kLength; ++t)
      if (c.padding.at(b, t) != 0.0)
        for (int64_t i = 0; i < kChannels; ++i)
          EXPECT_EQ(r.y.at(b, t, i), 0.0);
  // Changing a padded token changes nothing.
  TsnCase changed = c;
  changed.x.at(0, 4, 3) += 10.0;
  TimestepNormResult r2 = changed.forward();
  EXPECT_EQ(r.y.data, r2.y.data);
  EXPECT_EQ(r.state.mean.data, r2.state.mean.data);
}

// A step with count 1 (first step or bos) has m̂ = gm and v̂ = gv, so the
// output is a plain group layer norm of that token.
TEST(TimestepNormTest, FirstStepIsGroupLayerNorm) {
  std::mt19937_64 rng(8);
  TsnCase c(rng);
  c.withBos = true;
  TimestepNormResult r = c.forward();
  for (int64_t t : {int64_t(0), int64_t(2), int64_t(5)}) {
    Tensor token = slice(c.x, 1, t, t + 1);
    Tensor expected =
        groupLayerNorm(token, kGroups, &c.weight, &c.bias, c.config.eps);
    EXPECT_TRUE(tensorsNear(slice(slice(r.y, 0, 0, 1), 1, t, t + 1),
                            slice(expected, 0, 0, 1), 1e-12))
        << "t = " << t;
  }
}

// Restates the recurrence of §1 step by step for one (b, g) on the second
// step, written out by hand.
TEST(TimestepNormTest, SecondStepMatchesHandWrittenRecurrence) {
  std::mt19937_64 rng(9);
  TsnCase c(rng);
  c.withState = true;
  TimestepNormResult r = c.forward();
  const int64_t b = 0, g = 1, size = kChannels / kGroups;
  double beta1 = c.config.beta1, beta2 = c.config.beta2;
  double m = c.prevMean.at(b, g), v = c.prevVar.at(b, g);
  double count = c.prevCount[b];
  double meanHat = 0, rstd = 0;
  for (int64_t t = 0; t < 2; ++t) {
    double gm = 0, gv = 0;
    for (int64_t i = 0; i < size; ++i)
      gm += c.x.at(b, t, g * size + i) / size;
    for (int64_t i = 0; i < size; ++i)
      gv += std::pow(c.x.at(b, t, g * size + i) - gm, 2) / size;
    m = beta1 * m + (1 - beta1) * gm;
    v = beta2 * v + (1 - beta2) * gv;
    count += 1;
    meanHat = m / (1 - std::pow(beta1, count));
    rstd = 1 / std::sqrt(v / (1 - std::pow(beta2, count)) + c.config.eps);
  }
  for (int64_t i = g * size; i < (g + 1) * size; ++i)
    EXPECT_NEAR(r.y.at(b, 1, i),
                (c.x.at(b, 1, i) - meanHat) * rstd * (c.weight[i] + 1) +
                    c.bias[i],
                1e-12);
}

TEST(TimestepNormTest, InfiniteLanesAreSkippedInStatistics) {
  std::mt19937_64 rng(10);
  TsnCase c(rng);
  c.x.at(0, 0, 1) = std::numeric_limits<double>::infinity();
  TimestepNormResult r = c.forward();
  const int64_t size = kChannels / kGroups;
  // Statistics over the finite lanes, still divided by the group size.
  double gm = 0, gv = 0;
  for (int64_t i = 0; i < size; ++i)
    if (i != 1)
      gm += c.x.at(0, 0, i) / size;
  for (int64_t i = 0; i < size; ++i)
    if (i != 1)
      gv += std::pow(c.x.at(0, 0, i) - gm, 2) / size;
  double rstd = 1 / std::sqrt(gv + c.config.eps);
  EXPECT_TRUE(std::isinf(r.y.at(0, 0, 1)));
  for (int64_t i = 0; i < size; ++i)
    if (i != 1)
      EXPECT_NEAR(r.y.at(0, 0, i),
                  (c.x.at(0, 0, i) - gm) * rstd * (c.weight[i] + 1) + c.bias[i],
                  1e-12);
  EXPECT_TRUE(std::isfinite(r.state.mean.at(0, 0)));
}

// An infinite input gives an infinite output that carries no gradient; the
// other lanes get exact gradients of the loss over the finite outputs (the
// golden loss also ignores non-finite outputs).
TEST(TimestepNormTest, GradientsWithAnInfiniteLane) {
  std::mt19937_64 rng(12);
  TsnCase c(rng);
  c.withState = c.withBos = true;
  const int64_t infAt = c.x.offset({0, 1, 2});
  c.x[infAt] = std::numeric_limits<double>::infinity();
  TimestepNormGrads grads = c.backward();
  EXPECT_EQ(grads.x[infAt], 0.0);
  auto finiteLoss = [&] {
    TimestepNormResult r = c.forward();
    double loss = dot(c.dMean, r.state.mean) + dot(c.dVar, r.state.var);
    for (int64_t i = 0; i < r.y.numel(); ++i)
      if (std::isfinite(r.y[i]))
        loss += c.dy[i] * r.y[i];
    return loss;
  };
  EXPECT_TRUE(gradientMatches(grads.x, finiteLoss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.prevMean, finiteLoss, c.prevMean));
  EXPECT_TRUE(gradientMatches(grads.prevVar, finiteLoss, c.prevVar));
  EXPECT_TRUE(gradientMatches(grads.weight, finiteLoss, c.weight));
  EXPECT_TRUE(gradientMatches(grads.bias, finiteLoss, c.bias));
}

TEST(TimestepNormDeathTest, RejectsMismatchedWeight) {
  std::mt19937_64 rng(11);
  TsnCase c(rng);
  c.weight = Tensor({kChannels + 1}, 0.5);
  EXPECT_DEATH(c.forward(), "weight must be");
}

} // namespace
