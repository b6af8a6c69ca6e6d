//===- WorkingMemoryExecTest.cpp - Compiled AWM vs the reference ----------===//
//
// gecko.working_memory and gecko.working_memory_grad lowered by
// gecko-convert-to-linalg and JIT-compiled must match gecko::ref (float64)
// on random inputs: several chunks, memory + cache, segments with resets,
// -inf entries in lnt, the short path (read only, completing a chunk,
// fresh stream) and bf16 activations. Where the reference gives exactly 0
// (masked rows, excluded keys, the still pending chunk) the kernel must too.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/WorkingMemory.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::randomTensor;

struct Case {
  int64_t batch = 2, heads = 2, length = 12, keyDim = 5, valueDim = 3;
  int64_t chunk = 4, cacheLen = 0;
  bool chunked = true, memory = false, segments = false;
  /// Every other lnt entry -inf (memory only).
  bool infLnt = false;
  ElementKind kind = ElementKind::F32;
  CpuJitOptions options;
};

/// Rounds through the element type the kernel sees.
Tensor roundTo(const Tensor &t, ElementKind kind) {
  if (kind != ElementKind::BF16)
    return t;
  Tensor r = t;
  for (double &v : r.data) {
    float f = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
    bits &= 0xffff0000u;
    std::memcpy(&f, &bits, 4);
    v = f;
  }
  return r;
}

/// Swaps dims 1 and 2 of a rank-4 tensor value.
mlir::Value swapHeadsAndTokens(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Value x) {
  // The kernel's context loads only what the runner needs.
  b.getContext()->getOrLoadDialect<mlir::linalg::LinalgDialect>();
  b.getContext()->getOrLoadDialect<mlir::tensor::TensorDialect>();
  auto type = mlir::cast<mlir::RankedTensorType>(x.getType());
  llvm::SmallVector<int64_t> shape(type.getShape());
  std::swap(shape[1], shape[2]);
  mlir::Value init =
      mlir::tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return mlir::linalg::TransposeOp::create(b, loc, x, init,
                                           llvm::ArrayRef<int64_t>{0, 2, 1, 3})
      ->getResult(0);
}

/// |a - b| / max(1, |b|) <= tol everywhere, equal infinities, and exactly 0
/// where `expected` is exactly 0.
::testing::AssertionResult matches(const char *name, const Tensor &actual,
                                   const Tensor &expected, double tol) {
  if (actual.shape != expected.shape)
    return ::testing::AssertionFailure() << name << ": shape mismatch";
  double worst = 0.0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    double a = actual[i], b = expected[i];
    if (std::isinf(b)) {
      if (a != b)
        return ::testing::AssertionFailure()
               << name << "[" << i << "] = " << a << ", expected " << b;
      continue;
    }
    if (b == 0.0 && a != 0.0)
      return ::testing::AssertionFailure()
             << name << "[" << i << "] = " << a << ", expected exactly 0";
    if (!std::isfinite(a))
      return ::testing::AssertionFailure() << name << "[" << i << "] = " << a;
    worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
  }
  if (worst > tol)
    return ::testing::AssertionFailure()
           << name << ": max relative error " << worst << " > " << tol;
  std::cout << "  " << name << ": max relative error " << worst << "\n";
  return ::testing::AssertionSuccess();
}

