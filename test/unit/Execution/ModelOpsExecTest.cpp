//===- ModelOpsExecTest.cpp - Compiled embedding/SwiGLU/cross-entropy -----===//
//
// gecko.embedding, gecko.swiglu and gecko.cross_entropy lowered by
// gecko-convert-to-linalg and run through the CPU JIT, against the float64
// reference (gecko::ref embedding / SiLU, and a float64 log-softmax here) on
// random inputs with token counts that are not multiples of the tiles,
// partial batch tiles, L = 1, bf16 inputs (1e-2), and out-of-range token ids
// and labels (clamped to [0, V − 1], as documented by the lowering).
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/Linear.h"

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

/// Random ids in [0, vocab), with `invalid` of them replaced by ids outside
/// (negative or >= vocab).
Tensor randomIds(std::vector<int64_t> shape, int64_t vocab, int invalid,
                 std::mt19937_64 &rng) {
  Tensor ids(std::move(shape));
  std::uniform_int_distribution<int64_t> dist(0, vocab - 1);
  for (double &v : ids.data)
    v = static_cast<double>(dist(rng));
  const double outside[] = {-1.0, static_cast<double>(vocab), -1000.0,
                            static_cast<double>(vocab + 77)};
  for (int i = 0; i < invalid && i < ids.numel(); ++i)
    ids[(i * 7) % ids.numel()] = outside[i % 4];
  return ids;
}

Tensor clampedIds(Tensor ids, int64_t vocab) {
  for (double &v : ids.data)
    v = std::min(std::max(v, 0.0), static_cast<double>(vocab - 1));
  return ids;
}

CpuJitOptions tiles(int64_t batch, int64_t tokens) {
  CpuJitOptions options;
  options.batchTileSize = batch;
  options.tokenTileSize = tokens;
  return options;
}

void expectEmbedding(int64_t batch, int64_t length, int64_t vocab, int64_t dim,
                     int invalid, ElementKind kind, CpuJitOptions options) {
  std::mt19937_64 rng(21);
  Tensor table = rounded(randomTensor({vocab, dim}, rng), kind);
  Tensor ids = randomIds({batch, length}, vocab, invalid, rng);
  auto results = runKernel(
      {KernelInput::tensor(table, kind),
       KernelInput::tensor(ids, ElementKind::I64)},
      [&](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        auto type = mlir::RankedTensorType::get(
            {batch, length, dim},
            mlir::cast<mlir::RankedTensorType>(args[0].getType())
                .getElementType());
        return {
            mlir::gecko::EmbeddingOp::create(b, loc, type, args[0], args[1])};
      },
      options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  // A gather copies: exact, in any element type.
  Tensor expected = ref::embeddingForward(table, clampedIds(ids, vocab));
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].shape, expected.shape);
  EXPECT_EQ((*results)[0].data, expected.data);
}

TEST(ModelOpsExecTest, EmbeddingPartialTiles) {
  expectEmbedding(2, 7, 11, 6, 0, ElementKind::F32, tiles(1, 3));
}

TEST(ModelOpsExecTest, EmbeddingClampsOutOfRangeIds) {
  expectEmbedding(3, 5, 9, 4, 4, ElementKind::F32, tiles(2, 2));
}

TEST(ModelOpsExecTest, EmbeddingBf16DecodeStep) {
  expectEmbedding(3, 1, 17, 8, 1, ElementKind::BF16, tiles(2, 16));
}

void expectSwiGlu(std::vector<int64_t> shape, ElementKind kind,
                  CpuJitOptions options) {
  std::mt19937_64 rng(33);
  Tensor gate = rounded(randomTensor(shape, rng, -6.0, 6.0), kind);
  Tensor up = rounded(randomTensor(shape, rng, -2.0, 2.0), kind);
  auto results = runKernel(
      {KernelInput::tensor(gate, kind), KernelInput::tensor(up, kind)},
      [](mlir::OpBuilder &b, mlir::Location loc,
         mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        return {mlir::gecko::SwiGluOp::create(b, loc, args[0], args[1])};
      },
      options);
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  Tensor expected = ref::multiply(ref::siluForward(gate), up);
  double error = maxRelativeError((*results)[0], expected);
  EXPECT_LE(error, kind == ElementKind::BF16 ? 1e-2 : 1e-5);
  std::printf("    swiglu max rel error %.3g\n", error);
}

TEST(ModelOpsExecTest, SwiGluPartialTiles) {
  expectSwiGlu({3, 9, 10}, ElementKind::F32, tiles(2, 4));
}

