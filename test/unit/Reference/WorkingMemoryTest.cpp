//===- WorkingMemoryTest.cpp - Adaptive working memory (spec §6) ----------===//

#include "GradCheck.h"

#include "gecko/Reference/WorkingMemory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace gecko::ref;
using namespace gecko::ref::testutil;

namespace {

constexpr int64_t kBatch = 2, kHeads = 2, kFeatures = 3, kValueDim = 2;
constexpr int64_t kChunk = 4;

/// Segment ids (B, n) from two explicit rows.
Tensor segments(std::vector<double> row0, std::vector<double> row1) {
  std::vector<double> data = row0;
  data.insert(data.end(), row1.begin(), row1.end());
  return Tensor({kBatch, static_cast<int64_t>(row0.size())}, data);
}

/// One AWM call: random activations, state and upstream gradients; segment
/// ids are set explicitly by each test so that resets and masks are known.
struct MemoryCase {
  Tensor q, k, v, memory, lnt, prevK, prevV, seg, prevSeg, prevSegCount;
  Tensor dy, dMemory, dLnt;
  bool withMemory = false, withCache = false, withSeg = false, chunked = true;
  /// The call's own keys are never written (they stay pending): their
  /// gradients must be exactly zero.
  bool callKeysPending = false;

  MemoryCase(int64_t length, int64_t cacheLength, bool withMemoryState,
             bool chunkedPath, std::mt19937_64 &rng)
      : withMemory(withMemoryState), withCache(cacheLength > 0),
        chunked(chunkedPath) {
    // Features of order 1-2 so that the softmaxes are far from uniform.
    q = randomTensor({kBatch, kHeads, length, kFeatures}, rng, -2.0, 2.0);
    k = randomTensor({kBatch, kHeads, length, kFeatures}, rng, -2.0, 2.0);
    v = randomTensor({kBatch, kHeads, length, kValueDim}, rng);
    dy = randomTensor({kBatch, kHeads, length, kValueDim}, rng);
    dMemory = randomTensor({kBatch, kHeads, kFeatures, kValueDim}, rng);
    dLnt = randomTensor({kBatch, kHeads, kFeatures}, rng);
    if (withMemory) {
      memory = randomTensor({kBatch, kHeads, kFeatures, kValueDim}, rng);
      lnt = randomTensor({kBatch, kHeads, kFeatures}, rng, 0.0, 3.0);
    }
    if (withCache) {
      prevK = randomTensor({kBatch, kHeads, cacheLength, kFeatures}, rng, -2.0,
                           2.0);
      prevV = randomTensor({kBatch, kHeads, cacheLength, kValueDim}, rng);
    }
  }

  void setSegments(Tensor ids, Tensor prevIds = Tensor(),
                   std::vector<double> count = {}) {
    withSeg = true;
    seg = std::move(ids);
    prevSeg = std::move(prevIds);
    if (!count.empty())
      prevSegCount = Tensor({kBatch}, count);
  }

  MemoryExtras extras() const {
    MemoryExtras e;
    if (withMemory) {
      e.memory = &memory;
      e.lnt = &lnt;
    }
    if (withCache) {
      e.prevK = &prevK;
      e.prevV = &prevV;
    }
    if (withSeg) {
      e.seg = &seg;
      e.prevSeg = prevSeg.numel() ? &prevSeg : nullptr;
      e.prevSegCount = prevSegCount.numel() ? &prevSegCount : nullptr;
    }
    return e;
  }
  MemoryResult forward() const {
    return chunked ? memoryChunkedForward(q, k, v, kChunk, extras())
                   : memoryShortForward(q, k, v, kChunk, extras());
  }
  MemoryGrads backward() const {
    return chunked ? memoryChunkedBackward(q, k, v, kChunk, extras(), dy,
                                           &dMemory, &dLnt)
                   : memoryShortBackward(q, k, v, kChunk, extras(), dy,
                                         &dMemory, &dLnt);
  }
  /// Σ dy⊙y + Σ dM⊙M' + Σ dZ⊙Z' over the finite entries of Z'.
  double loss() const {
    MemoryResult r = forward();
    double total = dot(dy, r.y);
    if (r.memory) {
      total += dot(dMemory, *r.memory);
      for (int64_t i = 0; i < r.lnt->numel(); ++i)
        if (std::isfinite((*r.lnt)[i]))
          total += dLnt[i] * (*r.lnt)[i];
    }
    return total;
  }