/// Runs forward + backward of `c` compiled and in the reference; compares.
void runCase(const Case &c, double tol, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int64_t B = c.batch, H = c.heads, L = c.length, S = c.keyDim, V = c.valueDim,
          T = c.cacheLen;
  bool cache = T > 0;
  // Reference layout (B, H, L, .), values rounded to the kernel's type.
  Tensor q = roundTo(randomTensor({B, H, L, S}, rng, -2, 2), c.kind);
  Tensor k = roundTo(randomTensor({B, H, L, S}, rng, -2, 2), c.kind);
  Tensor v = roundTo(randomTensor({B, H, L, V}, rng), c.kind);
  Tensor memory = roundTo(randomTensor({B, H, S, V}, rng), c.kind);
  Tensor lnt = randomTensor({B, H, S}, rng, -1, 3);
  if (c.infLnt)
    for (int64_t i = 0; i < lnt.numel(); i += 2)
      lnt[i] = -INFINITY;
  Tensor prevK = roundTo(randomTensor({B, H, T, S}, rng, -2, 2), c.kind);
  Tensor prevV = roundTo(randomTensor({B, H, T, V}, rng), c.kind);
  // Segment ids: non-decreasing, new segments inside chunks and at chunk
  // boundaries; batch row 1 keeps one segment (no resets).
  Tensor prevSeg({B, T}), seg({B, L}), prevCount({B});
  std::bernoulli_distribution boundary(0.2);
  for (int64_t b = 0; b < B; ++b) {
    int64_t id = 3;
    for (int64_t t = 0; t < T; ++t) {
      id += b == 0 && boundary(rng);
      prevSeg.at(b, t) = id;
    }
    prevCount.at(b) = b == 0 && T > 0 ? prevSeg.at(b, T - 1) - 1 : id;
    for (int64_t t = 0; t < L; ++t) {
      id += b == 0 && (boundary(rng) || t == c.chunk + 1);
      seg.at(b, t) = id;
    }
  }
  Tensor dy = roundTo(randomTensor({B, H, L, V}, rng), c.kind);
  Tensor dMemory = roundTo(randomTensor({B, H, S, V}, rng), c.kind);
  Tensor dLnt = randomTensor({B, H, S}, rng);

  ref::MemoryExtras extras;
  if (c.memory) {
    extras.memory = &memory;
    extras.lnt = &lnt;
  }
  if (cache) {
    extras.prevK = &prevK;
    extras.prevV = &prevV;
  }
  if (c.segments) {
    extras.seg = &seg;
    if (cache) {
      extras.prevSeg = &prevSeg;
      extras.prevSegCount = &prevCount;
    }
  }
  ref::MemoryResult want =
      c.chunked ? ref::memoryChunkedForward(q, k, v, c.chunk, extras)
                : ref::memoryShortForward(q, k, v, c.chunk, extras);
  bool endsPresent = want.memory.has_value();
  ref::MemoryGrads wantGrads =
      c.chunked ? ref::memoryChunkedBackward(q, k, v, c.chunk, extras, dy,
                                             endsPresent ? &dMemory : nullptr,
                                             endsPresent ? &dLnt : nullptr)
                : ref::memoryShortBackward(q, k, v, c.chunk, extras, dy,
                                           endsPresent ? &dMemory : nullptr,
                                           endsPresent ? &dLnt : nullptr);

  std::vector<KernelInput> inputs;
  auto add = [&](const Tensor &t, ElementKind kind) {
    inputs.push_back(KernelInput::tensor(t, kind));
  };
  add(q.transposed(1, 2), c.kind);
  add(k.transposed(1, 2), c.kind);
  add(v.transposed(1, 2), c.kind);
  if (c.memory) {
    add(memory, c.kind);
    add(lnt, ElementKind::F32);
  }
  if (cache) {
    add(prevK.transposed(1, 2), c.kind);
    add(prevV.transposed(1, 2), c.kind);
  }
  bool prevSegs = c.segments && cache;
  if (c.segments)
    add(seg, ElementKind::I64);
  if (prevSegs) {
    add(prevSeg, ElementKind::I64);
    add(prevCount, ElementKind::I64);
  }
  add(dy.transposed(1, 2), c.kind);
  if (endsPresent) {
    add(dMemory, c.kind);
    add(dLnt, ElementKind::F32);
  }
  auto body = [&](mlir::OpBuilder &b, mlir::Location loc,
                  mlir::ValueRange args) {
    unsigned next = 3;
    auto take = [&](bool present) {
      return present ? args[next++] : mlir::Value();
    };
    mlir::Value mem = take(c.memory), z = take(c.memory);
    mlir::Value pk = take(cache), pv = take(cache);
    mlir::Value sg = take(c.segments);
    mlir::Value ps = take(prevSegs), pc = take(prevSegs);
    mlir::Value dout = take(true);
    mlir::Value dm = take(endsPresent), dz = take(endsPresent);
    mlir::Type act =
        mlir::cast<mlir::RankedTensorType>(args[2].getType()).getElementType();
    auto pathAttr = mlir::gecko::ChunkPathAttr::get(
        b.getContext(), c.chunked ? mlir::gecko::ChunkPath::Chunked
                                  : mlir::gecko::ChunkPath::Short);
    auto chunkAttr = b.getI64IntegerAttr(c.chunk);
    auto memType = mlir::RankedTensorType::get({B, H, S, V}, act);
    auto lntType = mlir::RankedTensorType::get({B, H, S}, b.getF32Type());
    auto fwd = mlir::gecko::WorkingMemoryOp::create(
        b, loc, dout.getType(), memType, lntType, pathAttr, args[0], args[1],
        args[2], mem, z, pk, pv, sg, ps, pc, chunkAttr);
    auto grad = mlir::gecko::WorkingMemoryGradOp::create(
        b, loc, args[0].getType(), args[1].getType(), args[2].getType(),
        c.memory ? mem.getType() : mlir::Type(),
        c.memory ? z.getType() : mlir::Type(),
        cache ? pk.getType() : mlir::Type(),
        cache ? pv.getType() : mlir::Type(), pathAttr, args[0], args[1],
        args[2], mem, z, pk, pv, sg, ps, pc, dout, dm, dz, chunkAttr);
    llvm::SmallVector<mlir::Value> results = {
        swapHeadsAndTokens(b, loc, fwd.getOut()),
        fwd.getNewMemory(),
        fwd.getNewLnt(),
        swapHeadsAndTokens(b, loc, grad.getDaq()),
        swapHeadsAndTokens(b, loc, grad.getDak()),
        swapHeadsAndTokens(b, loc, grad.getDv())};
    if (c.memory) {
      results.push_back(grad.getDmemory());
      results.push_back(grad.getDlnt());
    }
    if (cache) {
      results.push_back(swapHeadsAndTokens(b, loc, grad.getDprevK()));
      results.push_back(swapHeadsAndTokens(b, loc, grad.getDprevV()));
    }
    return results;
  };
  auto got = runKernel(inputs, body, c.options);
  ASSERT_TRUE(static_cast<bool>(got)) << toString(got.takeError());
  std::vector<Tensor> &r = *got;
  unsigned i = 0;
  EXPECT_TRUE(matches("out.y", r[i++], want.y, tol));
  if (endsPresent) {
    EXPECT_TRUE(matches("out.memory", r[i++], *want.memory, tol));
    EXPECT_TRUE(matches("out.lnt", r[i++], *want.lnt, tol));
  } else {
    // No memory after the call: the empty memory (zeros, -inf).
    EXPECT_TRUE(matches("out.memory", r[i++], Tensor({B, H, S, V}, 0.0), 0));
    EXPECT_TRUE(matches("out.lnt", r[i++], Tensor({B, H, S}, -INFINITY), 0));
  }
  EXPECT_TRUE(matches("grad.q", r[i++], wantGrads.q, tol));
  EXPECT_TRUE(matches("grad.k", r[i++], wantGrads.k, tol));
  EXPECT_TRUE(matches("grad.v", r[i++], wantGrads.v, tol));
  if (c.memory) {
    EXPECT_TRUE(matches("grad.memory", r[i++], wantGrads.memory, tol));
    EXPECT_TRUE(matches("grad.lnt", r[i++], wantGrads.lnt, tol));
  }
  if (cache) {
    EXPECT_TRUE(matches("grad.prev_k", r[i++], wantGrads.prevK, tol));
    EXPECT_TRUE(matches("grad.prev_v", r[i++], wantGrads.prevV, tol));
  }
}

