//===- SessionTest.cpp - Streaming a compiled model through a Session -----===//
//
// Needs an artifact: test/tools/gecko-run/gecko-run.test compiles one and
// runs these tests with GECKO_TEST_ARTIFACT=<dir>; without it they skip.
// Checks, with random demo weights and random non-zero token ids:
//  - any split of a stream into feeds gives the logits of one feed
//    (partial chunks through the decode entry, or padded, or a padded
//    prefill followed by decode catching up; state advanced at chunk
//    boundaries): 1e-5;
//  - decoding token by token (every residue r over 4 chunks, bos tokens
//    inside partial chunks in multi-document artifacts) equals the
//    reference's one-call logits and the padded path: 1e-5; only the chunk
//    completions make chunk calls;
//  - the logits equal the reference library's modelForward (double) with
//    the same parameters rounded to float: |a - b| <= 1e-5 (1 + |b|)
//    (measured ~1e-6 on the golden config);
//  - the heap stays flat over hundreds of calls (no leaked result buffer);
//  - a bad token id is an error naming it and leaves the session unchanged.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Model.h"

#include "gecko/Reference/Model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <malloc.h>
#include <random>

using namespace gecko;
using namespace gecko::rt;

namespace {

std::unique_ptr<Model> loadArtifact(uint64_t seed) {
  const char *dir = std::getenv("GECKO_TEST_ARTIFACT");
  if (!dir)
    return nullptr;
  std::unique_ptr<Model> model;
  Status s = Model::load(dir, &model);
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok())
    return nullptr;
  EXPECT_TRUE(model->initRandom(seed).ok());
  return model;
}

#define REQUIRE_ARTIFACT(model)                                                \
  if (!std::getenv("GECKO_TEST_ARTIFACT"))                                     \
    GTEST_SKIP() << "GECKO_TEST_ARTIFACT is not set";                          \
  ASSERT_TRUE(model)

std::vector<int64_t> randomTokens(const Model &model, int64_t length,
                                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids(model.batch() * length);
  for (int64_t &id : ids) {
    id = static_cast<int64_t>(rng() % model.vocabSize());
    if (rng() % 5 == 0)
      id = model.bosId(); // documents start inside chunks
  }
  return ids;
}

/// Rows [b][offset, offset + n) of a [batch][length] array.
std::vector<int64_t> slice(const std::vector<int64_t> &ids, int64_t batch,
                           int64_t length, int64_t offset, int64_t n) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < batch; ++b)
    out.insert(out.end(), ids.begin() + b * length + offset,
               ids.begin() + b * length + offset + n);
  return out;
}

ref::GeckoConfig refConfig(const json::Value &c) {
  ref::GeckoConfig config;
  auto i = [&](const char *k, int64_t &field) {
    if (const json::Value *v = c.get(k))
      field = *v->asInt();
  };
  auto d = [&](const char *k, double &field) {
    if (const json::Value *v = c.get(k))
      field = v->asNumber();
  };
  i("num_layers", config.num_layers);
  i("model_dim", config.model_dim);
  i("z_dim", config.z_dim);
  i("value_dim", config.value_dim);
  i("num_heads", config.num_heads);
  i("ffn_hidden_dim", config.ffn_hidden_dim);
  i("cema_ndim", config.cema_ndim);
  i("chunk_size", config.chunk_size);
  i("vocab_size", config.vocab_size);
  i("timenorm_num_groups", config.timenorm_num_groups);
  i("layernorm_num_groups", config.layernorm_num_groups);
  i("bos_id", config.bos_id);
  d("timenorm_beta1", config.timenorm_beta1);
  d("timenorm_beta2", config.timenorm_beta2);
  d("norm_eps", config.norm_eps);
  d("rope_base", config.rope_base);
  if (const json::Value *v = c.get("num_rope_heads"); v && !v->isNull())
    config.num_rope_heads = *v->asInt();
  return config;
}

