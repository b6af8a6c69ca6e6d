//===- RopeTest.cpp - Rotary embedding (spec §4) --------------------------===//

#include "GradCheck.h"

#include "gecko/Reference/Rope.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr double kBase = 500000.0;
constexpr int64_t kBatch = 2, kLength = 5, kHeads = 3, kHeadDim = 8;

TEST(RopeTest, GradientPartialHeadsNonzeroStart) {
  std::mt19937_64 rng(100);
  RopeTable table = ropeTable(kHeadDim, kBase, 37, 37 + kLength);
  Tensor x = randomTensor({kBatch, kLength, kHeads, kHeadDim}, rng);
  Tensor dy = randomTensor(x.shape, rng);
  for (int64_t ropeHeads = 0; ropeHeads <= kHeads; ++ropeHeads) {
    Tensor dx = ropeBackward(dy, table, ropeHeads);
    auto loss = [&] { return dot(dy, ropeForward(x, table, ropeHeads)); };
    EXPECT_TRUE(gradientMatches(dx, loss, x)) << "rope heads " << ropeHeads;
  }
}

TEST(RopeTest, ZeroRopeHeadsIsIdentity) {
  std::mt19937_64 rng(101);
  RopeTable table = ropeTable(kHeadDim, kBase, 3, 3 + kLength);
  Tensor x = randomTensor({kBatch, kLength, kHeads, kHeadDim}, rng);
  EXPECT_EQ(ropeForward(x, table, 0).data, x.data);
  EXPECT_EQ(ropeBackward(x, table, 0).data, x.data);
}

TEST(RopeTest, RotatesOnlyTheFirstHeadsAndKeepsPairNorms) {
  std::mt19937_64 rng(102);
  RopeTable table = ropeTable(kHeadDim, kBase, 11, 11 + kLength);
  Tensor x = randomTensor({kBatch, kLength, kHeads, kHeadDim}, rng);
  Tensor y = ropeForward(x, table, 2);
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t t = 0; t < kLength; ++t)
      for (int64_t h = 0; h < kHeads; ++h)
        for (int64_t j = 0; j < kHeadDim / 2; ++j) {
          double e = x.at(b, t, h, 2 * j), o = x.at(b, t, h, 2 * j + 1);
          double re = y.at(b, t, h, 2 * j), im = y.at(b, t, h, 2 * j + 1);
          if (h >= 2) {
            EXPECT_EQ(re, e);
            EXPECT_EQ(im, o);
            continue;
          }
          // Complex multiplication by e^{i·angle}, restated.
          double c = table.cos.at(t, j), s = table.sin.at(t, j);
          EXPECT_NEAR(re, e * c - o * s, 1e-15);
          EXPECT_NEAR(im, e * s + o * c, 1e-15);
          EXPECT_NEAR(re * re + im * im, e * e + o * o, 1e-14);
        }
  EXPECT_TRUE(tensorsNear(ropeBackward(y, table, 2), x, 1e-14));
}

// Angles are the fp32 product of an fp32 position and the fp32 reciprocal of
// fp32(base^(2j/d)); restated here independently of the implementation.
TEST(RopeTest, TableUsesFp32Angles) {
  const int64_t headDim = 256, start = 100000, end = start + 3;
  RopeTable table = ropeTable(headDim, kBase, start, end);
  ASSERT_EQ(table.cos.shape, (std::vector<int64_t>{3, headDim / 2}));
  int64_t differsFromDouble = 0;
  for (int64_t t = start; t < end; ++t)
    for (int64_t j = 0; j < headDim / 2; ++j) {
      float inverse =
          1.0f /
          static_cast<float>(std::pow(kBase, double(2 * j) / double(headDim)));
      float angle = static_cast<float>(t) * inverse;
      EXPECT_EQ(table.cos.at(t - start, j), std::cos(double(angle)));
      EXPECT_EQ(table.sin.at(t - start, j), std::sin(double(angle)));
      double exactAngle = t * std::pow(kBase, -double(2 * j) / headDim);
      if (std::fabs(std::cos(exactAngle) - table.cos.at(t - start, j)) > 1e-6)
        ++differsFromDouble;
    }
  // At this position fp32 angle formation is visibly different from double.
  EXPECT_GT(differsFromDouble, 0);
}

TEST(RopeTest, TableStartsAtPositionZeroWithIdentity) {
  RopeTable table = ropeTable(kHeadDim, kBase, 0, kLength);
  for (int64_t j = 0; j < kHeadDim / 2; ++j) {
    EXPECT_EQ(table.cos.at(0, j), 1.0);
    EXPECT_EQ(table.sin.at(0, j), 0.0);
  }
  // j = 0 has frequency 1: the angle is the position itself.
  for (int64_t t = 0; t < kLength; ++t)
    EXPECT_EQ(table.sin.at(t, 0), std::sin(double(t)));
  // A shifted table is a slice of a longer one.
  RopeTable shifted = ropeTable(kHeadDim, kBase, 2, kLength);
  EXPECT_EQ(shifted.cos.data, slice(table.cos, 0, 2, kLength).data);
  EXPECT_EQ(shifted.sin.data, slice(table.sin, 0, 2, kLength).data);
}

TEST(RopeDeathTest, RejectsTooManyRopeHeads) {
  RopeTable table = ropeTable(kHeadDim, kBase, 0, kLength);
  Tensor x({kBatch, kLength, kHeads, kHeadDim}, 0.5);
  EXPECT_DEATH(ropeForward(x, table, kHeads + 1), "numRopeHeads");
}

} // namespace
