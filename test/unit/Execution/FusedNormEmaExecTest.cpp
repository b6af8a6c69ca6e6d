//===- FusedNormEmaExecTest.cpp - Fused tsn -> cema -> rms vs the chain ---===//
//
// gecko.fused_norm_ema (gecko-fuse-norm-ema's output) compiled with
// gecko-to-cpu, against the unfused chain gecko.timestep_norm -> gecko.cema
// -> gecko.rms_norm in the same kernel and against gecko::ref (the three
// reference functions composed in double), on random non-zero inputs: f32 at
// 1e-5 relative (|a − b| / max(1, |b|)), count exactly; bf16 activations at
// 2e-2 against the reference (where the chain is) and one bf16 step against
// the chain (same roundings).
// Lengths are not multiples of the time chunk, D not a multiple of the
// channel block; carried timestep-norm and EMA state; bos at a chunk start,
// inside a chunk and at the last token; L < C; L = 1 decode.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/ComplexEma.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/TimestepNorm.h"

#include "mlir/IR/BuiltinTypes.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::maxRelativeError;
using ref::testutil::randomMask;
using ref::testutil::randomTensor;

/// Rounds through the element type the kernel sees (f32 or bf16).
Tensor roundTo(Tensor t, ElementKind kind) {
  for (double &v : t.data) {
    float f = static_cast<float>(v);
    if (kind == ElementKind::BF16) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
      bits &= 0xffff0000u;
      std::memcpy(&f, &bits, 4);
    }
    v = f;
  }
  return t;
}

struct FusedCase {
  int64_t batch = 2, length = 37, channels = 24, order = 4;
  int64_t groups = 4, rmsGroups = 1;
  bool state = true, hx = true, bos = true, rmsWeight = true;
  /// Forced bos positions (every row but the last) besides random ones.
  std::vector<int64_t> bosAt = {0, 16, 21, 36};
  double beta1 = 0.95, beta2 = 0.99;
  ElementKind kind = ElementKind::F32;
  double tol = 1e-5;      // against the reference
  double chainTol = 1e-5; // against the unfused chain
  CpuJitOptions options;  // cema-chunk-size = the fused time chunk
  unsigned seed = 1;
};

const char *kNames[] = {"y",        "tsn",     "new_count",
                        "new_mean", "new_var", "new_h"};

