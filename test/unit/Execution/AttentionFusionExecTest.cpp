//===- AttentionFusionExecTest.cpp - Fused vs unfused attention ---------===//
//
// The MEGA attention graph as the model builder emits it (spec §8):
//   z_split -> head-split expand_shape -> rope(q), rope(k) -> chunk_attention,
//   working_memory(aq, ak, v) -> gated_add(sca, awm, gate r),
// plus the §9 cache rows of the rotated k and of ak, is compiled twice with
// the gecko-to-cpu pipeline: unfused and with fuse-attention (the prologue
// and epilogue fusions; the test first checks that they fire). Both must
// match gecko::ref (float64) at 1e-5 and each other at 1e-5 on random
// inputs: chunk sizes that are not multiples of the attention tiles (16
// queries x 8 keys), several chunks with a carried cache + memory, segment
// ids, rope on a subset of heads at a non-zero start, the short path
// (prefill without a cache: the key cache is every row), decode (L = 1
// after a cache of C + 2 tokens), and bf16 (fused vs unfused at 1e-2, vs the
// reference at 2e-2).
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Fusion/Passes.h"
#include "gecko/Reference/ChunkAttention.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/Rope.h"
#include "gecko/Reference/WorkingMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::randomTensor;

struct Case {
  int64_t batch = 2, heads = 2, length = 40, dz = 6, dv = 5, chunk = 20;
  int64_t cacheLen = 0; // T: cached rotated k, v and ak of earlier calls
  bool memory = false;  // AWM memory (requires a cache)
  bool segments = false;
  int64_t start = 0;                   // rope start (tokens already processed)
  int64_t ropeHeads = 0;               // 0: all heads
  ElementKind kind = ElementKind::F32; // activations and parameters
  bool chunked() const { return length >= chunk; }
  int64_t kept() const { return std::min(length, chunk); }
};

constexpr double kEps = 1e-5, kBase = 500000.0;

struct Inputs {
  Tensor z, gamma, beta, v, r, prevK, prevV, awmPrevK, memory, lnt, seg,
      prevSeg, prevCount;
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

Inputs randomInputs(const Case &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Values rounded to the kernel's element type (lnt stays f32).
  auto random = [&](std::vector<int64_t> shape, double lo = -1.0,
                    double hi = 1.0) {
    return roundTo(randomTensor(std::move(shape), rng, lo, hi), c.kind);
  };
  int64_t B = c.batch, L = c.length, H = c.heads, T = c.cacheLen;
  int64_t Z = H * c.dz;
  Inputs in;
  in.z = random({B, L, Z}, -2, 2);
  in.gamma = random({4, Z}, -0.5, 0.5);
  in.beta = random({4, Z}, -0.5, 0.5);
  in.v = random({B, L, H, c.dv});
  in.r = random({B, L, H * c.dv});
  if (T > 0) {
    in.prevK = random({B, T, H, c.dz});
    in.prevV = random({B, T, H, c.dv});
    in.awmPrevK = random({B, T, H, c.dz}, -2, 2);
  }
  if (c.memory) {
    in.memory = random({B, H, c.dz, c.dv});
    in.lnt = randomTensor({B, H, c.dz}, rng, -1, 3);
  }
  // Documents of 7 tokens over [cache ; call], shifted per batch row; the
  // memory's segment is the one before the cache's first token.
  in.seg = Tensor({B, L});
  in.prevSeg = Tensor({B, T});
  in.prevCount = Tensor({B});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T + L; ++t) {
      double id = static_cast<double>((t + 3 * b) / 7);
      if (t < T)
        in.prevSeg.at(b, t) = id;
      else
        in.seg.at(b, t - T) = id;
    }
    in.prevCount.at(b) = T > 0 ? in.prevSeg.at(b, 0) : in.seg.at(b, 0);
  }
  return in;
}

