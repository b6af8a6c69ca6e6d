//===- NormsExecTest.cpp - Compiled norms, z split, rope vs the reference -===//
//
// gecko.rms_norm / layer_norm / z_split / rope and their grad ops, lowered by
// gecko-convert-to-linalg and run through the CPU JIT, against the float64
// reference (gecko::ref) on random non-zero inputs: token counts that are not
// multiples of the token tile, partial batch tiles, G > 1, the no-affine and
// single-parameter forms, rank-2 inputs, L = 1, and bf16 inputs with f32
// accumulation (1e-2). The parameter gradients are per-tile partial sums
// reduced after the forall: a second run is bitwise identical and other tile
// sizes agree to rounding.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/Rope.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::maxRelativeError;
using ref::testutil::randomTensor;

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

/// The values the kernel sees: rounded to bf16, or to f32.
Tensor rounded(Tensor t, ElementKind kind) {
  for (double &v : t.data)
    v = kind == ElementKind::BF16 ? roundBf16(v) : static_cast<float>(v);
  return t;
}

double tolerance(ElementKind kind) {
  return kind == ElementKind::BF16 ? 1e-2 : 1e-5;
}

struct NormCase {
  std::vector<int64_t> shape = {2, 13, 16};
  int64_t groups = 1;
  bool layerNorm = false, weight = true, bias = false;
  ElementKind kind = ElementKind::F32;
  int64_t batchTile = 1, tokenTile = 4;
  uint64_t seed = 1;
};

/// y, dx, then dweight / dbias when present: kernel results and reference.
struct NormOutcome {
  std::vector<Tensor> got, expected;
  std::vector<std::string> names;
};

NormOutcome runNormCase(const NormCase &nc) {
  std::mt19937_64 rng(nc.seed);
  int64_t d = nc.shape.back();
  ElementKind k = nc.kind;
  Tensor x = rounded(randomTensor(nc.shape, rng, -2.0, 2.0), k);
  Tensor w = rounded(randomTensor({d}, rng, -0.5, 0.5), k);
  Tensor bias = rounded(randomTensor({d}, rng, -0.5, 0.5), k);
  Tensor dy = rounded(randomTensor(nc.shape, rng), k);
  const double eps = 1e-5;

  std::vector<KernelInput> inputs = {KernelInput::tensor(x, k)};
  if (nc.weight)
    inputs.push_back(KernelInput::tensor(w, k));
  if (nc.bias)
    inputs.push_back(KernelInput::tensor(bias, k));
  inputs.push_back(KernelInput::tensor(dy, k));
  auto body = [&](mlir::OpBuilder &b, mlir::Location loc,
                  mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
    mlir::Value wv = nc.weight ? args[1] : mlir::Value();
    mlir::Value bv = nc.bias ? args[nc.weight ? 2 : 1] : mlir::Value();
    mlir::Value dyv = args.back();
    mlir::Type type = args[0].getType();
    auto groups = b.getI64IntegerAttr(nc.groups);
    auto epsAttr = b.getF64FloatAttr(eps);
    mlir::Type none;
    llvm::SmallVector<mlir::Value> results;
    if (nc.layerNorm) {
      results.push_back(mlir::gecko::LayerNormOp::create(
          b, loc, type, args[0], wv, bv, groups, epsAttr));
      auto grad = mlir::gecko::LayerNormGradOp::create(
          b, loc, type, wv ? wv.getType() : none, bv ? bv.getType() : none,
          args[0], wv, bv, dyv, groups, epsAttr);
      llvm::append_range(results, grad->getResults());
    } else {
      results.push_back(mlir::gecko::RmsNormOp::create(b, loc, type, args[0],
                                                       wv, groups, epsAttr));
      llvm::SmallVector<mlir::Type> types = {type};
      if (wv)
        types.push_back(wv.getType());
      auto grad = mlir::gecko::RmsNormGradOp::create(b, loc, types, args[0], wv,
                                                     dyv, groups, epsAttr);
      llvm::append_range(results, grad->getResults());
    }
    return results;
  };
  CpuJitOptions options;
  options.batchTileSize = nc.batchTile;
  options.tokenTileSize = nc.tokenTile;
  auto results = runKernel(inputs, body, options);
  NormOutcome outcome;
  if (!results) {
    ADD_FAILURE() << toString(results.takeError());
    return outcome;
  }
  outcome.got = std::move(*results);
  const Tensor *wp = nc.weight ? &w : nullptr;
  const Tensor *bp = nc.bias ? &bias : nullptr;
  ref::NormGrads grads;
  if (nc.layerNorm) {
    outcome.expected.push_back(ref::groupLayerNorm(x, nc.groups, wp, bp, eps));
    grads = ref::groupLayerNormBackward(x, nc.groups, wp, bp, eps, dy);
  } else {
    outcome.expected.push_back(ref::groupRmsNorm(x, nc.groups, wp, eps));
    grads = ref::groupRmsNormBackward(x, nc.groups, wp, eps, dy);
  }
  outcome.expected.push_back(grads.x);
  outcome.names = {"y", "dx"};
  if (nc.weight) {
    outcome.expected.push_back(grads.weight);
    outcome.names.push_back("dweight");
  }
  if (nc.bias) {
    outcome.expected.push_back(grads.bias);
    outcome.names.push_back("dbias");
  }
  return outcome;
}