TEST(RuntimeSession, AnySplitEqualsOneFeed) {
  std::unique_ptr<Model> model = loadArtifact(3);
  REQUIRE_ARTIFACT(model);
  int64_t c = model->chunkSize(), batch = model->batch(),
          v = model->vocabSize();
  int64_t length = 5 * c + 3;
  std::vector<int64_t> ids = randomTokens(*model, length, 11);
  Session one(*model);
  std::vector<float> whole;
  ASSERT_TRUE(one.feed(ids, &whole).ok());
  EXPECT_EQ(one.position(), length);
  EXPECT_EQ(one.boundary(), 5 * c);

  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 6; ++trial) {
    Session split(*model);
    // Trials 2, 3: long partial feeds padded, the decode state catching up
    // on the next short feed; trial 4: no decode entry (padded calls only).
    if (trial == 2 || trial == 3)
      split.setDecodePrefillLimit(2);
    if (trial == 4)
      split.setUseDecode(false);
    std::vector<float> pieces(whole.size());
    int64_t at = 0;
    while (at < length) {
      // Mostly short pieces (decode-like), sometimes chunk-spanning ones.
      int64_t n =
          1 + static_cast<int64_t>(rng() % (rng() % 3 == 0 ? 2 * c + 3 : 3));
      n = std::min(n, length - at);
      std::vector<float> out;
      Status s = split.feed(slice(ids, batch, length, at, n), &out);
      ASSERT_TRUE(s.ok()) << s.message();
      for (int64_t b = 0; b < batch; ++b)
        std::copy(out.begin() + b * n * v, out.begin() + (b + 1) * n * v,
                  pieces.begin() + (b * length + at) * v);
      at += n;
    }
    double maxDiff = 0;
    for (size_t i = 0; i < whole.size(); ++i)
      maxDiff = std::max(maxDiff, std::fabs(double(whole[i]) - pieces[i]));
    EXPECT_LE(maxDiff, 1e-5) << "trial " << trial;
  }
  // reset() starts a fresh stream.
  one.reset();
  EXPECT_EQ(one.position(), 0);
  std::vector<float> again;
  ASSERT_TRUE(one.feed(ids, &again).ok());
  EXPECT_EQ(again, whole);
}

TEST(RuntimeSession, MatchesTheReferenceModel) {
  uint64_t seed = 42;
  std::unique_ptr<Model> model = loadArtifact(seed);
  REQUIRE_ARTIFACT(model);
  ref::GeckoConfig config = refConfig(model->manifest().config);
  int64_t c = model->chunkSize(), batch = model->batch(),
          v = model->vocabSize();
  int64_t length = 3 * c + 2;
  std::vector<int64_t> ids = randomTokens(*model, length, 7);
  // The runtime's demo weights are ref::randomParams rounded to float.
  ref::ParamMap params = ref::randomParams(ref::modelParamShapes(config), seed);
  const Manifest &m = model->manifest();
  for (size_t p = 0; p < m.params.size(); ++p) {
    ref::Tensor &t = params.at(m.params[p].name);
    ASSERT_EQ(t.shape, m.params[p].shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
      ASSERT_EQ(static_cast<float>(t[i]), model->param(p)[i])
          << m.params[p].name;
      t[i] = model->param(p)[i];
    }
  }
  // The reference streams 3 full chunks, then the 2 trailing tokens (the
  // runtime pads those to a chunk).
  ref::ModelCache cache = ref::emptyModelCache(config);
  std::vector<double> want;
  for (int64_t begin : {int64_t(0), 3 * c}) {
    int64_t n = begin == 0 ? 3 * c : length - 3 * c;
    ref::Tensor tokens({batch, n});
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < n; ++t)
        tokens.at(b, t) = static_cast<double>(ids[b * length + begin + t]);
    auto out = ref::modelForward(params, config, tokens, model->multiDocument(),
                                 &cache);
    ASSERT_TRUE(out) << out.error;
    want.resize(batch * length * v);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t k = 0; k < v; ++k)
          want[(b * length + begin + t) * v + k] = (*out).at(b, t, k);
  }
  Session session(*model);
  std::vector<float> got;
  ASSERT_TRUE(session.feed(ids, &got).ok());
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst,
                     std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i])));
  EXPECT_LE(worst, 1e-5);
}

