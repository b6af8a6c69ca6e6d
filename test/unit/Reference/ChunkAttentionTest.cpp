//===- ChunkAttentionTest.cpp - Sliding chunk attention (spec §5) ---------===//

#include "GradCheck.h"

#include "gecko/Reference/ChunkAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr int64_t kBatch = 2, kHeads = 2, kKeyDim = 3, kValueDim = 2;
constexpr int64_t kChunk = 4;

/// Non-decreasing segment ids per batch row, starting at `first[b]`, with a
/// new document starting at each token with probability `p`.
Tensor randomSegments(int64_t length, std::mt19937_64 &rng,
                      std::vector<double> first, double p = 0.35) {
  Tensor seg({kBatch, length});
  std::bernoulli_distribution newDocument(p);
  for (int64_t b = 0; b < kBatch; ++b) {
    double id = first[b];
    for (int64_t t = 0; t < length; ++t) {
      if (t > 0 && newDocument(rng))
        id += 1.0;
      seg.at(b, t) = id;
    }
  }
  return seg;
}

/// One attention call: random operands, optional cache and segment ids.
struct AttentionCase {
  Tensor q, k, v, prevK, prevV, seg, prevSeg, dy;
  bool withCache = false, withSeg = false, chunked = true;

  AttentionCase(int64_t length, int64_t cacheLength, bool segments,
                bool chunkedPath, std::mt19937_64 &rng)
      : withCache(cacheLength > 0), withSeg(segments), chunked(chunkedPath) {
    // Scores of order 1-4 so that the softmax is far from uniform.
    q = randomTensor({kBatch, length, kHeads, kKeyDim}, rng, -1.5, 1.5);
    k = randomTensor({kBatch, length, kHeads, kKeyDim}, rng, -1.5, 1.5);
    v = randomTensor({kBatch, length, kHeads, kValueDim}, rng);
    dy = randomTensor({kBatch, length, kHeads, kValueDim}, rng);
    if (withCache) {
      prevK =
          randomTensor({kBatch, cacheLength, kHeads, kKeyDim}, rng, -1.5, 1.5);
      prevV = randomTensor({kBatch, cacheLength, kHeads, kValueDim}, rng);
    }
    if (withSeg) {
      // The cache's last document continues into this call in batch 0 and
      // ends at the call boundary in batch 1.
      prevSeg =
          randomSegments(std::max<int64_t>(cacheLength, 1), rng, {3.0, 5.0});
      std::vector<double> first = {prevSeg.at(0, prevSeg.dim(1) - 1),
                                   prevSeg.at(1, prevSeg.dim(1) - 1) + 1.0};
      seg = randomSegments(length, rng, first);
      if (!withCache)
        prevSeg = Tensor();
    }
  }

  AttentionExtras extras() const {
    AttentionExtras e;
    if (withCache) {
      e.prevK = &prevK;
      e.prevV = &prevV;
    }
    if (withSeg) {
      e.seg = &seg;
      if (withCache)
        e.prevSeg = &prevSeg;
    }
    return e;
  }
  Tensor forward() const {
    return chunked ? chunkAttentionForward(q, k, v, kChunk, extras())
                   : shortAttentionForward(q, k, v, extras());
  }
  AttentionGrads backward() const {
    return chunked ? chunkAttentionBackward(q, k, v, kChunk, extras(), dy)
                   : shortAttentionBackward(q, k, v, extras(), dy);
  }
  double loss() const { return dot(dy, forward()); }

  /// Checks every gradient output against central differences.
  void checkGradients() {
    AttentionGrads grads = backward();
    auto lossFn = [this] { return loss(); };
    EXPECT_TRUE(gradientMatches(grads.q, lossFn, q)) << "dq";
    EXPECT_TRUE(gradientMatches(grads.k, lossFn, k)) << "dk";
    EXPECT_TRUE(gradientMatches(grads.v, lossFn, v)) << "dv";
    EXPECT_TRUE(optionalGradientMatches(withCache, grads.prevK, lossFn, prevK))
        << "d prevK";
    EXPECT_TRUE(optionalGradientMatches(withCache, grads.prevV, lossFn, prevV))
        << "d prevV";
  }
};