TEST(WorkingMemoryExecTest, ChunkedFreshStreamSeveralChunks) {
  Case c;
  c.length = 20; // five chunks; chunks 0 and 1 read nothing
  runCase(c, 1e-5, 1);
}

TEST(WorkingMemoryExecTest, ChunkedFreshStreamWithSegments) {
  Case c;
  c.length = 16;
  c.segments = true;
  runCase(c, 1e-5, 2);
}

TEST(WorkingMemoryExecTest, ChunkedMemoryAndCacheWithSegmentResets) {
  Case c;
  c.batch = 3;
  c.heads = 3;
  c.length = 16;
  c.memory = true;
  c.cacheLen = 4;
  c.segments = true;
  runCase(c, 1e-5, 3);
}

TEST(WorkingMemoryExecTest, ChunkedMemoryWithMinusInfLnt) {
  Case c;
  c.memory = true;
  c.cacheLen = 4;
  c.infLnt = true;
  runCase(c, 1e-5, 4);
}

TEST(WorkingMemoryExecTest, ChunkedSingleChunkWithSegments) {
  Case c;
  c.length = 4;
  c.memory = true;
  c.cacheLen = 4;
  c.segments = true;
  runCase(c, 1e-5, 5);
}

TEST(WorkingMemoryExecTest, ShortReadOnlyDecode) {
  Case c;
  c.chunked = false;
  c.length = 1;
  c.cacheLen = 5;
  c.memory = true;
  c.segments = true;
  runCase(c, 1e-5, 6);
}

TEST(WorkingMemoryExecTest, ShortCompletingAChunkWritesIt) {
  Case c;
  c.chunked = false;
  c.length = 3;
  c.cacheLen = 5;
  c.memory = true;
  c.segments = true;
  c.infLnt = true;
  runCase(c, 1e-5, 7);
}

TEST(WorkingMemoryExecTest, ShortCompletingAChunkWithoutSegments) {
  Case c;
  c.chunked = false;
  c.length = 1;
  c.cacheLen = 7;
  c.memory = true;
  runCase(c, 1e-5, 8);
}

TEST(WorkingMemoryExecTest, ShortFreshStreamReadsNothing) {
  Case c;
  c.chunked = false;
  c.length = 2;
  c.cacheLen = 2; // T + L = C: the memory is created empty
  runCase(c, 0.0, 9);
}

TEST(WorkingMemoryExecTest, Bf16ActivationsWithF32Accumulation) {
  Case c;
  c.length = 12;
  c.memory = true;
  c.cacheLen = 4;
  c.segments = true;
  c.kind = ElementKind::BF16;
  runCase(c, 1e-2, 10);
}

} // namespace
} // namespace gecko::exec
