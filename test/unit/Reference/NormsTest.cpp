//===- NormsTest.cpp - Group RMS/layer norm, z split (spec §3) ------------===//

#include "GradCheck.h"

#include "gecko/Reference/Norms.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr double kEps = 1e-5;

struct NormCase {
  Tensor x, weight, bias, dy;
  explicit NormCase(std::mt19937_64 &rng) {
    x = randomTensor({2, 3, 12}, rng, -2.0, 2.0);
    weight = randomTensor({12}, rng, -0.5, 0.5);
    bias = randomTensor({12}, rng);
    dy = randomTensor(x.shape, rng);
  }
};

class GroupNormTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(GroupNormTest, RmsNormGradients) {
  int64_t groups = GetParam();
  std::mt19937_64 rng(40 + groups);
  NormCase c(rng);
  NormGrads grads = groupRmsNormBackward(c.x, groups, &c.weight, kEps, c.dy);
  auto loss = [&] {
    return dot(c.dy, groupRmsNorm(c.x, groups, &c.weight, kEps));
  };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.weight, loss, c.weight)) << "dweight";
  EXPECT_TRUE(grads.bias.data.empty());
}

TEST_P(GroupNormTest, RmsNormGradientsWithoutAffine) {
  int64_t groups = GetParam();
  std::mt19937_64 rng(50 + groups);
  NormCase c(rng);
  NormGrads grads = groupRmsNormBackward(c.x, groups, nullptr, kEps, c.dy);
  auto loss = [&] {
    return dot(c.dy, groupRmsNorm(c.x, groups, nullptr, kEps));
  };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x));
  EXPECT_TRUE(grads.weight.data.empty());
}

TEST_P(GroupNormTest, LayerNormGradients) {
  int64_t groups = GetParam();
  std::mt19937_64 rng(60 + groups);
  NormCase c(rng);
  NormGrads grads =
      groupLayerNormBackward(c.x, groups, &c.weight, &c.bias, kEps, c.dy);
  auto loss = [&] {
    return dot(c.dy, groupLayerNorm(c.x, groups, &c.weight, &c.bias, kEps));
  };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.weight, loss, c.weight)) << "dweight";
  EXPECT_TRUE(gradientMatches(grads.bias, loss, c.bias)) << "dbias";
}

TEST_P(GroupNormTest, LayerNormGradientsWeightOnly) {
  int64_t groups = GetParam();
  std::mt19937_64 rng(70 + groups);
  NormCase c(rng);
  NormGrads grads =
      groupLayerNormBackward(c.x, groups, &c.weight, nullptr, kEps, c.dy);
  auto loss = [&] {
    return dot(c.dy, groupLayerNorm(c.x, groups, &c.weight, nullptr, kEps));
  };
  EXPECT_TRUE(gradientMatches(grads.x, loss, c.x)) << "dx";
  EXPECT_TRUE(gradientMatches(grads.weight, loss, c.weight)) << "dweight";
  EXPECT_TRUE(grads.bias.data.empty());
}

