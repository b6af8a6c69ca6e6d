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

#include <algorithm>
#include <cmath>
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
  bool chunked = true, segments = false, causal = true;
  ElementKind kind = ElementKind::F32;
};

/// The operands of one call (prevK/prevV/seg/prevSeg empty when absent).
struct Inputs {
  Tensor q, k, v, dy, prevK, prevV, seg, prevSeg;
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

/// Random inputs (rounded to the kernel's element type); segment ids are
/// documents of 7 tokens over [cache ; call], shifted per batch row.
Inputs randomInputs(const Case &c, unsigned seed) {
  std::mt19937_64 rng(seed);
  auto random = [&](std::vector<int64_t> shape) {
    return roundTo(randomTensor(std::move(shape), rng), c.kind);
  };
  Inputs in;
  in.q = random({c.batch, c.length, c.heads, c.keyDim});
  in.k = random({c.batch, c.length, c.heads, c.keyDim});
  in.v = random({c.batch, c.length, c.heads, c.valueDim});
  in.dy = random({c.batch, c.length, c.heads, c.valueDim});
  if (c.cacheLen > 0) {
    in.prevK = random({c.batch, c.cacheLen, c.heads, c.keyDim});
    in.prevV = random({c.batch, c.cacheLen, c.heads, c.valueDim});
  }
  if (c.segments) {
    in.seg = Tensor({c.batch, c.length});
    in.prevSeg = Tensor({c.batch, c.cacheLen});
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t t = 0; t < c.cacheLen + c.length; ++t) {
        double id = static_cast<double>((t + 3 * b) / 7);
        if (t < c.cacheLen)
          in.prevSeg.at(b, t) = id;
        else
          in.seg.at(b, t - c.cacheLen) = id;
      }
  }
  return in;
}

/// Compiles and runs chunk_attention + chunk_attention_grad: y, dq, dk, dv
/// (+ dprev_k, dprev_v with a cache).
llvm::Expected<std::vector<Tensor>> runCompiled(const Case &c,
                                                const Inputs &in) {
  bool cache = c.cacheLen > 0;
  std::vector<KernelInput> inputs = {KernelInput::tensor(in.q, c.kind),
                                     KernelInput::tensor(in.k, c.kind),
                                     KernelInput::tensor(in.v, c.kind)};
  if (cache) {
    inputs.push_back(KernelInput::tensor(in.prevK, c.kind));
    inputs.push_back(KernelInput::tensor(in.prevV, c.kind));
  }
  if (c.segments) {
    inputs.push_back(KernelInput::tensor(in.seg, ElementKind::I64));
    if (cache)
      inputs.push_back(KernelInput::tensor(in.prevSeg, ElementKind::I64));
  }
  inputs.push_back(KernelInput::tensor(in.dy, c.kind));
  return runKernel(inputs, [&](mlir::OpBuilder &b, mlir::Location loc,
                               mlir::ValueRange args) {
    unsigned next = 3;
    mlir::Value pk = cache ? args[next++] : mlir::Value();
    mlir::Value pv = cache ? args[next++] : mlir::Value();
    mlir::Value s = c.segments ? args[next++] : mlir::Value();
    mlir::Value ps = c.segments && cache ? args[next++] : mlir::Value();
    mlir::Value dout = args[next];
    auto path = mlir::gecko::ChunkPathAttr::get(
        b.getContext(), c.chunked ? mlir::gecko::ChunkPath::Chunked
                                  : mlir::gecko::ChunkPath::Short);
    auto chunkAttr = b.getI64IntegerAttr(c.chunk);
    mlir::UnitAttr causal = c.causal ? b.getUnitAttr() : mlir::UnitAttr();
    auto forward = mlir::gecko::ChunkAttentionOp::create(
        b, loc, args[2].getType(), path, args[0], args[1], args[2], pk, pv, s,
        ps, chunkAttr, causal);
    auto grad = mlir::gecko::ChunkAttentionGradOp::create(
        b, loc, args[0].getType(), args[1].getType(), args[2].getType(),
        cache ? pk.getType() : mlir::Type(),
        cache ? pv.getType() : mlir::Type(), path, args[0], args[1], args[2],
        pk, pv, s, ps, dout, chunkAttr, causal);
    llvm::SmallVector<mlir::Value> values = {forward.getOut(), grad.getDq(),
                                             grad.getDk(), grad.getDv()};
    if (cache) {
      values.push_back(grad.getDprevK());
      values.push_back(grad.getDprevV());
    }
    return values;
  });
}