/// The expected results: attn (B, L, H·dv), new memory, new lnt, the rotated
/// k rows and the ak rows the cache keeps ((B, kept, H, dz) each).
std::vector<Tensor> reference(const Case &c, const Inputs &in) {
  int64_t B = c.batch, L = c.length, H = c.heads;
  ref::ZSplitResult split =
      ref::zSplitForward(in.z, in.gamma, in.beta, H, kEps);
  auto heads = [&](const Tensor &t) { return t.reshaped({B, L, H, c.dz}); };
  ref::RopeTable table = ref::ropeTable(c.dz, kBase, c.start, c.start + L);
  int64_t ropeHeads = c.ropeHeads > 0 ? c.ropeHeads : H;
  Tensor q = ref::ropeForward(heads(split.q), table, ropeHeads);
  Tensor k = ref::ropeForward(heads(split.k), table, ropeHeads);
  Tensor aq = heads(split.aq), ak = heads(split.ak);
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
  Tensor sca = c.chunked()
                   ? ref::chunkAttentionForward(q, k, in.v, c.chunk, extras)
                   : ref::shortAttentionForward(q, k, in.v, extras);
  Tensor awmPrevK = cache ? in.awmPrevK.transposed(1, 2) : Tensor();
  Tensor prevV = cache ? in.prevV.transposed(1, 2) : Tensor();
  ref::MemoryExtras memory;
  if (c.memory) {
    memory.memory = &in.memory;
    memory.lnt = &in.lnt;
  }
  if (cache) {
    memory.prevK = &awmPrevK;
    memory.prevV = &prevV;
  }
  if (c.segments) {
    memory.seg = &in.seg;
    if (cache) {
      memory.prevSeg = &in.prevSeg;
      memory.prevSegCount = &in.prevCount;
    }
  }
  Tensor vT = in.v.transposed(1, 2);
  ref::MemoryResult awm =
      c.chunked()
          ? ref::memoryChunkedForward(aq.transposed(1, 2), ak.transposed(1, 2),
                                      vT, c.chunk, memory)
          : ref::memoryShortForward(aq.transposed(1, 2), ak.transposed(1, 2),
                                    vT, c.chunk, memory);
  Tensor out = awm.y.transposed(1, 2).reshaped({B, L, H * c.dv});
  Tensor attn = sca.reshaped({B, L, H * c.dv});
  for (int64_t i = 0; i < attn.numel(); ++i)
    attn[i] = attn[i] * in.r[i] + out[i];
  auto lastRows = [&](const Tensor &x) {
    Tensor rows({B, c.kept(), H, c.dz});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < c.kept(); ++t)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < c.dz; ++d)
            rows.at(b, t, h, d) = x.at(b, L - c.kept() + t, h, d);
    return rows;
  };
  std::vector<Tensor> results = {attn};
  Tensor emptyMemory({B, H, c.dz, c.dv}, 0.0),
      emptyLnt({B, H, c.dz}, -INFINITY);
  results.push_back(awm.memory ? *awm.memory : emptyMemory);
  results.push_back(awm.lnt ? *awm.lnt : emptyLnt);
  results.push_back(lastRows(k));
  results.push_back(lastRows(ak));
  return results;
}

/// The kernel inputs of `in` (start as an i64 scalar).
std::vector<KernelInput> kernelInputs(const Case &c, const Inputs &in) {
  ElementKind act = c.kind;
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(in.z, act),    KernelInput::tensor(in.gamma, act),
      KernelInput::tensor(in.beta, act), KernelInput::scalar(c.start),
      KernelInput::tensor(in.v, act),    KernelInput::tensor(in.r, act)};
  if (c.cacheLen > 0) {
    inputs.push_back(KernelInput::tensor(in.prevK, act));
    inputs.push_back(KernelInput::tensor(in.prevV, act));
    inputs.push_back(KernelInput::tensor(in.awmPrevK, act));
  }
  if (c.memory) {
    inputs.push_back(KernelInput::tensor(in.memory, act));
    inputs.push_back(KernelInput::tensor(in.lnt));
  }
  if (c.segments) {
    inputs.push_back(KernelInput::tensor(in.seg, ElementKind::I64));
    if (c.cacheLen > 0) {
      inputs.push_back(KernelInput::tensor(in.prevSeg, ElementKind::I64));
      inputs.push_back(KernelInput::tensor(in.prevCount, ElementKind::I64));
    }
  }
  return inputs;
}