  /// Checks every gradient output against central differences.
  void checkGradients() {
    MemoryGrads grads = backward();
    auto lossFn = [this] { return loss(); };
    EXPECT_TRUE(gradientMatches(grads.q, lossFn, q)) << "dq";
    if (callKeysPending) {
      EXPECT_TRUE(allZero(grads.k)) << "dk";
      EXPECT_TRUE(allZero(grads.v)) << "dv";
      EXPECT_TRUE(allZero(numericGradient(lossFn, k))) << "dk";
      EXPECT_TRUE(allZero(numericGradient(lossFn, v))) << "dv";
    } else {
      EXPECT_TRUE(gradientMatches(grads.k, lossFn, k)) << "dk";
      EXPECT_TRUE(gradientMatches(grads.v, lossFn, v)) << "dv";
    }
    EXPECT_TRUE(
        optionalGradientMatches(withMemory, grads.memory, lossFn, memory))
        << "dM";
    EXPECT_TRUE(optionalGradientMatches(withMemory, grads.lnt, lossFn, lnt))
        << "dlnt";
    EXPECT_TRUE(optionalGradientMatches(withCache, grads.prevK, lossFn, prevK))
        << "d prevK";
    EXPECT_TRUE(optionalGradientMatches(withCache, grads.prevV, lossFn, prevV))
        << "d prevV";
  }
};

//===----------------------------------------------------------------------===//
// Finite-difference gradients, chunked path
//===----------------------------------------------------------------------===//

TEST(WorkingMemoryGradTest, ChunkedFreshStream) {
  // Chunks 0 and 1 read nothing; chunk 2 reads chunk 0; chunk 3 reads 0, 1.
  std::mt19937_64 rng(31);
  MemoryCase c(4 * kChunk, 0, false, true, rng);
  MemoryResult r = c.forward();
  EXPECT_TRUE(allZero(slice(r.y, 2, 0, 2 * kChunk)));
  c.checkGradients();
}

TEST(WorkingMemoryGradTest, ChunkedWithMemoryAndCache) {
  std::mt19937_64 rng(32);
  MemoryCase(3 * kChunk, kChunk, true, true, rng).checkGradients();
}

TEST(WorkingMemoryGradTest, ChunkedWithMemoryWithoutCache) {
  std::mt19937_64 rng(33);
  MemoryCase(3 * kChunk, 0, true, true, rng).checkGradients();
}

TEST(WorkingMemoryGradTest, ChunkedFreshWithSegments) {
  std::mt19937_64 rng(34);
  MemoryCase c(4 * kChunk, 0, false, true, rng);
  // Batch 0: excluded keys in chunks 0 and 2, a reset before writing chunk
  // 1, masked reads. Batch 1: one document throughout.
  c.setSegments(segments({1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5},
                         {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  c.checkGradients();
}

TEST(WorkingMemoryGradTest, ChunkedCacheAndSegmentsWithResets) {
  std::mt19937_64 rng(35);
  MemoryCase c(3 * kChunk, kChunk, true, true, rng);
  // Batch 0: the cache and chunk 0 continue the memory's document; chunk 1
  // ends in a new one, so the write of chunk 1 resets and reads are masked.
  // Batch 1: the cache starts a new document (reset before its write, key 0
  // excluded).
  c.setSegments(segments({3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5},
                         {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8}),
                segments({3, 3, 3, 3}, {6, 7, 7, 7}), {3.0, 6.0});
  c.checkGradients();
}

TEST(WorkingMemoryGradTest, ChunkedOneChunkCacheAndSegments) {
  // §11.1: one chunk with a cache and segments follows the uniform rule.
  std::mt19937_64 rng(36);
  MemoryCase c(kChunk, kChunk, true, true, rng);
  c.setSegments(segments({3, 3, 4, 4}, {6, 6, 6, 7}),
                segments({3, 3, 3, 3}, {5, 5, 6, 6}), {3.0, 5.0});
  c.callKeysPending = true;
  c.checkGradients();
  // Batch 1 resets before writing the cache and none of its rows may read
  // the old memory (segment 5), so its input memory and lnt get no gradient.
  MemoryGrads g = c.backward();
  EXPECT_TRUE(allZero(slice(g.memory, 0, 1, 2)));
  EXPECT_TRUE(allZero(slice(g.lnt, 0, 1, 2)));
}

TEST(WorkingMemoryGradTest, ChunkedWithEmptyLntEntries) {
  // lnt = -inf marks empty features: logaddexp(-inf, a) = a, rho = 1, and the
  // gradient at those entries is 0 (finite).
  std::mt19937_64 rng(37);
  MemoryCase c(2 * kChunk, kChunk, true, true, rng);
  for (int64_t i = 0; i < c.lnt.numel(); i += 2)
    c.lnt[i] = -INFINITY;
  c.checkGradients();
  MemoryGrads g = c.backward();
  for (int64_t i = 0; i < c.lnt.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(g.lnt[i]));
    if (i % 2 == 0)
      EXPECT_EQ(g.lnt[i], 0.0);
  }
  // -inf behaves as the limit of very negative values.
  MemoryCase limit = c;
  for (int64_t i = 0; i < c.lnt.numel(); i += 2)
    limit.lnt[i] = -60.0;
  MemoryResult a = c.forward(), b = limit.forward();
  EXPECT_TRUE(tensorsNear(a.y, b.y, 1e-12));
  EXPECT_TRUE(tensorsNear(*a.memory, *b.memory, 1e-12));
  EXPECT_TRUE(tensorsNear(*a.lnt, *b.lnt, 1e-12));
  MemoryGrads gl = limit.backward();
  EXPECT_TRUE(tensorsNear(g.k, gl.k, 1e-12));
  EXPECT_TRUE(tensorsNear(g.memory, gl.memory, 1e-12));
  EXPECT_TRUE(tensorsNear(g.lnt, gl.lnt, 1e-12));
}

//===----------------------------------------------------------------------===//
// Finite-difference gradients, short path
//===----------------------------------------------------------------------===//

TEST(WorkingMemoryGradTest, ShortReadOnly) {
  // Cache of C + 1 tokens, 2 new ones: a read, no write. Keys and values get
  // no gradient, lnt passes through.
  std::mt19937_64 rng(38);
  MemoryCase c(2, kChunk + 1, true, false, rng);
  c.setSegments(segments({2, 3}, {4, 4}),
                segments({1, 1, 2, 2, 2}, {4, 4, 4, 4, 4}), {2.0, 4.0});
  MemoryGrads g = c.backward();
  auto lossFn = [&c] { return c.loss(); };
  EXPECT_TRUE(gradientMatches(g.q, lossFn, c.q));
  EXPECT_TRUE(gradientMatches(g.memory, lossFn, c.memory));
  EXPECT_TRUE(gradientMatches(g.lnt, lossFn, c.lnt));
  EXPECT_TRUE(tensorsNear(g.lnt, c.dLnt, 0.0));
  EXPECT_TRUE(allZero(g.k));
  EXPECT_TRUE(allZero(g.v));
  EXPECT_TRUE(allZero(g.prevK));
  EXPECT_TRUE(allZero(g.prevV));
  // Batch 0 row 1 is in another segment than the memory: zero output.
  MemoryResult r = c.forward();
  EXPECT_TRUE(allZero(slice(slice(r.y, 0, 0, 1), 2, 1, 2)));
}

TEST(WorkingMemoryGradTest, ShortCompletesChunkWithReset) {
  // Cache of 2C - 1 tokens plus one: the first C tokens are written. Batch 1
  // resets (its pending chunk ends in segment 5, the memory holds 4).
  std::mt19937_64 rng(39);
  MemoryCase c(1, 2 * kChunk - 1, true, false, rng);
  c.setSegments(segments({2}, {5}),
                segments({2, 2, 2, 2, 2, 2, 2}, {4, 5, 5, 5, 5, 5, 5}),
                {2.0, 4.0});
  c.callKeysPending = true;
  c.checkGradients();
  MemoryGrads g = c.backward();
  EXPECT_TRUE(allZero(slice(g.memory, 0, 1, 2)));
}

TEST(WorkingMemoryGradTest, ShortCompletesChunkWithoutSegments) {
  std::mt19937_64 rng(40);
  MemoryCase c(2, 2 * kChunk - 2, true, false, rng);
  c.callKeysPending = true;
  c.checkGradients();
}

TEST(WorkingMemoryTest, ShortWithoutMemory) {
  std::mt19937_64 rng(41);
  // Before the first full chunk: zero output, no state, zero gradients.
  MemoryCase first(3, 0, false, false, rng);
  MemoryResult r = first.forward();
  EXPECT_TRUE(allZero(r.y));
  EXPECT_FALSE(r.memory.has_value());
  EXPECT_FALSE(r.lnt.has_value());
  MemoryGrads g = first.backward();
  EXPECT_TRUE(allZero(g.q));
  EXPECT_TRUE(allZero(g.k));
  EXPECT_TRUE(allZero(g.v));
  // Completing the first chunk creates an empty memory (M = 0, Z = -inf).
  MemoryCase complete(2, kChunk - 2, false, false, rng);
  MemoryResult created = complete.forward();
  EXPECT_TRUE(allZero(created.y));
  ASSERT_TRUE(created.memory.has_value());
  EXPECT_TRUE(allZero(*created.memory));
  for (double z : created.lnt->data)
    EXPECT_EQ(z, -INFINITY);
  EXPECT_TRUE(allZero(complete.backward().prevK));
}

//===----------------------------------------------------------------------===//
// Streaming: split calls equal one call
//===----------------------------------------------------------------------===//

TEST(WorkingMemoryTest, ChunkedCallsMatchOneCall) {
  // 4C tokens in one call == 2C, then C, then C (single-chunk calls with a
  // cache, §11.1 uniform rule), carrying memory, lnt, cache and, per §9,
  // prevSegCount = segment of the last token of the chunk before the cache.
  std::mt19937_64 rng(42);
  for (bool withSeg : {false, true}) {
    MemoryCase full(4 * kChunk, 0, false, true, rng);
    if (withSeg)
      full.setSegments(
          segments({1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4},
                   {1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}));
    MemoryResult expected = full.forward();

    auto callExtras = [&](int64_t begin, int64_t end, const MemoryResult *state,
                          Tensor &seg, Tensor &prevK, Tensor &prevV,
                          Tensor &prevSeg, Tensor &count) {
      MemoryExtras e;
      if (state) {
        e.memory = &*state->memory;
        e.lnt = &*state->lnt;
        prevK = slice(full.k, 2, begin - kChunk, begin);
        prevV = slice(full.v, 2, begin - kChunk, begin);
        e.prevK = &prevK;
        e.prevV = &prevV;
      }
      if (withSeg) {
        seg = slice(full.seg, 1, begin, end);
        e.seg = &seg;
        if (state) {
          prevSeg = slice(full.seg, 1, begin - kChunk, begin);
          count = slice(full.seg, 1, begin - kChunk - 1, begin - kChunk)
                      .reshaped({kBatch});
          e.prevSeg = &prevSeg;
          e.prevSegCount = &count;
        }
      }
      return e;
    };

    const MemoryResult *state = nullptr;
    std::vector<MemoryResult> results;
    results.reserve(3);
    int64_t begin = 0;
    for (int64_t len : {2 * kChunk, kChunk, kChunk}) {
      Tensor seg, prevK, prevV, prevSeg, count;
      MemoryExtras e = callExtras(begin, begin + len, state, seg, prevK, prevV,
                                  prevSeg, count);
      results.push_back(memoryChunkedForward(
          slice(full.q, 2, begin, begin + len),
          slice(full.k, 2, begin, begin + len),
          slice(full.v, 2, begin, begin + len), kChunk, e));
      state = &results.back();
      EXPECT_TRUE(tensorsNear(state->y,
                              slice(expected.y, 2, begin, begin + len), 1e-12))
          << "call at " << begin << " segments " << withSeg;
      begin += len;
    }
    EXPECT_TRUE(tensorsNear(*state->memory, *expected.memory, 1e-12));
    EXPECT_TRUE(tensorsNear(*state->lnt, *expected.lnt, 1e-12));
  }
}

TEST(WorkingMemoryTest, DecodeCallsMatchOneChunkedCall) {
  // 3C tokens in one call == a chunked call of 2C then C single-token
  // decodes; the last decode completes chunk 2 and writes chunk 1.
  std::mt19937_64 rng(43);
  for (bool withSeg : {false, true}) {
    MemoryCase full(3 * kChunk, 0, false, true, rng);
    if (withSeg)
      full.setSegments(segments({1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4},
                                {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}));
    MemoryResult expected = full.forward();

    Tensor seg01 = withSeg ? slice(full.seg, 1, 0, 2 * kChunk) : Tensor();
    MemoryExtras first;
    if (withSeg)
      first.seg = &seg01;
    MemoryResult state = memoryChunkedForward(
        slice(full.q, 2, 0, 2 * kChunk), slice(full.k, 2, 0, 2 * kChunk),
        slice(full.v, 2, 0, 2 * kChunk), kChunk, first);
    Tensor count =
        withSeg ? slice(full.seg, 1, kChunk - 1, kChunk).reshaped({kBatch})
                : Tensor();
    for (int64_t pos = 2 * kChunk; pos < 3 * kChunk; ++pos) {
      Tensor prevK = slice(full.k, 2, kChunk, pos);
      Tensor prevV = slice(full.v, 2, kChunk, pos);
      Tensor seg = withSeg ? slice(full.seg, 1, pos, pos + 1) : Tensor();
      Tensor prevSeg = withSeg ? slice(full.seg, 1, kChunk, pos) : Tensor();
      MemoryExtras e{&*state.memory,
                     &*state.lnt,
                     &prevK,
                     &prevV,
                     withSeg ? &seg : nullptr,
                     withSeg ? &prevSeg : nullptr,
                     withSeg ? &count : nullptr};
      MemoryResult next = memoryShortForward(
          slice(full.q, 2, pos, pos + 1), slice(full.k, 2, pos, pos + 1),
          slice(full.v, 2, pos, pos + 1), kChunk, e);
      EXPECT_TRUE(
          tensorsNear(next.y, slice(expected.y, 2, pos, pos + 1), 1e-12))
          << "decode at " << pos << " segments " << withSeg;
      state = std::move(next);
    }
    EXPECT_TRUE(tensorsNear(*state.memory, *expected.memory, 1e-12));
    EXPECT_TRUE(tensorsNear(*state.lnt, *expected.lnt, 1e-12));
  }
}

//===----------------------------------------------------------------------===//
// Bad input
//===----------------------------------------------------------------------===//

TEST(WorkingMemoryDeathTest, RejectsMalformedCalls) {
  std::mt19937_64 rng(44);
  MemoryCase c(2 * kChunk, kChunk, true, true, rng);
  Tensor q5 = randomTensor({kBatch, kHeads, 5, kFeatures}, rng);
  Tensor v5 = randomTensor({kBatch, kHeads, 5, kValueDim}, rng);
  EXPECT_DEATH(memoryChunkedForward(q5, q5, v5, kChunk, MemoryExtras()),
               "L % chunkSize");
  MemoryExtras noLnt = c.extras();
  noLnt.lnt = nullptr;
  EXPECT_DEATH(memoryChunkedForward(c.q, c.k, c.v, kChunk, noLnt), "together");
  // With a memory the short path needs C < P + L <= 2C.
  Tensor q1 = slice(c.q, 2, 0, 1), k1 = slice(c.k, 2, 0, 1),
         v1 = slice(c.v, 2, 0, 1);
  MemoryExtras memoryOnly{&c.memory, &c.lnt};
  EXPECT_DEATH(memoryShortForward(q1, k1, v1, kChunk, memoryOnly), "C < P");
  EXPECT_DEATH(memoryChunkedBackward(c.q, c.k, c.v, kChunk, c.extras(), c.q,
                                     nullptr, nullptr),
               "dy");
}

} // namespace
