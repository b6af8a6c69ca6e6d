//===- KernelRunnerTest.cpp - Typed kernels through the CPU JIT -----------===//
//
// The kernel runner must move every element type the gecko ops use (f32, f16,
// bf16, i64, i1, complex<f32>) through the JIT unchanged, and compiled
// kernels must match the reference library.

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/Norms.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <gtest/gtest.h>

#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::randomTensor;

/// A kernel that returns its arguments unchanged round-trips every type.
TEST(KernelRunnerTest, IdentityRoundTripsEveryElementKind) {
  std::mt19937_64 rng(3);
  Tensor f = randomTensor({2, 3}, rng);
  Tensor ints({4}, std::vector<double>{-7, 0, 12345678901.0, 3});
  Tensor mask({5}, std::vector<double>{1, 0, 0, 1, 1});
  Tensor complex = randomTensor({2, 2, 2}, rng);
  // Values exactly representable in f16/bf16 so the round trip is exact.
  Tensor halves({3}, std::vector<double>{0.5, -1.75, 3.0});
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(f),
      KernelInput::tensor(halves, ElementKind::F16),
      KernelInput::tensor(halves, ElementKind::BF16),
      KernelInput::tensor(ints, ElementKind::I64),
      KernelInput::tensor(mask, ElementKind::I1),
      KernelInput::tensor(complex, ElementKind::ComplexF32)};
  auto results = runKernel(
      inputs, [](mlir::OpBuilder &, mlir::Location, mlir::ValueRange args) {
        return llvm::SmallVector<mlir::Value>(args.begin(), args.end());
      });
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ASSERT_EQ(results->size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor &expected = inputs[i].values;
    EXPECT_EQ((*results)[i].shape, expected.shape) << "result " << i;
    bool isFloat = inputs[i].kind == ElementKind::F32 ||
                   inputs[i].kind == ElementKind::ComplexF32;
    for (int64_t j = 0; j < expected.numel(); ++j) {
      // f32 storage rounds; every other kind holds these values exactly.
      double want = isFloat ? static_cast<float>(expected[j]) : expected[j];
      EXPECT_EQ((*results)[i][j], want) << "result " << i << " element " << j;
    }
  }
}

TEST(KernelRunnerTest, RejectsValuesTheTypeCannotHold) {
  Tensor notMask({2}, std::vector<double>{0, 2});
  auto results =
      runKernel({KernelInput::tensor(notMask, ElementKind::I1)},
                [](mlir::OpBuilder &, mlir::Location, mlir::ValueRange args) {
                  return llvm::SmallVector<mlir::Value>{args[0]};
                });
  ASSERT_FALSE(static_cast<bool>(results));
  EXPECT_NE(toString(results.takeError()).find("expected 0 or 1"),
            std::string::npos);
}

/// A compiled rms_norm with a token count that is not a multiple of the
/// token tile matches the reference (f32: 1e-5 relative).
TEST(KernelRunnerTest, RmsNormMatchesReferenceWithPartialTiles) {
  std::mt19937_64 rng(5);
  Tensor x = randomTensor({3, 13, 12}, rng);
  Tensor w = randomTensor({12}, rng, -0.2, 0.2);
  CpuJitOptions options;
  options.tokenTileSize = 5;
  auto results = runKernel(
      {KernelInput::tensor(x), KernelInput::tensor(w)},
      [](mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange args) {
        return llvm::SmallVector<mlir::Value>{mlir::gecko::RmsNormOp::create(
            b, loc, args[0].getType(), args[0], args[1], b.getI64IntegerAttr(3),
            b.getF64FloatAttr(1e-5))};
      },
      options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  Tensor expected = ref::groupRmsNorm(x, 3, &w, 1e-5);
  EXPECT_LE(ref::testutil::maxRelativeError((*results)[0], expected), 1e-5);
}

} // namespace
} // namespace gecko::exec