/// The unfused graph, as lib/Model/ModelBuilder.cpp emits it.
KernelBody graph(const Case &c) {
  return [c](mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange args) {
    mlir::MLIRContext *ctx = b.getContext();
    ctx->getOrLoadDialect<mlir::tensor::TensorDialect>();
    int64_t B = c.batch, L = c.length, H = c.heads;
    bool cache = c.cacheLen > 0;
    unsigned next = 6;
    auto take = [&](bool present) {
      return present ? args[next++] : mlir::Value();
    };
    mlir::Value pk = take(cache), pv = take(cache), apk = take(cache);
    mlir::Value mem = take(c.memory), lnt = take(c.memory);
    mlir::Value seg = take(c.segments);
    mlir::Value ps = take(c.segments && cache), pc = take(c.segments && cache);
    mlir::Value z = args[0], start = args[3], v = args[4], r = args[5];
    mlir::Type act =
        mlir::cast<mlir::RankedTensorType>(v.getType()).getElementType();
    auto zType = mlir::cast<mlir::RankedTensorType>(z.getType());
    auto split = mlir::gecko::ZSplitOp::create(
        b, loc, zType, zType, zType, zType, z, args[1], args[2],
        b.getI64IntegerAttr(H), b.getF64FloatAttr(kEps));
    auto headType = mlir::RankedTensorType::get({B, L, H, c.dz}, act);
    auto expand = [&](mlir::Value x) -> mlir::Value {
      return mlir::tensor::ExpandShapeOp::create(
          b, loc, headType, x,
          llvm::ArrayRef<mlir::ReassociationIndices>{{0}, {1}, {2, 3}});
    };
    mlir::Value qh = expand(split.getQ()), kh = expand(split.getK());
    mlir::Value aqh = expand(split.getAq()), akh = expand(split.getAk());
    mlir::IntegerAttr ropeHeads = c.ropeHeads > 0
                                      ? b.getI64IntegerAttr(c.ropeHeads)
                                      : mlir::IntegerAttr();
    qh = mlir::gecko::RopeOp::create(b, loc, headType, qh, start,
                                     b.getF64FloatAttr(kBase), ropeHeads);
    kh = mlir::gecko::RopeOp::create(b, loc, headType, kh, start,
                                     b.getF64FloatAttr(kBase), ropeHeads);
    auto path = mlir::gecko::ChunkPathAttr::get(
        ctx, c.chunked() ? mlir::gecko::ChunkPath::Chunked
                         : mlir::gecko::ChunkPath::Short);
    mlir::Value sca = mlir::gecko::ChunkAttentionOp::create(
        b, loc, v.getType(), path, qh, kh, v, pk, pv, seg, ps,
        b.getI64IntegerAttr(c.chunk), b.getUnitAttr());
    auto memType = mlir::RankedTensorType::get({B, H, c.dz, c.dv}, act);
    auto lntType = mlir::RankedTensorType::get({B, H, c.dz}, b.getF32Type());
    auto awm = mlir::gecko::WorkingMemoryOp::create(
        b, loc, v.getType(), memType, lntType, path, aqh, akh, v, mem, lnt, apk,
        pv, seg, ps, pc, b.getI64IntegerAttr(c.chunk));
    auto merge = [&](mlir::Value x) -> mlir::Value {
      return mlir::tensor::CollapseShapeOp::create(
          b, loc, x,
          llvm::ArrayRef<mlir::ReassociationIndices>{{0}, {1}, {2, 3}});
    };
    mlir::Value attn = mlir::gecko::GatedAddOp::create(
        b, loc, r.getType(), merge(sca), merge(awm.getOut()), r);
    auto lastRows = [&](mlir::Value x) -> mlir::Value {
      llvm::SmallVector<int64_t> offsets = {0, L - c.kept(), 0, 0};
      llvm::SmallVector<int64_t> sizes = {B, c.kept(), H, c.dz};
      llvm::SmallVector<int64_t> strides(4, 1);
      return mlir::tensor::ExtractSliceOp::create(
          b, loc, mlir::RankedTensorType::get(sizes, act), x,
          mlir::ValueRange{}, mlir::ValueRange{}, mlir::ValueRange{}, offsets,
          sizes, strides);
    };
    return llvm::SmallVector<mlir::Value>{
        attn, awm.getNewMemory(), awm.getNewLnt(), lastRows(kh), lastRows(akh)};
  };
}

/// Builds the graph in a module and runs the two fusion passes on it:
/// counts of (fused_chunk_attention with z split and epilogue,
/// fused_working_memory, remaining z_split / rope / chunk_attention /
/// working_memory / gated_add).
std::array<int, 3> fusedOpCounts(const Case &c, const Inputs &in) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
  mlir::OpBuilder b(&ctx);
  mlir::Location loc = b.getUnknownLoc();
  auto module = mlir::ModuleOp::create(loc);
  std::vector<KernelInput> inputs = kernelInputs(c, in);
  llvm::SmallVector<mlir::Type> types;
  for (const KernelInput &input : inputs)
    types.push_back(kernelInputType(b, input));
  b.setInsertionPointToEnd(module.getBody());
  auto func = mlir::func::FuncOp::create(b, loc, "kernel",
                                         b.getFunctionType(types, {}));
  mlir::Block *entry = func.addEntryBlock();
  mlir::OpBuilder fb = mlir::OpBuilder::atBlockBegin(entry);
  llvm::SmallVector<mlir::Value> results =
      graph(c)(fb, loc, entry->getArguments());
  mlir::func::ReturnOp::create(fb, loc, results);
  func.setFunctionType(
      b.getFunctionType(types, mlir::ValueRange(results).getTypes()));
  mlir::PassManager pm(&ctx);
  pm.addPass(mlir::gecko::createGeckoFuseAttentionPrologue());
  pm.addPass(mlir::gecko::createGeckoFuseAttentionEpilogue());
  std::array<int, 3> counts = {0, 0, 0};
  if (mlir::failed(pm.run(module))) {
    module->erase();
    return {-1, -1, -1};
  }
  module->walk([&](mlir::Operation *op) {
    if (auto sca = llvm::dyn_cast<mlir::gecko::FusedChunkAttentionOp>(op))
      counts[0] += sca.getZ() && sca.getAddend() && sca.getGate() &&
                   sca.getStart() && sca.getKeyCache();
    if (auto awm = llvm::dyn_cast<mlir::gecko::FusedWorkingMemoryOp>(op))
      counts[1] += static_cast<bool>(awm.getKeyCache());
    if (llvm::isa<mlir::gecko::ZSplitOp, mlir::gecko::RopeOp,
                  mlir::gecko::ChunkAttentionOp, mlir::gecko::WorkingMemoryOp,
                  mlir::gecko::GatedAddOp>(op))
      ++counts[2];
  });
  module->erase();
  return counts;
}

