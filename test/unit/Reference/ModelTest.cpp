//===- ModelTest.cpp - Gecko model reference tests ------------------------===//
//
// Streaming under the §9 call constraints reproduces one call (single- and
// multi-document mode), the training backward matches finite differences,
// and violations of the call constraints are reported.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"
#include "TinyModel.h"

#include "gecko/Reference/Model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

/// A random split of `total` tokens that obeys the §9 call constraints:
/// at a chunk boundary a multiple of C, a prefill of 2..C-1 or one token;
/// elsewhere one token.
std::vector<int64_t> randomSchedule(int64_t total, int64_t chunk,
                                    std::mt19937_64 &rng) {
  std::vector<int64_t> lengths;
  int64_t pos = 0;
  while (pos < total) {
    int64_t left = total - pos, n = 1;
    if (pos % chunk == 0) {
      int kind = std::uniform_int_distribution<int>(0, 2)(rng);
      if (kind == 0 && left >= chunk)
        n = chunk *
            std::uniform_int_distribution<int64_t>(1, left / chunk)(rng);
      else if (kind == 1 && std::min(left, chunk - 1) >= 2)
        n = std::uniform_int_distribution<int64_t>(
            2, std::min(left, chunk - 1))(rng);
    }
    lengths.push_back(n);
    pos += n;
  }
  return lengths;
}

std::string describe(const std::vector<int64_t> &schedule) {
  std::string s;
  for (int64_t n : schedule)
    s += std::to_string(n) + " ";
  return s;
}

/// Streams `tokens` with `schedule` and checks every call's logits against
/// the matching slice of the one-call logits, and the cache invariants.
void checkStreaming(const ParamMap &params, const GeckoConfig &cfg,
                    const Tensor &tokens, bool multi,
                    const std::vector<int64_t> &schedule, const Tensor &full) {
  SCOPED_TRACE("schedule " + describe(schedule) +
               (multi ? "(multi-document)" : "(single document)"));
  ModelCache cache = emptyModelCache(cfg);
  int64_t pos = 0, c = cfg.chunk_size;
  for (int64_t n : schedule) {
    Checked<Tensor> part = modelForward(
        params, cfg, slice(tokens, 1, pos, pos + n), multi, &cache);
    ASSERT_TRUE(part) << part.error;
    EXPECT_TRUE(tensorsNear(*part, slice(full, 1, pos, pos + n), 1e-9))
        << "call at " << pos << " of length " << n;
    pos += n;
    ASSERT_EQ(cache.pos, pos);
    int64_t t = cache.layers[0].scaK->dim(1);
    EXPECT_TRUE(pos < c ? t == pos : (t >= c && t <= 2 * c - 1));
    if (pos % c == 0)
      EXPECT_EQ(t, c);
    EXPECT_EQ(cache.prevSeg.has_value(), multi);
    if (multi)
      EXPECT_EQ(cache.prevSeg->dim(1), t);
  }
}

TEST(ModelTest, StreamingEqualsOneCall) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(modelParamShapes(cfg), 5);
  std::mt19937_64 rng(6);
  const int64_t total = 20; // 5 chunks
  // bos tokens at a stream start, mid-chunk, on and next to chunk
  // boundaries; batch 1 starts inside a document (segment 0).
  Tensor tokens = randomTokens(
      cfg, 2, total, {{0, 0}, {0, 6}, {0, 7}, {0, 16}, {1, 3}, {1, 8}, {1, 13}},
      rng);
  for (bool multi : {false, true}) {
    Checked<Tensor> full = modelForward(params, cfg, tokens, multi, nullptr);
    ASSERT_TRUE(full) << full.error;
    checkStreaming(params, cfg, tokens, multi, {20}, *full);
    checkStreaming(params, cfg, tokens, multi, {8, 8, 3, 1}, *full);
    // The reference's generation pattern: prefill, then 1..C, then decode.
    checkStreaming(params, cfg, tokens, multi, {16, 3, 1}, *full);
    checkStreaming(params, cfg, tokens, multi, std::vector<int64_t>(total, 1),
                   *full);
    for (int trial = 0; trial < 8; ++trial)
      checkStreaming(params, cfg, tokens, multi,
                     randomSchedule(total, cfg.chunk_size, rng), *full);
  }
}