/// Runs the compiled forward + backward and the reference on the same
/// random inputs; expects every result within `tol` (|a-b| / max(1,|b|)).
void checkAgainstReference(const Case &c, unsigned seed, double tol) {
  Inputs in = randomInputs(c, seed);
  bool cache = c.cacheLen > 0;
  ref::AttentionExtras extras;
  if (cache) {
    extras.prevK = &in.prevK;
    extras.prevV = &in.prevV;
  }
  if (c.segments) {
    extras.seg = &in.seg;
    if (cache)
      extras.prevSeg = &in.prevSeg;
  }
  Tensor expectedY =
      c.chunked ? ref::chunkAttentionForward(in.q, in.k, in.v, c.chunk, extras)
                : ref::shortAttentionForward(in.q, in.k, in.v, extras);
  ref::AttentionGrads expected =
      c.chunked ? ref::chunkAttentionBackward(in.q, in.k, in.v, c.chunk, extras,
                                              in.dy)
                : ref::shortAttentionBackward(in.q, in.k, in.v, extras, in.dy);

  auto results = runCompiled(c, in);
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

/// Non-causal attention (no reference entry point): float64 loops over the
/// window of each query (chunked: chunks c - 1 and c of [cache ; call] in
/// full; short: all of [cache ; call]) with the segment mask.
Tensor nonCausalForward(const Case &c, const Inputs &in) {
  int64_t p = c.cacheLen;
  Tensor y({c.batch, c.length, c.heads, c.valueDim});
  auto key = [&](int64_t b, int64_t j, int64_t h, int64_t d) {
    return j < p ? in.prevK.at(b, j, h, d) : in.k.at(b, j - p, h, d);
  };
  auto value = [&](int64_t b, int64_t j, int64_t h, int64_t d) {
    return j < p ? in.prevV.at(b, j, h, d) : in.v.at(b, j - p, h, d);
  };
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.length; ++i) {
        int64_t begin = 0, end = p + c.length;
        if (c.chunked) {
          int64_t chunk = i / c.chunk;
          begin = std::max<int64_t>(0, p + (chunk - 1) * c.chunk);
          end = p + (chunk + 1) * c.chunk;
        }
        std::vector<double> scores;
        std::vector<int64_t> keys;
        double top = -INFINITY;
        for (int64_t j = begin; j < end; ++j) {
          if (c.segments) {
            double keySeg = j < p ? in.prevSeg.at(b, j) : in.seg.at(b, j - p);
            if (keySeg != in.seg.at(b, i))
              continue;
          }
          double s = 0;
          for (int64_t d = 0; d < c.keyDim; ++d)
            s += in.q.at(b, i, h, d) * key(b, j, h, d);
          scores.push_back(s);
          keys.push_back(j);
          top = std::max(top, s);
        }
        double sum = 0;
        for (double &s : scores)
          sum += (s = std::exp(s - top));
        for (size_t n = 0; n < keys.size(); ++n)
          for (int64_t d = 0; d < c.valueDim; ++d)
            y.at(b, i, h, d) += scores[n] / sum * value(b, keys[n], h, d);
      }
  return y;
}

/// Forward vs the loops above; backward by a directional derivative of
/// Loss = Σ dy ∘ y along one random direction of every input.
void checkNonCausal(const Case &c, unsigned seed) {
  Inputs in = randomInputs(c, seed);
  auto results = runCompiled(c, in);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  const std::vector<Tensor> &r = *results;
  EXPECT_LE(maxRelativeError(r[0], nonCausalForward(c, in)), 1e-5) << "y";

  std::mt19937_64 rng(seed + 100);
  std::vector<Tensor *> leaves = {&in.q, &in.k, &in.v};
  if (c.cacheLen > 0) {
    leaves.push_back(&in.prevK);
    leaves.push_back(&in.prevV);
  }
  std::vector<Tensor> directions;
  double analytic = 0;
  for (size_t n = 0; n < leaves.size(); ++n) {
    directions.push_back(randomTensor(leaves[n]->shape, rng));
    analytic += ref::testutil::dot(r[n + 1], directions.back());
  }
  auto loss = [&](double step) {
    Inputs moved = in;
    std::vector<Tensor *> movedLeaves = {&moved.q, &moved.k, &moved.v};
    if (c.cacheLen > 0) {
      movedLeaves.push_back(&moved.prevK);
      movedLeaves.push_back(&moved.prevV);
    }
    for (size_t n = 0; n < movedLeaves.size(); ++n)
      for (int64_t e = 0; e < movedLeaves[n]->numel(); ++e)
        (*movedLeaves[n])[e] += step * directions[n][e];
    return ref::testutil::dot(in.dy, nonCausalForward(c, moved));
  };
  double eps = 1e-4;
  double numeric = (loss(eps) - loss(-eps)) / (2 * eps);
  EXPECT_NEAR(analytic, numeric, 1e-4 * std::max(1.0, std::abs(numeric)));
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

// Without `causal`: whole windows, checked against float64 loops.
TEST(ChunkAttentionExecTest, NotCausalChunkedCacheSegments) {
  Case c;
  c.causal = false;
  c.cacheLen = 20;
  c.segments = true;
  checkNonCausal(c, 11);
}

TEST(ChunkAttentionExecTest, NotCausalShortPrefillCache) {
  Case c;
  c.causal = false;
  c.chunked = false;
  c.length = 13;
  c.cacheLen = 9;
  checkNonCausal(c, 12);
}

} // namespace
} // namespace gecko::exec