// Naive restatement of both norms for every group of every row.
TEST_P(GroupNormTest, MatchesNaiveFormula) {
  int64_t groups = GetParam();
  std::mt19937_64 rng(80 + groups);
  NormCase c(rng);
  Tensor rms = groupRmsNorm(c.x, groups, &c.weight, kEps);
  Tensor ln = groupLayerNorm(c.x, groups, &c.weight, &c.bias, kEps);
  int64_t features = c.x.dim(-1), size = features / groups;
  for (int64_t row = 0; row < c.x.numel() / features; ++row)
    for (int64_t g = 0; g < groups; ++g) {
      const double *xs = &c.x.data[row * features + g * size];
      double mean = 0, meanSq = 0, var = 0;
      for (int64_t j = 0; j < size; ++j) {
        mean += xs[j] / size;
        meanSq += xs[j] * xs[j] / size;
      }
      for (int64_t j = 0; j < size; ++j)
        var += (xs[j] - mean) * (xs[j] - mean) / size;
      for (int64_t j = 0; j < size; ++j) {
        int64_t i = g * size + j, e = row * features + i;
        EXPECT_NEAR(rms[e],
                    xs[j] / std::sqrt(meanSq + kEps) * (c.weight[i] + 1),
                    1e-13);
        EXPECT_NEAR(ln[e],
                    (xs[j] - mean) / std::sqrt(var + kEps) * (c.weight[i] + 1) +
                        c.bias[i],
                    1e-13);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Groups, GroupNormTest, ::testing::Values(1, 3, 4));

struct ZSplitCase {
  static constexpr int64_t kHeads = 2, kFeatures = 10;
  Tensor z, gamma, beta, dq, dk, daq, dak;
  explicit ZSplitCase(std::mt19937_64 &rng) {
    z = randomTensor({2, 3, kFeatures}, rng, -2.0, 2.0);
    gamma = randomTensor({4, kFeatures}, rng, -0.5, 0.5);
    beta = randomTensor({4, kFeatures}, rng);
    dq = randomTensor(z.shape, rng);
    dk = randomTensor(z.shape, rng);
    daq = randomTensor(z.shape, rng);
    dak = randomTensor(z.shape, rng);
  }
};

TEST(ZSplitTest, Gradients) {
  std::mt19937_64 rng(90);
  ZSplitCase c(rng);
  ZSplitGrads grads = zSplitBackward(c.z, c.gamma, c.beta, ZSplitCase::kHeads,
                                     kEps, &c.dq, &c.dk, &c.daq, &c.dak);
  auto loss = [&] {
    ZSplitResult r =
        zSplitForward(c.z, c.gamma, c.beta, ZSplitCase::kHeads, kEps);
    return dot(c.dq, r.q) + dot(c.dk, r.k) + dot(c.daq, r.aq) +
           dot(c.dak, r.ak);
  };
  EXPECT_TRUE(gradientMatches(grads.z, loss, c.z)) << "dz";
  EXPECT_TRUE(gradientMatches(grads.gamma, loss, c.gamma)) << "dgamma";
  EXPECT_TRUE(gradientMatches(grads.beta, loss, c.beta)) << "dbeta";
}

TEST(ZSplitTest, GradientsWithAbsentUpstream) {
  std::mt19937_64 rng(91);
  ZSplitCase c(rng);
  // Only k and ak feed the loss; rows 0 and 2 of gamma/beta get nothing.
  ZSplitGrads grads = zSplitBackward(c.z, c.gamma, c.beta, ZSplitCase::kHeads,
                                     kEps, nullptr, &c.dk, nullptr, &c.dak);
  auto loss = [&] {
    ZSplitResult r =
        zSplitForward(c.z, c.gamma, c.beta, ZSplitCase::kHeads, kEps);
    return dot(c.dk, r.k) + dot(c.dak, r.ak);
  };
  EXPECT_TRUE(gradientMatches(grads.z, loss, c.z)) << "dz";
  EXPECT_TRUE(tensorsNear(grads.gamma, numericGradient(loss, c.gamma)));
  EXPECT_TRUE(tensorsNear(grads.beta, numericGradient(loss, c.beta)));
  for (int64_t i = 0; i < ZSplitCase::kFeatures; ++i) {
    EXPECT_EQ(grads.gamma.at(0, i), 0.0);
    EXPECT_EQ(grads.beta.at(2, i), 0.0);
  }
}

// q/k/aq/ak = per-head RMS(z) · (γ_r + 1)/√dz + β_r, restated per element.
TEST(ZSplitTest, MatchesNaiveFormula) {
  std::mt19937_64 rng(92);
  ZSplitCase c(rng);
  ZSplitResult r =
      zSplitForward(c.z, c.gamma, c.beta, ZSplitCase::kHeads, kEps);
  const Tensor *outs[4] = {&r.q, &r.k, &r.aq, &r.ak};
  int64_t headDim = ZSplitCase::kFeatures / ZSplitCase::kHeads;
  for (int64_t tok = 0; tok < 6; ++tok)
    for (int64_t h = 0; h < ZSplitCase::kHeads; ++h) {
      const double *zs = &c.z.data[tok * ZSplitCase::kFeatures + h * headDim];
      double meanSq = 0;
      for (int64_t j = 0; j < headDim; ++j)
        meanSq += zs[j] * zs[j] / headDim;
      for (int64_t row = 0; row < 4; ++row)
        for (int64_t j = 0; j < headDim; ++j) {
          int64_t i = h * headDim + j;
          double expected = zs[j] / std::sqrt(meanSq + kEps) *
                                (c.gamma.at(row, i) + 1) / std::sqrt(headDim) +
                            c.beta.at(row, i);
          EXPECT_NEAR((*outs[row])[tok * ZSplitCase::kFeatures + i], expected,
                      1e-13);
        }
    }
}

TEST(NormsDeathTest, RejectsGroupsNotDividingFeatures) {
  std::mt19937_64 rng(93);
  NormCase c(rng);
  EXPECT_DEATH(groupRmsNorm(c.x, 5, nullptr, kEps), "numGroups must divide");
}

} // namespace