// Different documents must give different logits: the check above is not
// passing because segments are ignored.
TEST(ModelTest, MultiDocumentModeChangesTheResult) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(modelParamShapes(cfg), 7);
  std::mt19937_64 rng(8);
  Tensor tokens = randomTokens(cfg, 1, 12, {{0, 5}}, rng);
  Checked<Tensor> single = modelForward(params, cfg, tokens, false, nullptr);
  Checked<Tensor> multi = modelForward(params, cfg, tokens, true, nullptr);
  ASSERT_TRUE(single && multi);
  // Before the first bos the modes agree exactly; after it they differ.
  EXPECT_TRUE(
      tensorsNear(slice(*multi, 1, 0, 5), slice(*single, 1, 0, 5), 1e-12));
  EXPECT_FALSE(
      tensorsNear(slice(*multi, 1, 5, 12), slice(*single, 1, 5, 12), 1e-3));
  SegmentInfo info = segmentInfo(cfg, tokens, nullptr);
  EXPECT_EQ(info.seg.at(0, 4), 0.0);
  EXPECT_EQ(info.seg.at(0, 5), 1.0);
  EXPECT_EQ(info.bos.at(0, 5), 1.0);
}

void checkModelBackward(bool multi, uint64_t seed) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(modelParamShapes(cfg), seed);
  std::mt19937_64 rng(seed + 1);
  Tensor tokens = randomTokens(cfg, 2, 12, {{0, 0}, {0, 6}, {1, 9}}, rng);
  Checked<Tensor> logits = modelForward(params, cfg, tokens, multi, nullptr);
  ASSERT_TRUE(logits) << logits.error;
  // minAbs 0: one draw per element, as the seeds were chosen with.
  Tensor gout = randomTensor(logits->shape, rng, -1.0, 1.0, /*minAbs=*/0.0);
  auto loss = [&] {
    Checked<Tensor> y = modelForward(params, cfg, tokens, multi, nullptr);
    return y ? dot(*y, gout) : NAN;
  };
  Checked<ParamMap> grads = modelBackward(params, cfg, tokens, multi, gout);
  ASSERT_TRUE(grads) << grads.error;
  ParamShapes shapes = modelParamShapes(cfg);
  ASSERT_EQ(grads->size(), shapes.size());
  for (const auto &[name, shape] : shapes) {
    ASSERT_TRUE(grads->count(name)) << "no gradient for " << name;
    const Tensor &g = grads->at(name);
    ASSERT_EQ(g.shape, shape) << name;
    Tensor &p = params.at(name);
    std::uniform_int_distribution<int64_t> pick(0, p.numel() - 1);
    std::vector<int64_t> indices;
    for (int s = 0; s < 5; ++s) {
      int64_t i = pick(rng);
      if (name == "embed.weight") // rows of tokens that occur
        i = static_cast<int64_t>(tokens[pick(rng) % tokens.numel()]) *
                cfg.model_dim +
            i % cfg.model_dim;
      indices.push_back(i);
    }
    EXPECT_TRUE(sampledGradientMatches(name, g, loss, p, indices));
  }
}

TEST(ModelTest, BackwardMultiDocumentMatchesDifferences) {
  checkModelBackward(/*multi=*/true, 51);
}

TEST(ModelTest, BackwardSingleDocumentMatchesDifferences) {
  checkModelBackward(/*multi=*/false, 52);
}

