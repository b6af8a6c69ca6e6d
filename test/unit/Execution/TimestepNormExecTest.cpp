//===- TimestepNormExecTest.cpp - Compiled timestep norm vs the reference -===//
//
// gecko.timestep_norm and gecko.timestep_norm_grad lowered as a chunked scan
// (gecko-to-cpu, JIT) against gecko::ref::timestepNormForward/Backward on
// random non-zero inputs: sequence lengths that are not multiples of the scan
// chunk (the chunk is the token tile of the pipeline), partial batch tiles,
// bos and padding masks, carried state, L < chunk, L = 1 decode, one-token
// chunks, β close to 1, and bf16 inputs with f32 accumulation.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/TimestepNorm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::maxRelativeError;
using ref::testutil::randomMask;
using ref::testutil::randomTensor;

struct TsnCase {
  int64_t batch = 2, length = 11, channels = 12, groups = 3;
  double beta1 = 0.9, beta2 = 0.99, eps = 1e-5;
  bool bos = false, padding = false, state = false;
  double bosRate = 0.2, padRate = 0.25;
  ElementKind kind = ElementKind::F32;
  int64_t chunk = 4, batchTile = 1;
  uint64_t seed = 1;
};

/// Rounds to the nearest bf16 (ties to even), as the kernel runner does.
double roundBf16(double value) {
  float f = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

Tensor rounded(Tensor t, ElementKind kind) {
  if (kind == ElementKind::BF16)
    for (double &v : t.data)
      v = roundBf16(v);
  return t;
}

struct Outcome {
  std::vector<Tensor> got;      // y, count, mean, var, dx, dw, db, dmean, dvar
  std::vector<Tensor> expected; // the same from the reference
};

Outcome runCase(const TsnCase &tc) {
  std::mt19937_64 rng(tc.seed);
  int64_t b = tc.batch, l = tc.length, d = tc.channels, g = tc.groups;
  ElementKind k = tc.kind;
  Tensor x = rounded(randomTensor({b, l, d}, rng, -2.0, 2.0), k);
  Tensor w = rounded(randomTensor({d}, rng, -0.5, 0.5), k);
  Tensor bias = rounded(randomTensor({d}, rng, -0.5, 0.5), k);
  Tensor count({b}), mean({b, g}), var({b, g});
  if (tc.state) {
    std::uniform_int_distribution<int> counts(0, 6);
    for (double &c : count.data)
      c = counts(rng);
    mean = rounded(randomTensor({b, g}, rng, -0.5, 0.5), k);
    var = rounded(randomTensor({b, g}, rng, 0.05, 0.8), k);
  }
  Tensor bos = randomMask({b, l}, rng, tc.bos ? tc.bosRate : 0.0);
  Tensor pad = randomMask({b, l}, rng, tc.padding ? tc.padRate : 0.0);
  Tensor dy = rounded(randomTensor({b, l, d}, rng), k);
  Tensor dMean = rounded(randomTensor({b, g}, rng), k);
  Tensor dVar = rounded(randomTensor({b, g}, rng), k);

  std::vector<KernelInput> inputs = {
      KernelInput::tensor(x, k),
      KernelInput::tensor(w, k),
      KernelInput::tensor(bias, k),
      KernelInput::tensor(count, ElementKind::I64),
      KernelInput::tensor(mean, k),
      KernelInput::tensor(var, k)};
  if (tc.bos)
    inputs.push_back(KernelInput::tensor(bos, ElementKind::I1));
  if (tc.padding)
    inputs.push_back(KernelInput::tensor(pad, ElementKind::I1));
  inputs.push_back(KernelInput::tensor(dy, k));
  inputs.push_back(KernelInput::tensor(dMean, k));
  inputs.push_back(KernelInput::tensor(dVar, k));

  auto body = [&](mlir::OpBuilder &ob, mlir::Location loc,
                  mlir::ValueRange args) {
    unsigned next = 6;
    mlir::Value bosArg = tc.bos ? args[next++] : mlir::Value();
    mlir::Value padArg = tc.padding ? args[next++] : mlir::Value();
    auto groupsAttr = ob.getI64IntegerAttr(g);
    auto beta1 = ob.getF64FloatAttr(tc.beta1);
    auto beta2 = ob.getF64FloatAttr(tc.beta2);
    auto eps = ob.getF64FloatAttr(tc.eps);
    mlir::Type xt = args[0].getType(), pt = args[1].getType(),
               st = args[4].getType();
    auto fwd = mlir::gecko::TimestepNormOp::create(
        ob, loc, mlir::TypeRange{xt, args[3].getType(), st, st}, args[0],
        args[1], args[2], args[3], args[4], args[5], bosArg, padArg, groupsAttr,
        beta1, beta2, eps);
    auto bwd = mlir::gecko::TimestepNormGradOp::create(
        ob, loc, mlir::TypeRange{xt, pt, pt, st, st}, args[0], args[1], args[2],
        args[3], args[4], args[5], bosArg, padArg, args[next], args[next + 1],
        args[next + 2], groupsAttr, beta1, beta2, eps);
    llvm::SmallVector<mlir::Value> results(fwd->getResults());
    results.append(bwd->getResults().begin(), bwd->getResults().end());
    return results;
  };
  CpuJitOptions options;
  options.tokenTileSize = tc.chunk;
  options.batchTileSize = tc.batchTile;
  Outcome outcome;
  auto results = runKernel(inputs, body, options);
  EXPECT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  if (!results)
    return outcome;
  outcome.got = std::move(*results);

  ref::TimestepNormConfig config;
  config.numGroups = g;
  config.beta1 = tc.beta1;
  config.beta2 = tc.beta2;
  config.eps = tc.eps;
  const Tensor *bosPtr = tc.bos ? &bos : nullptr;
  const Tensor *padPtr = tc.padding ? &pad : nullptr;
  ref::TimestepNormResult fwd = ref::timestepNormForward(
      x, w, bias, config, &count, &mean, &var, bosPtr, padPtr);
  ref::TimestepNormGrads grads =
      ref::timestepNormBackward(x, w, bias, config, &count, &mean, &var, bosPtr,
                                padPtr, dy, &dMean, &dVar);
  outcome.expected = {fwd.y,         fwd.state.count, fwd.state.mean,
                      fwd.state.var, grads.x,         grads.weight,
                      grads.bias,    grads.prevMean,  grads.prevVar};
  return outcome;
}

const char *kNames[] = {"y",  "count", "mean",  "var", "dx",
                        "dw", "db",    "dmean", "dvar"};

/// Every output within `tol` (relative, |a-b|/max(1,|b|)); count exactly.
void expectMatches(const TsnCase &tc, double tol) {
  Outcome o = runCase(tc);
  ASSERT_EQ(o.got.size(), 9u);
  for (size_t i = 0; i < 9; ++i) {
    double err = maxRelativeError(o.got[i], o.expected[i]);
    EXPECT_LE(err, i == 1 ? 0.0 : tol) << kNames[i];
  }
}

TEST(TimestepNormExecTest, PlainPartialChunksAndBatchTiles) {
  TsnCase tc;
  tc.batch = 3, tc.length = 13, tc.chunk = 5, tc.batchTile = 2;
  expectMatches(tc, 1e-5);
}

TEST(TimestepNormExecTest, BosPaddingAndCarriedState) {
  for (uint64_t seed : {2, 3, 4}) {
    TsnCase tc;
    tc.bos = tc.padding = tc.state = true;
    tc.length = 19, tc.chunk = 4, tc.seed = seed;
    SCOPED_TRACE(seed);
    expectMatches(tc, 1e-5);
  }
}

TEST(TimestepNormExecTest, OneTokenChunks) {
  TsnCase tc;
  tc.bos = tc.padding = tc.state = true;
  tc.length = 9, tc.chunk = 1, tc.batchTile = 2, tc.seed = 5;
  expectMatches(tc, 1e-5);
}

TEST(TimestepNormExecTest, ShorterThanOneChunk) {
  TsnCase tc;
  tc.bos = tc.padding = tc.state = true;
  tc.length = 3, tc.chunk = 16, tc.seed = 6;
  expectMatches(tc, 1e-5);
}

TEST(TimestepNormExecTest, DecodeOneToken) {
  for (bool bos : {false, true}) {
    TsnCase tc;
    tc.state = true, tc.bos = bos, tc.bosRate = 0.5;
    tc.batch = 4, tc.length = 1, tc.chunk = 16, tc.seed = 7;
    SCOPED_TRACE(bos);
    expectMatches(tc, 1e-5);
  }
}

TEST(TimestepNormExecTest, FullyPaddedRowKeepsItsState) {
  TsnCase tc;
  tc.state = tc.padding = true;
  tc.padRate = 1.0, tc.length = 6, tc.chunk = 4, tc.seed = 8;
  expectMatches(tc, 1e-5);
}

TEST(TimestepNormExecTest, ModelBetasLongSequence) {
  TsnCase tc;
  tc.beta1 = 0.999, tc.beta2 = 0.9999;
  tc.bos = tc.state = true, tc.bosRate = 0.05;
  tc.length = 70, tc.chunk = 16, tc.channels = 16, tc.groups = 4;
  tc.seed = 9;
  expectMatches(tc, 1e-5);
}

TEST(TimestepNormExecTest, Bf16InputsWithF32Accumulation) {
  TsnCase tc;
  tc.kind = ElementKind::BF16;
  tc.bos = tc.padding = tc.state = true;
  tc.length = 14, tc.chunk = 4, tc.seed = 10;
  expectMatches(tc, 1e-2);
}

} // namespace
} // namespace gecko::exec