const char *kNames[] = {"attn", "new_memory", "new_lnt", "key_cache(k)",
                        "key_cache(ak)"};

/// Compares fused and unfused with the reference at `refTol` and with each
/// other at `pairTol`.
void runCase(const Case &c, uint64_t seed, double refTol = 1e-5,
             double pairTol = 1e-5) {
  Inputs in = randomInputs(c, seed);
  std::array<int, 3> counts = fusedOpCounts(c, in);
  ASSERT_EQ(counts[0], 1) << "the attention is not fully fused";
  ASSERT_EQ(counts[1], 1) << "the working memory is not fused";
  ASSERT_EQ(counts[2], 0) << "unfused ops remain";

  std::vector<Tensor> want = reference(c, in);
  std::vector<KernelInput> inputs = kernelInputs(c, in);
  CpuJitOptions plain, fused;
  fused.fuseAttention = true;
  auto unfusedResults = runKernel(inputs, graph(c), plain);
  ASSERT_TRUE(static_cast<bool>(unfusedResults))
      << llvm::toString(unfusedResults.takeError());
  auto fusedResults = runKernel(inputs, graph(c), fused);
  ASSERT_TRUE(static_cast<bool>(fusedResults))
      << llvm::toString(fusedResults.takeError());
  ASSERT_EQ(fusedResults->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(kNames[i]);
    const Tensor &got = (*fusedResults)[i], &base = (*unfusedResults)[i];
    if ((i == 1 || i == 2) && !c.memory && c.length < c.chunk) {
      // No memory after the call: both return the empty memory exactly.
      EXPECT_EQ(got.data, want[i].data);
      EXPECT_EQ(base.data, want[i].data);
      continue;
    }
    EXPECT_TRUE(ref::testutil::tensorsNear(got, want[i], refTol));
    EXPECT_TRUE(ref::testutil::tensorsNear(base, want[i], refTol));
    EXPECT_TRUE(ref::testutil::tensorsNear(got, base, pairTol));
    std::cout << "  " << kNames[i] << ": fused vs ref "
              << ref::testutil::maxRelativeError(got, want[i])
              << ", fused vs unfused "
              << ref::testutil::maxRelativeError(got, base) << "\n";
  }
}

TEST(AttentionFusionExecTest, ChunkedFreshStream) {
  Case c; // two chunks of 20 (queries 16 + 4, keys 8 + 8 + 4), no state
  runCase(c, 1);
}

TEST(AttentionFusionExecTest, ChunkedCarriedCacheMemoryAndSegments) {
  Case c;
  c.batch = 1;
  c.heads = 3;
  c.length = 40;
  c.cacheLen = 20;
  c.memory = true;
  c.segments = true;
  c.start = 60;
  c.ropeHeads = 2; // head 2 is not rotated
  runCase(c, 2);
}

TEST(AttentionFusionExecTest, ShortPrefillWithoutCache) {
  Case c;
  c.length = 13; // L < C: the key cache is all 13 rows
  c.segments = true;
  runCase(c, 3);
}

TEST(AttentionFusionExecTest, DecodeAfterCachePlusTwo) {
  Case c;
  c.length = 1;
  c.cacheLen = 22; // C + 2 cached tokens, memory present
  c.memory = true;
  c.segments = true;
  c.start = 42;
  runCase(c, 4);
}

TEST(AttentionFusionExecTest, Bf16ChunkedCarriedCacheMemory) {
  // bf16 activations and parameters: the fused prologue rounds q, k, aq, ak
  // where the unfused chain does (z split and rope outputs), so fused and
  // unfused agree (measured: identical); the tolerance allows one bf16
  // rounding of the outputs to flip.
  Case c;
  c.batch = 1;
  c.cacheLen = 20;
  c.memory = true;
  c.segments = true;
  c.start = 20;
  c.kind = ElementKind::BF16;
  runCase(c, 5, 2e-2, 1e-2);
}

} // namespace
} // namespace gecko::exec