void expectNormCase(const NormCase &nc) {
  NormOutcome outcome = runNormCase(nc);
  ASSERT_EQ(outcome.got.size(), outcome.expected.size());
  for (size_t i = 0; i < outcome.got.size(); ++i) {
    double error = maxRelativeError(outcome.got[i], outcome.expected[i]);
    EXPECT_FALSE(ref::testutil::isAllZero(outcome.expected[i]));
    EXPECT_LE(error, tolerance(nc.kind)) << outcome.names[i];
    std::printf("    %-8s max rel error %.3g\n", outcome.names[i].c_str(),
                error);
  }
}

TEST(NormsExecTest, RmsNormAffinePartialTokenTiles) {
  expectNormCase({{2, 13, 16}, 1, false, true, false});
}

TEST(NormsExecTest, RmsNormGroupsNoAffinePartialBatchTiles) {
  NormCase nc{{3, 7, 12}, 4, false, false, false};
  nc.batchTile = 2;
  nc.tokenTile = 3;
  expectNormCase(nc);
}

TEST(NormsExecTest, RmsNormGroupsAffineRank2) {
  expectNormCase({{9, 8}, 2, false, true, false});
}

TEST(NormsExecTest, LayerNormAffineGroups) {
  NormCase nc{{2, 11, 12}, 3, true, true, true};
  nc.tokenTile = 4;
  expectNormCase(nc);
}

TEST(NormsExecTest, LayerNormNoAffine) {
  expectNormCase({{2, 5, 16}, 1, true, false, false});
}

TEST(NormsExecTest, LayerNormWeightOnlyAndBiasOnly) {
  expectNormCase({{2, 6, 8}, 2, true, true, false, ElementKind::F32, 2, 4});
  expectNormCase({{2, 6, 8}, 2, true, false, true, ElementKind::F32, 1, 5});
}

TEST(NormsExecTest, DecodeOneToken) {
  expectNormCase({{3, 1, 16}, 2, false, true, false, ElementKind::F32, 2, 4});
  expectNormCase({{3, 1, 16}, 2, true, true, true, ElementKind::F32, 2, 4});
}

TEST(NormsExecTest, Bf16WithF32Accumulation) {
  expectNormCase({{2, 13, 32}, 2, false, true, false, ElementKind::BF16});
  expectNormCase({{2, 13, 32}, 1, true, true, true, ElementKind::BF16});
}

/// Parameter grads come from per-tile partials reduced in a fixed order:
/// the same tiles give bitwise the same result, other tiles agree to f32
/// rounding.
TEST(NormsExecTest, ParameterGradsAreDeterministic) {
  NormCase nc{{4, 37, 16}, 2, true, true, true};
  nc.tokenTile = 5;
  NormOutcome first = runNormCase(nc);
  NormOutcome second = runNormCase(nc);
  nc.batchTile = 3;
  nc.tokenTile = 16;
  NormOutcome retiled = runNormCase(nc);
  ASSERT_EQ(first.got.size(), 4u);
  ASSERT_EQ(second.got.size(), 4u);
  ASSERT_EQ(retiled.got.size(), 4u);
  for (size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(first.got[i].data, second.got[i].data) << first.names[i];
    EXPECT_LE(maxRelativeError(retiled.got[i], first.got[i]), 1e-5);
    EXPECT_LE(maxRelativeError(first.got[i], first.expected[i]), 1e-5);
  }
}

struct ZSplitCase {
  int64_t batch = 2, length = 9, zDim = 12, heads = 3;
  ElementKind kind = ElementKind::F32;
  int64_t batchTile = 1, tokenTile = 4;
  uint64_t seed = 7;
};