//===----------------------------------------------------------------------===//
// Finite-difference gradients
//===----------------------------------------------------------------------===//

TEST(ChunkAttentionGradTest, ChunkedWithoutCache) {
  std::mt19937_64 rng(11);
  AttentionCase(3 * kChunk, 0, false, true, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, ChunkedWithCache) {
  std::mt19937_64 rng(12);
  AttentionCase(2 * kChunk, kChunk, false, true, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, ChunkedSegments) {
  std::mt19937_64 rng(13);
  AttentionCase(3 * kChunk, 0, true, true, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, ChunkedCacheAndSegments) {
  std::mt19937_64 rng(14);
  AttentionCase(2 * kChunk, kChunk, true, true, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, ShortPrefillWithoutCache) {
  std::mt19937_64 rng(15);
  AttentionCase(kChunk - 1, 0, false, false, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, ShortPrefillWithCacheAndSegments) {
  std::mt19937_64 rng(16);
  AttentionCase(kChunk - 2, kChunk, true, false, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, DecodeWithCacheOfCPlus2) {
  std::mt19937_64 rng(17);
  AttentionCase(1, kChunk + 2, false, false, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, DecodeWithCacheOfCPlus2AndSegments) {
  std::mt19937_64 rng(18);
  AttentionCase(1, kChunk + 2, true, false, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, DecodeWithCacheOf2CMinus1) {
  std::mt19937_64 rng(19);
  AttentionCase(1, 2 * kChunk - 1, false, false, rng).checkGradients();
}

TEST(ChunkAttentionGradTest, DecodeWithCacheOf2CMinus1AndSegments) {
  std::mt19937_64 rng(20);
  AttentionCase(1, 2 * kChunk - 1, true, false, rng).checkGradients();
}

//===----------------------------------------------------------------------===//
// Naive re-statement: dense masked softmax over [prev ; k]
//===----------------------------------------------------------------------===//

/// Dense attention over all P + L keys with the spec's rule written out:
/// query i (global position P + i, chunk floor(i / C)) sees key j (chunk
/// floor((j - P) / C), the cache being chunk -1) iff j <= P + i, the key's
/// chunk is the query's or the one before, and the segments agree.
Tensor denseChunkAttention(const AttentionCase &c) {
  int64_t length = c.q.dim(1), cache = c.withCache ? c.prevK.dim(1) : 0;
  auto chunkOf = [&](int64_t global) {
    return global < cache ? -1 : (global - cache) / kChunk;
  };
  Tensor y({kBatch, length, kHeads, kValueDim});
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t i = 0; i < length; ++i) {
        int64_t qi = cache + i;
        std::vector<double> weights(cache + length, 0.0);
        double total = 0.0;
        for (int64_t j = 0; j < cache + length; ++j) {
          bool sameOrPrevChunk =
              chunkOf(j) == chunkOf(qi) || chunkOf(j) == chunkOf(qi) - 1;
          bool sameSegment =
              !c.withSeg ||
              (j < cache ? c.prevSeg.at(b, j) : c.seg.at(b, j - cache)) ==
                  c.seg.at(b, i);
          if (j > qi || !sameOrPrevChunk || !sameSegment)
            continue;
          double score = 0.0;
          for (int64_t d = 0; d < kKeyDim; ++d)
            score +=
                c.q.at(b, i, h, d) * (j < cache ? c.prevK.at(b, j, h, d)
                                                : c.k.at(b, j - cache, h, d));
          weights[j] = std::exp(score);
          total += weights[j];
        }
        for (int64_t j = 0; j < cache + length; ++j)
          for (int64_t d = 0; d < kValueDim; ++d)
            y.at(b, i, h, d) += weights[j] / total *
                                (j < cache ? c.prevV.at(b, j, h, d)
                                           : c.v.at(b, j - cache, h, d));
      }
  return y;
}

TEST(ChunkAttentionTest, ChunkedMatchesDenseMaskedAttention) {
  std::mt19937_64 rng(21);
  for (bool withCache : {false, true})
    for (bool withSeg : {false, true}) {
      AttentionCase c(3 * kChunk, withCache ? kChunk : 0, withSeg, true, rng);
      EXPECT_TRUE(tensorsNear(c.forward(), denseChunkAttention(c), 1e-12))
          << "cache " << withCache << " segments " << withSeg;
    }
}

TEST(ChunkAttentionTest, ShortPathMatchesDenseAttentionOverCacheAndPrefix) {
  // With a cache of C + 1 tokens (chunk c-1 plus one token of chunk c) and
  // L = 2, every key of [prev ; k] lies in chunk c-1 or c: the short path is
  // dense causal attention over all of them.
  std::mt19937_64 rng(22);
  for (bool withSeg : {false, true}) {
    AttentionCase c(2, kChunk + 1, withSeg, false, rng);
    Tensor expected({kBatch, 2, kHeads, kValueDim});
    int64_t cache = kChunk + 1;
    for (int64_t b = 0; b < kBatch; ++b)
      for (int64_t h = 0; h < kHeads; ++h)
        for (int64_t i = 0; i < 2; ++i) {
          double total = 0.0;
          std::vector<double> weights(cache + 2, 0.0);
          for (int64_t j = 0; j <= cache + i; ++j) {
            double keySeg = j < cache
                                ? (withSeg ? c.prevSeg.at(b, j) : 0.0)
                                : (withSeg ? c.seg.at(b, j - cache) : 0.0);
            if (withSeg && keySeg != c.seg.at(b, i))
              continue;
            double score = 0.0;
            for (int64_t d = 0; d < kKeyDim; ++d)
              score +=
                  c.q.at(b, i, h, d) * (j < cache ? c.prevK.at(b, j, h, d)
                                                  : c.k.at(b, j - cache, h, d));
            weights[j] = std::exp(score);
            total += weights[j];
          }
          for (int64_t j = 0; j <= cache + i; ++j)
            for (int64_t d = 0; d < kValueDim; ++d)
              expected.at(b, i, h, d) +=
                  weights[j] / total *
                  (j < cache ? c.prevV.at(b, j, h, d)
                             : c.v.at(b, j - cache, h, d));
        }
    EXPECT_TRUE(tensorsNear(c.forward(), expected, 1e-12));
  }
}

//===----------------------------------------------------------------------===//
// Streaming: one call equals a chunked call followed by short/decode calls
//===----------------------------------------------------------------------===//

TEST(ChunkAttentionTest, StreamingMatchesOneChunkedCall) {
  std::mt19937_64 rng(23);
  for (bool withSeg : {false, true}) {
    // Three chunks in one call, no cache.
    AttentionCase full(3 * kChunk, 0, withSeg, true, rng);
    Tensor expected = full.forward();
    const Tensor *fullSeg = withSeg ? &full.seg : nullptr;

    // Call 1: chunked over the first two chunks.
    AttentionExtras first;
    Tensor seg01 = withSeg ? slice(full.seg, 1, 0, 2 * kChunk) : Tensor();
    if (withSeg)
      first.seg = &seg01;
    Tensor y01 = chunkAttentionForward(
        slice(full.q, 1, 0, 2 * kChunk), slice(full.k, 1, 0, 2 * kChunk),
        slice(full.v, 1, 0, 2 * kChunk), kChunk, first);
    EXPECT_TRUE(tensorsNear(y01, slice(expected, 1, 0, 2 * kChunk), 1e-12));

    // Then: a short prefill of 2 tokens and single-token decodes, the cache
    // growing from the last C tokens of call 1 to 2C - 1 tokens.
    int64_t pos = 2 * kChunk;
    for (int64_t len : {2, 1, 1}) {
      int64_t cacheBegin = kChunk;
      Tensor prevK = slice(full.k, 1, cacheBegin, pos);
      Tensor prevV = slice(full.v, 1, cacheBegin, pos);
      Tensor seg = withSeg ? slice(*fullSeg, 1, pos, pos + len) : Tensor();
      Tensor prevSeg = withSeg ? slice(*fullSeg, 1, cacheBegin, pos) : Tensor();
      AttentionExtras extras{&prevK, &prevV, withSeg ? &seg : nullptr,
                             withSeg ? &prevSeg : nullptr};
      Tensor y = shortAttentionForward(
          slice(full.q, 1, pos, pos + len), slice(full.k, 1, pos, pos + len),
          slice(full.v, 1, pos, pos + len), extras);
      EXPECT_TRUE(tensorsNear(y, slice(expected, 1, pos, pos + len), 1e-12))
          << "call at " << pos << " segments " << withSeg;
      pos += len;
    }

    // A chunked call of the last chunk with the cache equals the full call.
    Tensor prevK = slice(full.k, 1, kChunk, 2 * kChunk);
    Tensor prevV = slice(full.v, 1, kChunk, 2 * kChunk);
    Tensor seg =
        withSeg ? slice(full.seg, 1, 2 * kChunk, 3 * kChunk) : Tensor();
    Tensor prevSeg =
        withSeg ? slice(full.seg, 1, kChunk, 2 * kChunk) : Tensor();
    AttentionExtras extras{&prevK, &prevV, withSeg ? &seg : nullptr,
                           withSeg ? &prevSeg : nullptr};
    Tensor y2 = chunkAttentionForward(slice(full.q, 1, 2 * kChunk, 3 * kChunk),
                                      slice(full.k, 1, 2 * kChunk, 3 * kChunk),
                                      slice(full.v, 1, 2 * kChunk, 3 * kChunk),
                                      kChunk, extras);
    EXPECT_TRUE(
        tensorsNear(y2, slice(expected, 1, 2 * kChunk, 3 * kChunk), 1e-12));
  }
}

TEST(ChunkAttentionTest, DecodeAtTwoCMinusOneSeesWholePreviousChunk) {
  // The last token of chunk c (cache of 2C - 1 tokens) must see all of
  // chunk c - 1 and all of chunk c: the same as the chunked path's last row.
  std::mt19937_64 rng(24);
  AttentionCase full(2 * kChunk, 0, false, true, rng);
  Tensor expected = full.forward();
  Tensor prevK = slice(full.k, 1, 0, 2 * kChunk - 1);
  Tensor prevV = slice(full.v, 1, 0, 2 * kChunk - 1);
  AttentionExtras extras{&prevK, &prevV, nullptr, nullptr};
  Tensor y = shortAttentionForward(slice(full.q, 1, 2 * kChunk - 1, 2 * kChunk),
                                   slice(full.k, 1, 2 * kChunk - 1, 2 * kChunk),
                                   slice(full.v, 1, 2 * kChunk - 1, 2 * kChunk),
                                   extras);
  EXPECT_TRUE(
      tensorsNear(y, slice(expected, 1, 2 * kChunk - 1, 2 * kChunk), 1e-12));
}

//===----------------------------------------------------------------------===//
// Bad input
//===----------------------------------------------------------------------===//

TEST(ChunkAttentionDeathTest, RejectsMalformedCalls) {
  std::mt19937_64 rng(25);
  AttentionCase c(2 * kChunk, kChunk, true, true, rng);
  Tensor q5 = randomTensor({kBatch, 5, kHeads, kKeyDim}, rng);
  AttentionExtras none;
  EXPECT_DEATH(chunkAttentionForward(
                   q5, q5, randomTensor({kBatch, 5, kHeads, kValueDim}, rng),
                   kChunk, none),
               "L % chunkSize");
  AttentionExtras onlyK;
  onlyK.prevK = &c.prevK;
  EXPECT_DEATH(chunkAttentionForward(c.q, c.k, c.v, kChunk, onlyK), "together");
  AttentionExtras noPrevSeg{&c.prevK, &c.prevV, &c.seg, nullptr};
  EXPECT_DEATH(chunkAttentionForward(c.q, c.k, c.v, kChunk, noPrevSeg),
               "prevSeg");
  EXPECT_DEATH(chunkAttentionBackward(c.q, c.k, c.v, kChunk, c.extras(), c.q),
               "dy");
}

} // namespace