void check(const FusedCase &c) {
  SCOPED_TRACE("B=" + std::to_string(c.batch) + " L=" +
               std::to_string(c.length) + " D=" + std::to_string(c.channels) +
               " C=" + std::to_string(c.options.cemaChunkSize) +
               " block=" + std::to_string(c.options.cemaChannelBlock));
  std::mt19937_64 rng(c.seed);
  int64_t B = c.batch, L = c.length, D = c.channels, N = c.order, G = c.groups;
  ElementKind k = c.kind;
  Tensor x = roundTo(randomTensor({B, L, D}, rng, -2.0, 2.0), k);
  Tensor w = roundTo(randomTensor({D}, rng, -0.5, 0.5), k);
  Tensor bias = roundTo(randomTensor({D}, rng, -0.5, 0.5), k);
  Tensor rw = roundTo(randomTensor({D}, rng, -0.5, 0.5), k);
  Tensor count({B}), mean({B, G}), var({B, G});
  if (c.state) {
    std::uniform_int_distribution<int> counts(0, 6);
    for (double &v : count.data)
      v = counts(rng);
    mean = roundTo(randomTensor({B, G}, rng, -0.5, 0.5), k);
    var = roundTo(randomTensor({B, G}, rng, 0.05, 0.8), k);
  }
  // |q| close to 1 for some (d, n): slow decays carry across chunks.
  ref::CemaCoefficients coeffs = ref::cemaCoefficients(
      randomTensor({D, N}, rng, -3, 1), randomTensor({D, N}, rng, -4, 0),
      randomTensor({D}, rng, -2, 2), randomTensor({D, N, 2}, rng));
  coeffs.p = roundTo(coeffs.p, ElementKind::F32);
  coeffs.q = roundTo(coeffs.q, ElementKind::F32);
  coeffs.gamma = roundTo(coeffs.gamma, ElementKind::F32);
  Tensor hx = roundTo(randomTensor({B, D, N, 2}, rng), ElementKind::F32);
  Tensor bos = randomMask({B, L}, rng, c.bos ? 0.06 : 0.0);
  if (c.bos)
    for (int64_t b = 0; b + 1 < B; ++b)
      for (int64_t t : c.bosAt)
        if (t < L)
          bos.at(b, t) = 1.0;

  std::vector<KernelInput> inputs = {
      KernelInput::tensor(x, k),
      KernelInput::tensor(w, k),
      KernelInput::tensor(bias, k),
      KernelInput::tensor(count, ElementKind::I64),
      KernelInput::tensor(mean, k),
      KernelInput::tensor(var, k),
      KernelInput::tensor(coeffs.p),
      KernelInput::tensor(coeffs.q, ElementKind::ComplexF32),
      KernelInput::tensor(coeffs.gamma, ElementKind::ComplexF32)};
  if (c.hx)
    inputs.push_back(KernelInput::tensor(hx, ElementKind::ComplexF32));
  if (c.bos)
    inputs.push_back(KernelInput::tensor(bos, ElementKind::I1));
  if (c.rmsWeight)
    inputs.push_back(KernelInput::tensor(rw, k));

  auto body = [&](mlir::OpBuilder &b, mlir::Location loc,
                  mlir::ValueRange args) {
    unsigned next = 9;
    mlir::Value hxArg = c.hx ? args[next++] : mlir::Value();
    mlir::Value bosArg = c.bos ? args[next++] : mlir::Value();
    mlir::Value rwArg = c.rmsWeight ? args[next++] : mlir::Value();
    mlir::Type xt = args[0].getType(), st = args[4].getType();
    mlir::Type ct = args[3].getType();
    auto ht = mlir::RankedTensorType::get(
        {B, D, N}, mlir::ComplexType::get(b.getF32Type()));
    auto groups = b.getI64IntegerAttr(G);
    auto beta1 = b.getF64FloatAttr(c.beta1), beta2 = b.getF64FloatAttr(c.beta2);
    auto eps = b.getF64FloatAttr(1e-5);
    auto rmsGroups = b.getI64IntegerAttr(c.rmsGroups);
    // The unfused chain.
    auto tsn = mlir::gecko::TimestepNormOp::create(
        b, loc, mlir::TypeRange{xt, ct, st, st}, args[0], args[1], args[2],
        args[3], args[4], args[5], bosArg, mlir::Value(), groups, beta1, beta2,
        eps);
    auto cema =
        mlir::gecko::CemaOp::create(b, loc, mlir::TypeRange{xt, ht}, tsn.getY(),
                                    args[6], args[7], args[8], hxArg, bosArg);
    auto rms = mlir::gecko::RmsNormOp::create(b, loc, xt, cema.getY(), rwArg,
                                              rmsGroups, eps);
    // The fused op on the same operands.
    auto fused = mlir::gecko::FusedNormEmaOp::create(
        b, loc, xt, xt, ct, st, st, ht, args[0], args[1], args[2], args[3],
        args[4], args[5], args[6], args[7], args[8], hxArg, bosArg, rwArg,
        groups, beta1, beta2, eps, rmsGroups, eps);
    llvm::SmallVector<mlir::Value> out(fused->getResults());
    out.append({rms.getY(), tsn.getY(), tsn.getNewCount(), tsn.getNewMean(),
                tsn.getNewVar(), cema.getNewH()});
    return out;
  };
  auto results = runKernel(inputs, body, c.options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ASSERT_EQ(results->size(), 12u);
  const std::vector<Tensor> &r = *results;

  // The reference chain in double.
  ref::TimestepNormConfig config;
  config.numGroups = G;
  config.beta1 = c.beta1;
  config.beta2 = c.beta2;
  config.eps = 1e-5;
  const Tensor *bosPtr = c.bos ? &bos : nullptr;
  ref::TimestepNormResult norm = ref::timestepNormForward(
      x, w, bias, config, &count, &mean, &var, bosPtr, nullptr);
  ref::CemaResult ema = ref::cemaForward(norm.y.transposed(1, 2), coeffs,
                                         c.hx ? &hx : nullptr, bosPtr);
  Tensor ce = ema.y.transposed(1, 2);
  Tensor y =
      ref::groupRmsNorm(ce, c.rmsGroups, c.rmsWeight ? &rw : nullptr, 1e-5);
  std::vector<Tensor> expected = {
      y, norm.y, norm.state.count, norm.state.mean, norm.state.var, ema.h};
  for (size_t i = 0; i < 6; ++i) {
    double vsRef = maxRelativeError(r[i], expected[i]);
    double vsChain = maxRelativeError(r[i], r[i + 6]);
    double chainVsRef = maxRelativeError(r[i + 6], expected[i]);
    std::printf("%-9s fused-ref %.3g  fused-chain %.3g  chain-ref %.3g\n",
                kNames[i], vsRef, vsChain, chainVsRef);
    EXPECT_LE(vsRef, i == 2 ? 0.0 : c.tol) << kNames[i];
    EXPECT_LE(vsChain, i == 2 ? 0.0 : c.chainTol) << kNames[i];
    EXPECT_FALSE(ref::testutil::isAllZero(expected[i]) && i != 2) << kNames[i];
  }
}

TEST(FusedNormEmaExecTest, StreamWithStateBosAndPartialChunks) {
  check(FusedCase{});
}

TEST(FusedNormEmaExecTest, FreshStreamTwoRmsGroupsNoAffine) {
  FusedCase c;
  c.state = c.hx = c.bos = c.rmsWeight = false;
  c.length = 50; // 3 full chunks of 16 and one of 2
  c.rmsGroups = 2;
  c.seed = 2;
  check(c);
}

TEST(FusedNormEmaExecTest, OtherChunksChannelBlocksAndBatchTiles) {
  FusedCase c;
  c.batch = 3;
  c.length = 23;
  c.bosAt = {0, 5, 7, 22};
  c.seed = 3;
  for (auto [chunk, block, batchTile] :
       {std::tuple<int64_t, int64_t, int64_t>{5, 13, 2},
        {1, 6, 1},
        {40, 100, 3}}) {
    c.options.cemaChunkSize = chunk;
    c.options.cemaChannelBlock = block;
    c.options.batchTileSize = batchTile;
    check(c);
  }
}

TEST(FusedNormEmaExecTest, ShorterThanOneChunkAndDecode) {
  FusedCase c;
  c.length = 5;
  c.bosAt = {3};
  c.seed = 4;
  check(c);
  c.length = 1;
  c.batch = 3;
  c.bosAt = {0}; // rows 0 and 1 restart, row 2 carries the state
  c.seed = 5;
  check(c);
}

TEST(FusedNormEmaExecTest, Bf16Activations) {
  FusedCase c;
  c.kind = ElementKind::BF16;
  // tsn, ce and y are each rounded to bf16 (steps of 2^-7 relative): the
  // unfused chain is 1.1e-2 from the double reference here, the fused op
  // equal to it up to one bf16 step.
  c.tol = 2e-2;
  c.chainTol = 8e-3;
  c.seed = 6;
  check(c);
}

} // namespace
} // namespace gecko::exec
