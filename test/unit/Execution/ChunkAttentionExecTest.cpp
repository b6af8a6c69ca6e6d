//===- ChunkAttentionExecTest.cpp - Compiled SCA vs the reference ---------===//
//
// gecko.chunk_attention and gecko.chunk_attention_grad lowered by
// gecko-convert-to-linalg (flash-style, default tiles: 16 queries x 8 keys)
// and JIT-compiled must match gecko::ref (float64) on random inputs: chunk
// sizes that are not multiples of the tiles, several chunks, the cache,
// segment ids, the short path (prefill with and without a cache) and decode
// (L = 1) with caches of C + 2 and 2C - 1 tokens, and bf16 activations.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/ChunkAttention.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::maxRelativeError;
using ref::testutil::randomTensor;

struct Case {
  int64_t batch = 2, heads = 2, length = 40, keyDim = 6, valueDim = 5;
  int64_t chunk = 20, cacheLen = 0;
  bool chunked = true, segments = false;
  ElementKind kind = ElementKind::F32;
};

/// Rounds through bf16 (nearest even) when the kernel sees bf16.
Tensor roundTo(const Tensor &t, ElementKind kind) {
  if (kind != ElementKind::BF16)
    return t;
  Tensor r = t;
  for (double &v : r.data) {
    float f = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits += 0x7fff + ((bits >> 16) & 1);
    bits &= 0xffff0000u;
    std::memcpy(&f, &bits, 4);
    v = f;
  }
  return r;
}

/// Runs the compiled forward + backward and the reference on the same
/// random inputs; expects every result within `tol` (|a-b| / max(1,|b|)).
void checkAgainstReference(const Case &c, unsigned seed, double tol) {
  std::mt19937_64 rng(seed);
  auto random = [&](std::vector<int64_t> shape) {
    return roundTo(randomTensor(std::move(shape), rng), c.kind);
  };
  Tensor q = random({c.batch, c.length, c.heads, c.keyDim});
  Tensor k = random({c.batch, c.length, c.heads, c.keyDim});
  Tensor v = random({c.batch, c.length, c.heads, c.valueDim});
  Tensor dy = random({c.batch, c.length, c.heads, c.valueDim});
  Tensor prevK, prevV, seg, prevSeg;
  bool cache = c.cacheLen > 0;
  if (cache) {
    prevK = random({c.batch, c.cacheLen, c.heads, c.keyDim});
    prevV = random({c.batch, c.cacheLen, c.heads, c.valueDim});
  }
  if (c.segments) {
    // Documents of 7 tokens over [cache ; call], shifted per batch row.
    seg = Tensor({c.batch, c.length});
    prevSeg = Tensor({c.batch, c.cacheLen});
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t t = 0; t < c.cacheLen + c.length; ++t) {
        double id = static_cast<double>((t + 3 * b) / 7);
        if (t < c.cacheLen)
          prevSeg.at(b, t) = id;
        else
          seg.at(b, t - c.cacheLen) = id;
      }
  }

  ref::AttentionExtras extras;
  if (cache) {
    extras.prevK = &prevK;
    extras.prevV = &prevV;
  }
  if (c.segments) {
    extras.seg = &seg;
    if (cache)
      extras.prevSeg = &prevSeg;
  }
  Tensor expectedY = c.chunked
                         ? ref::chunkAttentionForward(q, k, v, c.chunk, extras)
                         : ref::shortAttentionForward(q, k, v, extras);
  ref::AttentionGrads expected =
      c.chunked ? ref::chunkAttentionBackward(q, k, v, c.chunk, extras, dy)
                : ref::shortAttentionBackward(q, k, v, extras, dy);

  std::vector<KernelInput> inputs = {KernelInput::tensor(q, c.kind),
                                     KernelInput::tensor(k, c.kind),
                                     KernelInput::tensor(v, c.kind)};
  if (cache) {
    inputs.push_back(KernelInput::tensor(prevK, c.kind));
    inputs.push_back(KernelInput::tensor(prevV, c.kind));
  }
  if (c.segments) {
    inputs.push_back(KernelInput::tensor(seg, ElementKind::I64));
    if (cache)
      inputs.push_back(KernelInput::tensor(prevSeg, ElementKind::I64));
  }
  inputs.push_back(KernelInput::tensor(dy, c.kind));
  bool segments = c.segments, chunked = c.chunked;
  int64_t chunk = c.chunk;
  auto results = runKernel(inputs, [&](mlir::OpBuilder &b, mlir::Location loc,
                                       mlir::ValueRange args) {
    unsigned next = 3;
    mlir::Value pk = cache ? args[next++] : mlir::Value();
    mlir::Value pv = cache ? args[next++] : mlir::Value();
    mlir::Value s = segments ? args[next++] : mlir::Value();
    mlir::Value ps = segments && cache ? args[next++] : mlir::Value();
    mlir::Value dout = args[next];
    auto path = mlir::gecko::ChunkPathAttr::get(
        b.getContext(), chunked ? mlir::gecko::ChunkPath::Chunked
                                : mlir::gecko::ChunkPath::Short);
    auto chunkAttr = b.getI64IntegerAttr(chunk);
    auto forward = mlir::gecko::ChunkAttentionOp::create(
        b, loc, args[2].getType(), path, args[0], args[1], args[2], pk, pv, s,
        ps, chunkAttr, b.getUnitAttr());
    auto grad = mlir::gecko::ChunkAttentionGradOp::create(
        b, loc, args[0].getType(), args[1].getType(), args[2].getType(),
        cache ? pk.getType() : mlir::Type(),
        cache ? pv.getType() : mlir::Type(), path, args[0], args[1], args[2],
        pk, pv, s, ps, dout, chunkAttr, b.getUnitAttr());
    llvm::SmallVector<mlir::Value> values = {forward.getOut(), grad.getDq(),
                                             grad.getDk(), grad.getDv()};
    if (cache) {
      values.push_back(grad.getDprevK());
      values.push_back(grad.getDprevV());
    }
    return values;
  });
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ASSERT_EQ(results->size(), cache ? 6u : 4u);
  const std::vector<Tensor> &r = *results;
  EXPECT_LE(maxRelativeError(r[0], expectedY), tol) << "y";
  EXPECT_LE(maxRelativeError(r[1], expected.q), tol) << "dq";
  EXPECT_LE(maxRelativeError(r[2], expected.k), tol) << "dk";
  EXPECT_LE(maxRelativeError(r[3], expected.v), tol) << "dv";
  if (cache) {
    EXPECT_LE(maxRelativeError(r[4], expected.prevK), tol) << "dprev_k";
    EXPECT_LE(maxRelativeError(r[5], expected.prevV), tol) << "dprev_v";
  }
}

