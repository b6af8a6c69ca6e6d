//===- BlockTest.cpp - NFFN / GeckoBlock reference tests ------------------===//
//
// Finite-difference checks of the linear helpers, the NFFN and the whole
// block backward; streaming equals one call; bad calls are reported.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"
#include "TinyModel.h"

#include "gecko/Reference/Block.h"
#include "gecko/Reference/Linear.h"
#include "gecko/Reference/Model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

TEST(LinearTest, ForwardMatchesNaiveSumAndBackwardMatchesDifferences) {
  std::mt19937_64 rng(11);
  Tensor x = randomTensor({2, 3, 5}, rng);
  Tensor w = randomTensor({4, 5}, rng);
  Tensor b = randomTensor({4}, rng);
  Tensor y = linearForward(x, w, &b);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t o = 0; o < 4; ++o) {
        double expect = b[o];
        for (int64_t k = 0; k < 5; ++k)
          expect += x.at(i, t, k) * w.at(o, k);
        EXPECT_NEAR(y.at(i, t, o), expect, 1e-14);
      }
  Tensor gout = randomTensor(y.shape, rng);
  auto loss = [&] { return dot(linearForward(x, w, &b), gout); };
  LinearGrads g = linearBackward(x, w, true, gout);
  EXPECT_TRUE(sampledGradientMatches("x", g.x, loss, x, -1, rng));
  EXPECT_TRUE(sampledGradientMatches("w", g.weight, loss, w, -1, rng));
  EXPECT_TRUE(sampledGradientMatches("b", g.bias, loss, b, -1, rng));
}

TEST(LinearTest, SiluAndEmbedding) {
  std::mt19937_64 rng(12);
  Tensor x = randomTensor({3, 7}, rng, -4.0, 4.0);
  Tensor y = siluForward(x);
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_NEAR(y[i], x[i] / (1.0 + std::exp(-x[i])), 1e-15);
  Tensor gout = randomTensor(x.shape, rng);
  auto silu = [&] { return dot(siluForward(x), gout); };
  EXPECT_TRUE(
      sampledGradientMatches("silu", siluBackward(x, gout), silu, x, -1, rng));

  Tensor table = randomTensor({5, 3}, rng);
  Tensor ids({2, 3}, {4, 0, 4, 2, 2, 1});
  Tensor e = embeddingForward(table, ids);
  for (int64_t t = 0; t < 6; ++t)
    for (int64_t d = 0; d < 3; ++d)
      EXPECT_EQ(e[t * 3 + d], table.at(static_cast<int64_t>(ids[t]), d));
  Tensor ge = randomTensor(e.shape, rng);
  auto emb = [&] { return dot(embeddingForward(table, ids), ge); };
  Tensor grad = embeddingBackward(5, ids, ge);
  // Row 3 is never looked up: its gradient is exactly zero.
  for (int64_t d = 0; d < 3; ++d)
    EXPECT_EQ(grad.at(3, d), 0.0);
  EXPECT_TRUE(sampledGradientMatches("embed", grad, emb, table, -1, rng));
}

TEST(NffnTest, BackwardMatchesDifferences) {
  GeckoConfig cfg = tinyConfig();
  cfg.layernorm_num_groups = 2;
  ParamMap params = randomParams(blockParamShapes(cfg, ""), 3);
  std::mt19937_64 rng(13);
  Tensor x = randomTensor({2, 5, cfg.model_dim}, rng, -2.0, 2.0);
  Tensor res = randomTensor(x.shape, rng);
  Tensor gout = randomTensor(x.shape, rng);
  auto loss = [&] {
    return dot(nffnForward(params, "nffn.", cfg, x, res), gout);
  };
  NffnGrads g = nffnBackward(params, "nffn.", cfg, x, gout);
  EXPECT_TRUE(sampledGradientMatches("x", g.x, loss, x, -1, rng));
  ASSERT_EQ(g.params.size(), 5u);
  for (auto &[name, grad] : g.params)
    EXPECT_TRUE(
        sampledGradientMatches(name, grad, loss, params.at(name), 8, rng));
}

/// The full block backward against central differences: dx everywhere and
/// a sample of every parameter gradient.
void checkBlockBackward(const GeckoConfig &cfg, int64_t length, bool segments,
                        uint64_t seed) {
  std::string prefix = "layers.1.";
  ParamMap params = randomParams(blockParamShapes(cfg, prefix), seed);
  std::mt19937_64 rng(seed + 100);
  Tensor x = randomTensor({2, length, cfg.model_dim}, rng, -2.0, 2.0);
  Tensor bos = randomMask({2, length}, rng, 0.2);
  bos.at(0, 0) = 1.0;
  bos.at(1, length / 2) = 1.0;
  Tensor seg = segmentIdsOfBos(bos);
  const Tensor *bosPtr = segments ? &bos : nullptr;
  const Tensor *segPtr = segments ? &seg : nullptr;
  BlockSegments segs;
  segs.bos = bosPtr;
  segs.seg = segPtr;
  Tensor gout = randomTensor(x.shape, rng);
  auto loss = [&] {
    Checked<Tensor> y = blockForward(params, prefix, cfg, x, segs, nullptr);
    EXPECT_TRUE(y) << y.error;
    return y ? dot(*y, gout) : NAN;
  };
  Checked<BlockGrads> g =
      blockBackward(params, prefix, cfg, x, bosPtr, segPtr, gout);
  ASSERT_TRUE(g) << g.error;
  EXPECT_TRUE(sampledGradientMatches("x", g->x, loss, x, -1, rng));
  ParamShapes shapes = blockParamShapes(cfg, prefix);
  ASSERT_EQ(g->params.size(), shapes.size());
  for (const auto &[name, shape] : shapes) {
    ASSERT_TRUE(g->params.count(name)) << "no gradient for " << name;
    EXPECT_TRUE(sampledGradientMatches(name, g->params.at(name), loss,
                                       params.at(name), 6, rng));
  }
}