TEST(ModelTest, CallConstraintViolationsAreReported) {
  GeckoConfig cfg = tinyConfig();
  ParamMap params = randomParams(modelParamShapes(cfg), 61);
  std::mt19937_64 rng(62);
  Tensor tokens = randomTokens(cfg, 1, 16, {{0, 2}}, rng);

  // No cache: L >= C must be a multiple of C.
  Checked<Tensor> r =
      modelForward(params, cfg, slice(tokens, 1, 0, 6), true, nullptr);
  EXPECT_FALSE(r);
  EXPECT_FALSE(r.error.empty());

  ModelCache cache = emptyModelCache(cfg);
  ASSERT_TRUE(modelForward(params, cfg, slice(tokens, 1, 0, 2), true, &cache));
  ModelCache before = cache;
  // Off a chunk boundary only single tokens are allowed.
  for (int64_t n : {2, 3, 4, 8}) {
    r = modelForward(params, cfg, slice(tokens, 1, 2, 2 + n), true, &cache);
    EXPECT_FALSE(r) << "call of " << n << " tokens at position 2";
    EXPECT_NE(r.error.find("position 2"), std::string::npos) << r.error;
  }
  // Rejected calls leave the stream untouched.
  EXPECT_EQ(cache.pos, before.pos);
  EXPECT_EQ(cache.prevSeg->data, before.prevSeg->data);
  EXPECT_EQ(cache.layers[1].scaK->data, before.layers[1].scaK->data);
  ASSERT_TRUE(modelForward(params, cfg, slice(tokens, 1, 2, 3), true, &cache));
  ASSERT_TRUE(modelForward(params, cfg, slice(tokens, 1, 3, 4), true, &cache));
  // At a boundary: a chunk multiple, but not 6 tokens.
  EXPECT_FALSE(
      modelForward(params, cfg, slice(tokens, 1, 4, 10), true, &cache));
  EXPECT_TRUE(modelForward(params, cfg, slice(tokens, 1, 4, 12), true, &cache));

  // Bad tokens, parameters, caches and gradients.
  Tensor bad = slice(tokens, 1, 0, 4);
  bad.at(0, 1) = static_cast<double>(cfg.vocab_size);
  EXPECT_FALSE(modelForward(params, cfg, bad, true, nullptr));
  bad.at(0, 1) = 2.5;
  EXPECT_FALSE(modelForward(params, cfg, bad, true, nullptr));
  ParamMap missing = params;
  missing.erase("output.output.weight");
  EXPECT_FALSE(
      modelForward(missing, cfg, slice(tokens, 1, 0, 4), true, nullptr));
  ModelCache wrongLayers = emptyModelCache(cfg);
  wrongLayers.layers.pop_back();
  EXPECT_FALSE(
      modelForward(params, cfg, slice(tokens, 1, 0, 4), true, &wrongLayers));
  EXPECT_FALSE(modelBackward(params, cfg, slice(tokens, 1, 0, 4), true,
                             Tensor({1, 4, 3}, 1.0)));
}

TEST(ModelTest, ParamShapesOf7BConfig) {
  GeckoConfig cfg; // spec §8: the released 7B configuration
  cfg.num_layers = 32;
  cfg.model_dim = 4096;
  cfg.z_dim = 1024;
  cfg.value_dim = 8192;
  cfg.num_heads = 4;
  cfg.ffn_hidden_dim = 8192;
  cfg.cema_ndim = 16;
  cfg.chunk_size = 2048;
  cfg.timenorm_num_groups = 64;
  cfg.vocab_size = 32000;
  ASSERT_FALSE(validateConfig(cfg));
  ParamShapes shapes = modelParamShapes(cfg);
  EXPECT_EQ(shapes.size(), 1u + 32u * 23u + 3u);
  int64_t layer0 = 0;
  for (const auto &[name, shape] : shapes)
    if (name.rfind("layers.0.", 0) == 0)
      layer0 += numElements(shape);
  // "≈ 222 M params per layer".
  EXPECT_GT(layer0, 222000000);
  EXPECT_LT(layer0, 223000000);
  EXPECT_EQ(shapes.front().first, "embed.weight");
  EXPECT_EQ(shapes.back().first, "output.output.weight");
  EXPECT_EQ(shapes.back().second, (std::vector<int64_t>{32000, 4096}));
}

} // namespace