TEST(ModelOpsExecTest, SwiGluRank1AndRank4) {
  expectSwiGlu({13}, ElementKind::F32, tiles(1, 4));
  expectSwiGlu({2, 3, 5, 4}, ElementKind::F32, tiles(1, 4));
}

TEST(ModelOpsExecTest, SwiGluBf16) {
  expectSwiGlu({2, 7, 24}, ElementKind::BF16, tiles(1, 16));
}

/// mean_{b,t} (logsumexp(logits[b,t]) − logits[b,t,label]) in float64.
double referenceCrossEntropy(const Tensor &logits, const Tensor &labels) {
  int64_t rows = labels.numel(), vocab = logits.dim(2);
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const double *row = &logits.data[r * vocab];
    double peak = *std::max_element(row, row + vocab);
    double sum = 0.0;
    for (int64_t v = 0; v < vocab; ++v)
      sum += std::exp(row[v] - peak);
    total += peak + std::log(sum) - row[static_cast<int64_t>(labels[r])];
  }
  return total / static_cast<double>(rows);
}

llvm::Expected<double> runCrossEntropy(const Tensor &logits,
                                       const Tensor &labels, ElementKind kind,
                                       CpuJitOptions options) {
  auto results = runKernel(
      {KernelInput::tensor(logits, kind),
       KernelInput::tensor(labels, ElementKind::I64)},
      [](mlir::OpBuilder &b, mlir::Location loc,
         mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        auto type = mlir::RankedTensorType::get({}, b.getF32Type());
        return {mlir::gecko::CrossEntropyOp::create(b, loc, type, args[0],
                                                    args[1])};
      },
      options);
  if (!results)
    return results.takeError();
  EXPECT_EQ((*results)[0].numel(), 1);
  return (*results)[0][0];
}

void expectCrossEntropy(int64_t batch, int64_t length, int64_t vocab,
                        int invalid, ElementKind kind, CpuJitOptions options) {
  std::mt19937_64 rng(45);
  Tensor logits =
      rounded(randomTensor({batch, length, vocab}, rng, -8.0, 8.0), kind);
  Tensor labels = randomIds({batch, length}, vocab, invalid, rng);
  auto loss = runCrossEntropy(logits, labels, kind, options);
  ASSERT_TRUE(static_cast<bool>(loss)) << toString(loss.takeError());
  double expected = referenceCrossEntropy(logits, clampedIds(labels, vocab));
  double error =
      std::fabs(*loss - expected) / std::max(1.0, std::fabs(expected));
  EXPECT_LE(error, 1e-5) << "loss " << *loss << " expected " << expected;
  std::printf("    cross-entropy %.6f, max rel error %.3g\n", *loss, error);
}

TEST(ModelOpsExecTest, CrossEntropyPartialTiles) {
  expectCrossEntropy(3, 7, 13, 0, ElementKind::F32, tiles(2, 3));
}

TEST(ModelOpsExecTest, CrossEntropyClampsOutOfRangeLabels) {
  expectCrossEntropy(2, 6, 10, 3, ElementKind::F32, tiles(1, 4));
}

TEST(ModelOpsExecTest, CrossEntropyLargeVocabDecode) {
  expectCrossEntropy(4, 1, 1000, 0, ElementKind::F32, tiles(3, 16));
}

TEST(ModelOpsExecTest, CrossEntropyBf16LogitsAccumulateInF32) {
  // The logits are bf16 values; everything after the load is f32, so the
  // loss matches the float64 value of those logits to f32 accuracy.
  expectCrossEntropy(2, 9, 50, 0, ElementKind::BF16, tiles(1, 4));
}

/// The loss is a fixed-order sum of per-tile partials: bitwise reproducible
/// for the same tiles, equal to rounding for other tiles.
TEST(ModelOpsExecTest, CrossEntropyIsDeterministic) {
  std::mt19937_64 rng(5);
  Tensor logits = randomTensor({5, 33, 40}, rng, -5.0, 5.0);
  Tensor labels = randomIds({5, 33}, 40, 0, rng);
  auto first = runCrossEntropy(logits, labels, ElementKind::F32, tiles(2, 5));
  auto second = runCrossEntropy(logits, labels, ElementKind::F32, tiles(2, 5));
  auto retiled =
      runCrossEntropy(logits, labels, ElementKind::F32, tiles(5, 33));
  ASSERT_TRUE(first && second && retiled);
  EXPECT_EQ(*first, *second);
  EXPECT_NEAR(*retiled, *first, 1e-5 * std::max(1.0, std::fabs(*first)));
}

} // namespace
} // namespace gecko::exec