// Three chunks: AWM reads a non-empty memory in the last one.
TEST(BlockTest, BackwardChunkedMatchesDifferences) {
  checkBlockBackward(tinyConfig(), 12, /*segments=*/false, 21);
}

TEST(BlockTest, BackwardChunkedWithSegmentsMatchesDifferences) {
  GeckoConfig cfg = tinyConfig();
  cfg.layernorm_num_groups = 2;
  cfg.num_rope_heads.reset();
  checkBlockBackward(cfg, 12, /*segments=*/true, 22);
}

TEST(BlockTest, BackwardShortPathMatchesDifferences) {
  GeckoConfig cfg = tinyConfig();
  cfg.chunk_size = 8; // L = 5 < C: short attention, AWM contributes nothing
  checkBlockBackward(cfg, 5, /*segments=*/true, 23);
}

// Streaming a single document through one block reproduces one call.
TEST(BlockTest, StreamingEqualsOneCall) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(blockParamShapes(cfg, ""), 31);
  std::mt19937_64 rng(32);
  Tensor x = randomTensor({2, 16, cfg.model_dim}, rng, -2.0, 2.0);
  Checked<Tensor> full = blockForward(params, "", cfg, x, {}, nullptr);
  ASSERT_TRUE(full) << full.error;
  for (std::vector<int64_t> schedule : {std::vector<int64_t>{4, 4, 4, 4},
                                        {8, 3, 1, 4},
                                        {1, 1, 1, 1, 8, 2, 1, 1},
                                        {2, 1, 1, 12}}) {
    LayerCache cache;
    int64_t pos = 0;
    for (int64_t n : schedule) {
      Checked<Tensor> part =
          blockForward(params, "", cfg, slice(x, 1, pos, pos + n), {}, &cache);
      ASSERT_TRUE(part) << part.error;
      EXPECT_TRUE(tensorsNear(*part, slice(*full, 1, pos, pos + n), 1e-9))
          << "call at " << pos << " of length " << n;
      pos += n;
      EXPECT_EQ(cache.kvCount, pos);
      int64_t t = cache.scaK->dim(1);
      EXPECT_TRUE(pos % 4 ? (t == (pos > 4 ? 4 + pos % 4 : pos)) : t == 4)
          << "cache holds " << t << " tokens after " << pos;
      EXPECT_EQ(cache.memory.has_value(), pos >= 4);
    }
  }
}

TEST(BlockTest, BadCallsAreReported) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(blockParamShapes(cfg, ""), 41);
  std::mt19937_64 rng(42);
  Tensor x6 = randomTensor({1, 6, cfg.model_dim}, rng);
  Tensor x3 = randomTensor({1, 3, cfg.model_dim}, rng);
  Tensor x4 = randomTensor({1, 4, cfg.model_dim}, rng);

  // Without cache: L >= C must be a multiple of C.
  Checked<Tensor> r = blockForward(params, "", cfg, x6, {}, nullptr);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("multiple"), std::string::npos) << r.error;

  // With a cache at position 1: no prefill of 3, no chunk of 4.
  LayerCache cache;
  Tensor x1 = slice(x4, 1, 0, 1);
  ASSERT_TRUE(blockForward(params, "", cfg, x1, {}, &cache));
  LayerCache before = cache;
  EXPECT_FALSE(blockForward(params, "", cfg, x3, {}, &cache));
  EXPECT_FALSE(blockForward(params, "", cfg, x4, {}, &cache));
  EXPECT_EQ(cache.kvCount, before.kvCount);
  EXPECT_EQ(cache.scaK->shape, before.scaK->shape);

  // A cache whose contents disagree with its kv_count.
  LayerCache broken = cache;
  broken.kvCount = 2;
  EXPECT_FALSE(blockForward(params, "", cfg, x1, {}, &broken));

  // Parameters and shapes.
  ParamMap missing = params;
  missing.erase("mega.wz.bias");
  r = blockForward(missing, "", cfg, x4, {}, nullptr);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("mega.wz.bias"), std::string::npos) << r.error;
  ParamMap reshaped = params;
  reshaped["nffn.fc1.weight"] = Tensor({3, 3}, 0.5);
  EXPECT_FALSE(blockForward(reshaped, "", cfg, x4, {}, nullptr));
  EXPECT_FALSE(
      blockForward(params, "", cfg, Tensor({1, 4, 5}, 0.5), {}, nullptr));
  Tensor badBos({1, 3}, 1.0);
  BlockSegments segs;
  segs.bos = &badBos;
  EXPECT_FALSE(blockForward(params, "", cfg, x4, segs, nullptr));
  GeckoConfig badCfg = cfg;
  badCfg.timenorm_num_groups = 5;
  EXPECT_FALSE(blockForward(params, "", badCfg, x4, {}, nullptr));
  EXPECT_FALSE(blockBackward(params, "", cfg, x4, nullptr, nullptr, x3));
}

} // namespace