TEST(RuntimeSession, DecodeEveryResidueMatchesTheReference) {
  uint64_t seed = 9;
  std::unique_ptr<Model> model = loadArtifact(seed);
  REQUIRE_ARTIFACT(model);
  ref::GeckoConfig config = refConfig(model->manifest().config);
  int64_t c = model->chunkSize(), batch = model->batch(),
          v = model->vocabSize();
  int64_t length = 4 * c;
  std::vector<int64_t> ids = randomTokens(*model, length, 13);
  if (model->multiDocument()) // documents starting inside partial chunks
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t pos : {c + 1, 2 * c + c / 2, 3 * c + 2})
        ids[b * length + std::min(pos, length - 1)] = model->bosId();
  ref::ParamMap params = ref::randomParams(ref::modelParamShapes(config), seed);
  const Manifest &m = model->manifest();
  for (size_t p = 0; p < m.params.size(); ++p) {
    ref::Tensor &t = params.at(m.params[p].name);
    for (int64_t i = 0; i < t.numel(); ++i)
      t[i] = model->param(p)[i];
  }
  ref::ModelCache cache = ref::emptyModelCache(config);
  ref::Tensor tokens({batch, length});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < length; ++t)
      tokens.at(b, t) = static_cast<double>(ids[b * length + t]);
  auto want =
      ref::modelForward(params, config, tokens, model->multiDocument(), &cache);
  ASSERT_TRUE(want) << want.error;

  Session decode(*model), padded(*model);
  padded.setUseDecode(false);
  EXPECT_EQ(decode.usesDecode(), m.hasDecode);
  EXPECT_FALSE(padded.usesDecode());
  double worst = 0, apart = 0;
  for (int64_t t = 0; t < length; ++t) {
    std::vector<int64_t> one = slice(ids, batch, length, t, 1);
    std::vector<float> got, other;
    ASSERT_TRUE(decode.feed(one, &got).ok());
    ASSERT_TRUE(padded.feed(one, &other).ok());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < v; ++k) {
        double w = (*want).at(b, t, k), g = got[b * v + k];
        worst = std::max(worst, std::fabs(g - w) / (1.0 + std::fabs(w)));
        apart = std::max(apart, std::fabs(g - other[b * v + k]) /
                                    (1.0 + std::fabs(other[b * v + k])));
      }
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_LE(apart, 1e-5);
  // Chunk calls only where a chunk completes; every other token decodes.
  if (m.hasDecode) {
    EXPECT_EQ(decode.calls(), 4u);
    EXPECT_EQ(decode.decodeCalls(), static_cast<uint64_t>(length - 4));
  }
  EXPECT_EQ(padded.decodeCalls(), 0u);
  EXPECT_EQ(padded.calls(), static_cast<uint64_t>(length));
}

TEST(RuntimeSession, HeapStaysFlat) {
  std::unique_ptr<Model> model = loadArtifact(1);
  REQUIRE_ARTIFACT(model);
  int64_t c = model->chunkSize();
  std::vector<int64_t> ids = randomTokens(*model, 40 * c, 3);
  Session session(*model), padded(*model);
  padded.setUseDecode(false);
  std::vector<float> logits;
  auto run = [&]() {
    // Full chunks, then single tokens (decode, and padded calls), then a
    // reset (the zero boundary state and the partial state are freed).
    for (Session *s : {&session, &padded}) {
      ASSERT_TRUE(s->feed(ids, &logits).ok());
      for (int i = 0; i < 3 * c; ++i)
        ASSERT_TRUE(
            s->feed(slice(ids, model->batch(), 40 * c, i, 1), &logits).ok());
      s->reset();
      ASSERT_TRUE(
          s->feed(slice(ids, model->batch(), 40 * c, 0, 2), &logits).ok());
    }
  };
  run();
  run();
  size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 5; ++i)
    run();
  size_t after = mallinfo2().uordblks;
  EXPECT_GT(session.calls() + session.decodeCalls(), 300u);
  // The logits vector is re-assigned with equal sizes; allow allocator noise.
  EXPECT_LT(static_cast<double>(after) - static_cast<double>(before),
            64.0 * 1024)
      << "heap grew from " << before << " to " << after << " bytes";
}

TEST(RuntimeSession, BadTokenLeavesTheSessionUnchanged) {
  std::unique_ptr<Model> model = loadArtifact(1);
  REQUIRE_ARTIFACT(model);
  Session session(*model);
  std::vector<int64_t> ids = randomTokens(*model, 3, 1);
  ASSERT_TRUE(session.feed(ids, nullptr).ok());
  std::vector<int64_t> bad(model->batch() * 2, 0);
  bad.back() = model->vocabSize();
  Status s = session.feed(bad, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("token 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("outside [0, " +
                             std::to_string(model->vocabSize()) + ")"),
            std::string::npos);
  EXPECT_EQ(session.position(), 3);
}

} // namespace