void expectZSplitCase(const ZSplitCase &zc) {
  std::mt19937_64 rng(zc.seed);
  ElementKind k = zc.kind;
  std::vector<int64_t> shape = {zc.batch, zc.length, zc.zDim};
  Tensor z = rounded(randomTensor(shape, rng, -2.0, 2.0), k);
  Tensor gamma = rounded(randomTensor({4, zc.zDim}, rng, -0.5, 0.5), k);
  Tensor beta = rounded(randomTensor({4, zc.zDim}, rng, -0.5, 0.5), k);
  std::vector<Tensor> douts;
  for (int r = 0; r < 4; ++r)
    douts.push_back(rounded(randomTensor(shape, rng), k));
  const double eps = 1e-5;
  std::vector<KernelInput> inputs = {KernelInput::tensor(z, k),
                                     KernelInput::tensor(gamma, k),
                                     KernelInput::tensor(beta, k)};
  for (const Tensor &d : douts)
    inputs.push_back(KernelInput::tensor(d, k));
  auto body = [&](mlir::OpBuilder &b, mlir::Location loc,
                  mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
    mlir::Type type = args[0].getType();
    auto heads = b.getI64IntegerAttr(zc.heads);
    auto epsAttr = b.getF64FloatAttr(eps);
    auto fwd = mlir::gecko::ZSplitOp::create(
        b, loc, mlir::TypeRange{type, type, type, type}, args[0], args[1],
        args[2], heads, epsAttr);
    auto grad = mlir::gecko::ZSplitGradOp::create(
        b, loc, mlir::TypeRange{type, args[1].getType(), args[2].getType()},
        args[0], args[1], args[2], args[3], args[4], args[5], args[6], heads,
        epsAttr);
    llvm::SmallVector<mlir::Value> results(fwd->getResults());
    llvm::append_range(results, grad->getResults());
    return results;
  };
  CpuJitOptions options;
  options.batchTileSize = zc.batchTile;
  options.tokenTileSize = zc.tokenTile;
  auto results = runKernel(inputs, body, options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ref::ZSplitResult fwd = ref::zSplitForward(z, gamma, beta, zc.heads, eps);
  ref::ZSplitGrads grads =
      ref::zSplitBackward(z, gamma, beta, zc.heads, eps, &douts[0], &douts[1],
                          &douts[2], &douts[3]);
  std::vector<Tensor> expected = {fwd.q,   fwd.k,       fwd.aq,    fwd.ak,
                                  grads.z, grads.gamma, grads.beta};
  const char *names[] = {"q", "k", "aq", "ak", "dz", "dgamma", "dbeta"};
  ASSERT_EQ(results->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    double error = maxRelativeError((*results)[i], expected[i]);
    EXPECT_LE(error, tolerance(k)) << names[i];
    std::printf("    %-8s max rel error %.3g\n", names[i], error);
  }
}

TEST(NormsExecTest, ZSplitPartialTiles) { expectZSplitCase({}); }

TEST(NormsExecTest, ZSplitPartialBatchTilesAndDecode) {
  expectZSplitCase({3, 1, 8, 2, ElementKind::F32, 2, 4});
}

TEST(NormsExecTest, ZSplitBf16) {
  expectZSplitCase({2, 9, 16, 2, ElementKind::BF16, 1, 4});
}

struct RopeCase {
  int64_t batch = 2, length = 7, heads = 3, headDim = 8, ropeHeads = 2;
  int64_t start = 37;
  ElementKind kind = ElementKind::F32;
  int64_t tokenTile = 3;
  uint64_t seed = 11;
};

void expectRopeCase(const RopeCase &rc) {
  std::mt19937_64 rng(rc.seed);
  ElementKind k = rc.kind;
  std::vector<int64_t> shape = {rc.batch, rc.length, rc.heads, rc.headDim};
  Tensor x = rounded(randomTensor(shape, rng), k);
  Tensor dy = rounded(randomTensor(shape, rng), k);
  const double base = 500000.0;
  std::vector<KernelInput> inputs = {KernelInput::tensor(x, k),
                                     KernelInput::tensor(dy, k),
                                     KernelInput::scalar(rc.start)};
  auto body = [&](mlir::OpBuilder &b, mlir::Location loc,
                  mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
    auto baseAttr = b.getF64FloatAttr(base);
    auto heads = b.getI64IntegerAttr(rc.ropeHeads);
    return {mlir::gecko::RopeOp::create(b, loc, args[0].getType(), args[0],
                                        args[2], baseAttr, heads),
            mlir::gecko::RopeGradOp::create(b, loc, args[1].getType(), args[1],
                                            args[2], baseAttr, heads)};
  };
  CpuJitOptions options;
  options.tokenTileSize = rc.tokenTile;
  auto results = runKernel(inputs, body, options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ref::RopeTable table =
      ref::ropeTable(rc.headDim, base, rc.start, rc.start + rc.length);
  Tensor y = ref::ropeForward(x, table, rc.ropeHeads);
  Tensor dx = ref::ropeBackward(dy, table, rc.ropeHeads);
  ASSERT_EQ(results->size(), 2u);
  double yError = maxRelativeError((*results)[0], y);
  double dxError = maxRelativeError((*results)[1], dx);
  EXPECT_LE(yError, tolerance(k));
  EXPECT_LE(dxError, tolerance(k));
  std::printf("    y max rel error %.3g, dx max rel error %.3g\n", yError,
              dxError);
  // The backward is the inverse rotation: rope_grad(rope(x)) = x.
  if (k == ElementKind::F32) {
    Tensor back = ref::ropeBackward((*results)[0], table, rc.ropeHeads);
    EXPECT_LE(maxRelativeError(back, x), 1e-5);
  }
}

TEST(NormsExecTest, RopeGradPartialHeadsAndTiles) { expectRopeCase({}); }

TEST(NormsExecTest, RopeGradAllHeadsDecodeAtLargePosition) {
  expectRopeCase({2, 1, 2, 8, 2, 100003, ElementKind::F32, 4, 3});
}

TEST(NormsExecTest, RopeGradBf16) {
  expectRopeCase({2, 9, 2, 6, 1, 5, ElementKind::BF16, 4, 5});
}

} // namespace
} // namespace gecko::exec