// C = 20 with 16-query / 8-key tiles: partial query and key tiles, key
// tiles that straddle the causal diagonal.
TEST(ChunkAttentionExecTest, ChunkedSeveralChunks) {
  Case c;
  c.length = 60;
  checkAgainstReference(c, 1, 1e-5);
}

TEST(ChunkAttentionExecTest, ChunkedCacheAndSegments) {
  Case c;
  c.cacheLen = 20;
  c.segments = true;
  checkAgainstReference(c, 2, 1e-5);
}

TEST(ChunkAttentionExecTest, ChunkedSegmentsNoCache) {
  Case c;
  c.segments = true;
  c.heads = 3;
  checkAgainstReference(c, 3, 1e-5);
}

TEST(ChunkAttentionExecTest, ChunkedSmallChunkWithCache) {
  Case c;
  c.chunk = 5;
  c.length = 15;
  c.cacheLen = 5;
  checkAgainstReference(c, 4, 1e-5);
}

TEST(ChunkAttentionExecTest, ShortPrefillNoCache) {
  Case c;
  c.chunked = false;
  c.length = 13;
  checkAgainstReference(c, 5, 1e-5);
}

TEST(ChunkAttentionExecTest, ShortPrefillCacheSegments) {
  Case c;
  c.chunked = false;
  c.length = 19;
  c.cacheLen = 17;
  c.segments = true;
  checkAgainstReference(c, 6, 1e-5);
}

TEST(ChunkAttentionExecTest, DecodeCacheCPlus2Segments) {
  Case c;
  c.chunked = false;
  c.length = 1;
  c.cacheLen = 22;
  c.segments = true;
  checkAgainstReference(c, 7, 1e-5);
}

TEST(ChunkAttentionExecTest, DecodeCache2CMinus1) {
  Case c;
  c.chunked = false;
  c.length = 1;
  c.cacheLen = 39;
  checkAgainstReference(c, 8, 1e-5);
}

TEST(ChunkAttentionExecTest, Bf16ChunkedCacheSegments) {
  Case c;
  c.cacheLen = 20;
  c.segments = true;
  c.kind = ElementKind::BF16;
  checkAgainstReference(c, 9, 1e-2);
}

TEST(ChunkAttentionExecTest, Bf16Decode) {
  Case c;
  c.chunked = false;
  c.length = 1;
  c.cacheLen = 39;
  c.segments = true;
  c.kind = ElementKind::BF16;
  checkAgainstReference(c, 10, 1e-2);
}

} // namespace
} // namespace gecko::exec
