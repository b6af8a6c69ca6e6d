//===- ComplexEmaExecTest.cpp - Compiled CEMA vs the reference ------------===//
//
// gecko.cema / gecko.cema_grad (the chunked parallel scan of
// gecko-convert-to-linalg) and gecko.cema_coeffs(_grad), compiled with the
// gecko-to-cpu pipeline, against gecko::ref on random non-zero inputs: f32 at
// 1e-5 relative (|a − b| / max(1, |b|)), bf16 activations at 1e-2. Lengths
// are not multiples of the default cema-chunk-size (16) and D is not a
// multiple of the default cema-channel-block (16); bos includes the first
// token, a chunk's first token and the last token; carried state; L < C;
// L = 1 decode.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Conversion/GeckoToLinalg.h"
#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/ComplexEma.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

#include <gtest/gtest.h>

#include <complex>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::maxRelativeError;
using ref::testutil::randomMask;
using ref::testutil::randomTensor;

/// Rounds through the element type the kernel sees (f32 or bf16).
Tensor roundTo(const Tensor &t, ElementKind kind) {
  Tensor r = t;
  for (double &v : r.data) {
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
  return r;
}

struct ScanCase {
  int64_t batch = 2, length = 37, channels = 20, order = 4;
  bool hx = true, bos = true, stateGrad = true;
  /// Forced bos positions (in every batch row but the last) besides the
  /// random ones.
  std::vector<int64_t> bosAt = {0, 16, 36};
  ElementKind kind = ElementKind::F32;
  double tol = 1e-5;
  /// Scan tiles other than the pass defaults: the ops are lowered in the
  /// kernel body with these (cema-chunk-size / cema-channel-block).
  std::optional<mlir::gecko::GeckoTileSizes> tiles;
};

/// Lowers `op` with `tiles` right away; returns its replacement values.
llvm::SmallVector<mlir::Value>
lowerNow(mlir::OpBuilder &b, mlir::Location loc, mlir::Operation *op,
         const mlir::gecko::GeckoTileSizes &tiles) {
  // The dialects the pass would load.
  b.getContext()
      ->loadDialect<mlir::affine::AffineDialect, mlir::arith::ArithDialect,
                    mlir::complex::ComplexDialect, mlir::linalg::LinalgDialect,
                    mlir::math::MathDialect, mlir::scf::SCFDialect,
                    mlir::tensor::TensorDialect>();
  // Placeholder users keep hold of the replacement values.
  auto hold = mlir::UnrealizedConversionCastOp::create(
      b, loc, op->getResultTypes(), op->getResults());
  mlir::IRRewriter rewriter(b);
  if (mlir::failed(mlir::gecko::lowerComplexEmaOp(rewriter, op, tiles)))
    return {};
  llvm::SmallVector<mlir::Value> values(hold.getOperands());
  hold->erase();
  return values;
}

/// dq of a plain sequential float32 implementation (std::complex<float>,
/// the recurrence and sums in token order): the accuracy an fp32 kernel
/// can be expected to reach on slow decays (|q| near 1).
Tensor sequentialF32Dq(const Tensor &x, const ref::CemaCoefficients &coeffs,
                       const Tensor *hx, const Tensor *bos, const Tensor &dy,
                       const Tensor &dh) {
  using C = std::complex<float>;
  int64_t B = x.dim(0), L = x.dim(1), D = x.dim(2), N = coeffs.p.dim(1);
  Tensor dq({D, N, 2});
  for (int64_t d = 0; d < D; ++d)
    for (int64_t n = 0; n < N; ++n) {
      int64_t i = d * N + n;
      float p = coeffs.p[i];
      C q(coeffs.q[2 * i], coeffs.q[2 * i + 1]);
      C g(coeffs.gamma[2 * i], coeffs.gamma[2 * i + 1]);
      C sum;
      for (int64_t b = 0; b < B; ++b) {
        int64_t s = (b * D + d) * N + n;
        std::vector<C> h(L + 1);
        h[0] = hx ? C(hx->data[2 * s], hx->data[2 * s + 1]) : C();
        for (int64_t t = 0; t < L; ++t) {
          bool reset = bos && bos->at(b, t) != 0.0;
          h[t + 1] = (reset ? C() : q * h[t]) +
                     C(p * static_cast<float>(x.at(b, t, d)));
        }
        C grad(dh.data[2 * s], dh.data[2 * s + 1]);
        for (int64_t t = L - 1; t >= 0; --t) {
          grad += std::conj(g) * static_cast<float>(dy.at(b, t, d));
          bool reset = bos && bos->at(b, t) != 0.0;
          if (!reset)
            sum += std::conj(h[t]) * grad;
          grad = reset ? C() : std::conj(q) * grad;
        }
      }
      dq[2 * i] = sum.real();
      dq[2 * i + 1] = sum.imag();
    }
  return dq;
}

mlir::RankedTensorType complexType(mlir::OpBuilder &b,
                                   llvm::ArrayRef<int64_t> shape) {
  return mlir::RankedTensorType::get(shape,
                                     mlir::ComplexType::get(b.getF32Type()));
}

/// Runs gecko.cema and gecko.cema_grad on p, q, gamma from random raw
/// parameters and checks every result against ref::cemaForward/Backward
/// given the same (f32-rounded) coefficients and inputs.
void checkScan(const ScanCase &c, unsigned seed) {
  SCOPED_TRACE("B=" + std::to_string(c.batch) + " L=" +
               std::to_string(c.length) + " D=" + std::to_string(c.channels) +
               " hx=" + std::to_string(c.hx) + " bos=" + std::to_string(c.bos));
  std::mt19937_64 rng(seed);
  int64_t B = c.batch, L = c.length, D = c.channels, N = c.order;
  // |q| = 1 − σ(α)σ(δ) close to 1 for some (d, n): slow decays carry far.
  ref::CemaCoefficients coeffs = ref::cemaCoefficients(
      randomTensor({D, N}, rng, -3, 1), randomTensor({D, N}, rng, -4, 0),
      randomTensor({D}, rng, -2, 2), randomTensor({D, N, 2}, rng));
  coeffs.p = roundTo(coeffs.p, ElementKind::F32);
  coeffs.q = roundTo(coeffs.q, ElementKind::F32);
  coeffs.gamma = roundTo(coeffs.gamma, ElementKind::F32);
  Tensor x = roundTo(randomTensor({B, L, D}, rng), c.kind); // (B, L, D)
  Tensor dy = roundTo(randomTensor({B, L, D}, rng), c.kind);
  Tensor hx = roundTo(randomTensor({B, D, N, 2}, rng), ElementKind::F32);
  Tensor dh = roundTo(randomTensor({B, D, N, 2}, rng), ElementKind::F32);
  Tensor bos = randomMask({B, L}, rng, 0.08);
  for (int64_t b = 0; b + 1 < B; ++b)
    for (int64_t t : c.bosAt)
      if (t < L)
        bos.at(b, t) = 1.0;

  std::vector<KernelInput> inputs = {
      KernelInput::tensor(x, c.kind), KernelInput::tensor(coeffs.p),
      KernelInput::tensor(coeffs.q, ElementKind::ComplexF32),
      KernelInput::tensor(coeffs.gamma, ElementKind::ComplexF32)};
  if (c.hx)
    inputs.push_back(KernelInput::tensor(hx, ElementKind::ComplexF32));
  if (c.bos)
    inputs.push_back(KernelInput::tensor(bos, ElementKind::I1));
  inputs.push_back(KernelInput::tensor(dy, c.kind));
  if (c.stateGrad)
    inputs.push_back(KernelInput::tensor(dh, ElementKind::ComplexF32));
  bool hasHx = c.hx, hasBos = c.bos, hasDh = c.stateGrad;
  auto results =
      runKernel(inputs,
                [&](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
                  unsigned next = 4;
                  mlir::Value hxArg = hasHx ? args[next++] : mlir::Value();
                  mlir::Value bosArg = hasBos ? args[next++] : mlir::Value();
                  mlir::Value dyArg = args[next++];
                  mlir::Value dhArg = hasDh ? args[next++] : mlir::Value();
                  auto state = complexType(b, {B, D, N});
                  auto coeff = complexType(b, {D, N});
                  auto fwd = mlir::gecko::CemaOp::create(
                      b, loc, mlir::TypeRange{args[0].getType(), state},
                      args[0], args[1], args[2], args[3], hxArg, bosArg);
                  llvm::SmallVector<mlir::Type> types = {
                      args[0].getType(), args[1].getType(), coeff, coeff};
                  if (hasHx)
                    types.push_back(state);
                  auto grad = mlir::gecko::CemaGradOp::create(
                      b, loc, types, args[0], args[1], args[2], args[3], hxArg,
                      bosArg, dyArg, dhArg);
                  llvm::SmallVector<mlir::Value> out(fwd->getResults());
                  llvm::append_range(out, grad->getResults());
                  if (c.tiles) {
                    out = lowerNow(b, loc, fwd, *c.tiles);
                    if (!out.empty())
                      llvm::append_range(out, lowerNow(b, loc, grad, *c.tiles));
                  }
                  return out;
                });
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ASSERT_EQ(results->size(), c.hx ? 7u : 6u);

  // The reference works in (B, D, L).
  Tensor xRef = x.transposed(1, 2), dyRef = dy.transposed(1, 2);
  const Tensor *hxRef = c.hx ? &hx : nullptr;
  const Tensor *bosRef = c.bos ? &bos : nullptr;
  Tensor noDh({B, D, N, 2});
  ref::CemaResult fwd = ref::cemaForward(xRef, coeffs, hxRef, bosRef);
  ref::CemaScanGrads grads = ref::cemaBackward(
      xRef, coeffs, hxRef, bosRef, dyRef, c.stateGrad ? &dh : &noDh);
  const std::vector<ref::Tensor> &r = *results;
  struct Check {
    const char *name;
    const Tensor &actual;
    Tensor expected;
  };
  std::vector<Check> checks = {{"y", r[0], fwd.y.transposed(1, 2)},
                               {"new_h", r[1], fwd.h},
                               {"dx", r[2], grads.x.transposed(1, 2)},
                               {"dp", r[3], grads.p},
                               {"dq", r[4], grads.q},
                               {"dgamma", r[5], grads.gamma}};
  if (c.hx)
    checks.push_back({"dhx", r[6], grads.hx});
  // dq sums B·L products of h and G, both up to ~1/(1 − |q|) large: allow
  // what a sequential fp32 implementation reaches (times 2) when that is
  // above the tolerance.
  double dqTol = c.tol;
  if (c.kind == ElementKind::F32) {
    double baseline = maxRelativeError(
        sequentialF32Dq(x, coeffs, hxRef, bosRef, dy, c.stateGrad ? dh : noDh),
        grads.q);
    dqTol = std::max(c.tol, 2 * baseline);
    std::printf("dq error of a sequential fp32 scan: %.3g\n", baseline);
  }
  for (const Check &check : checks) {
    double err = maxRelativeError(check.actual, check.expected);
    std::printf("%-7s max relative error %.3g\n", check.name, err);
    EXPECT_LE(err, std::string(check.name) == "dq" ? dqTol : c.tol)
        << check.name;
    EXPECT_FALSE(ref::testutil::isAllZero(check.expected)) << check.name;
  }
}

TEST(ComplexEmaExecTest, StateAndBosWithPartialChunksAndChannelBlocks) {
  checkScan(ScanCase{}, 11);
}

TEST(ComplexEmaExecTest, FreshStreamWithoutBosOrStateGrad) {
  ScanCase c;
  c.hx = false;
  c.bos = false;
  c.stateGrad = false;
  c.length = 50; // 3 full chunks and one of 2 tokens
  checkScan(c, 12);
}

TEST(ComplexEmaExecTest, ShorterThanOneChunk) {
  ScanCase c;
  c.length = 5;
  c.bosAt = {3};
  c.channels = 7;
  checkScan(c, 13);
}

TEST(ComplexEmaExecTest, DecodeOneToken) {
  ScanCase c;
  c.length = 1;
  c.batch = 3;
  c.bosAt = {0}; // rows 0 and 1 restart, row 2 carries hx
  checkScan(c, 14);
  c.bos = false;
  checkScan(c, 15);
}

TEST(ComplexEmaExecTest, LongSequenceManyChunks) {
  ScanCase c;
  c.batch = 1;
  c.length = 203;
  c.channels = 33;
  c.order = 2;
  c.bosAt = {100};
  checkScan(c, 16);
}

TEST(ComplexEmaExecTest, OtherChunkAndChannelTiles) {
  ScanCase c;
  c.length = 23;
  c.channels = 9;
  c.bosAt = {0, 3, 4, 22}; // chunk starts (C = 3), a chunk's middle, the end
  for (auto [chunk, block] :
       {std::pair<int64_t, int64_t>{3, 4}, {1, 9}, {5, 2}, {23, 16}, {40, 1}}) {
    mlir::gecko::GeckoTileSizes tiles;
    tiles.cemaChunk = chunk;
    tiles.cemaChannelBlock = block;
    c.tiles = tiles;
    SCOPED_TRACE("chunk " + std::to_string(chunk) + ", channel block " +
                 std::to_string(block));
    checkScan(c, 18);
  }
}

TEST(ComplexEmaExecTest, Bf16Activations) {
  ScanCase c;
  c.kind = ElementKind::BF16;
  c.tol = 1e-2;
  checkScan(c, 17);
}

/// gecko.cema_coeffs and gecko.cema_coeffs_grad against
/// ref::cemaCoefficients / cemaCoefficientsBackward.
TEST(ComplexEmaExecTest, CoefficientsAndTheirGradients) {
  std::mt19937_64 rng(21);
  int64_t D = 5, N = 3;
  Tensor alpha = roundTo(randomTensor({D, N}, rng, -3, 3), ElementKind::F32);
  Tensor delta = roundTo(randomTensor({D, N}, rng, -3, 3), ElementKind::F32);
  Tensor theta = roundTo(randomTensor({D}, rng, -3, 3), ElementKind::F32);
  Tensor gamma = roundTo(randomTensor({D, N, 2}, rng), ElementKind::F32);
  ref::CemaScanGrads upstream;
  upstream.p = roundTo(randomTensor({D, N}, rng, -5, 5), ElementKind::F32);
  upstream.q = roundTo(randomTensor({D, N, 2}, rng, -5, 5), ElementKind::F32);
  upstream.gamma = roundTo(randomTensor({D, N, 2}, rng), ElementKind::F32);
  auto results = runKernel(
      {KernelInput::tensor(alpha), KernelInput::tensor(delta),
       KernelInput::tensor(theta), KernelInput::tensor(gamma),
       KernelInput::tensor(upstream.p),
       KernelInput::tensor(upstream.q, ElementKind::ComplexF32),
       KernelInput::tensor(upstream.gamma, ElementKind::ComplexF32)},
      [&](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        auto coeff = complexType(b, {D, N});
        auto coeffs = mlir::gecko::CemaCoeffsOp::create(
            b, loc, args[0].getType(), coeff, coeff, args[0], args[1], args[2],
            args[3]);
        auto grads = mlir::gecko::CemaCoeffsGradOp::create(
            b, loc,
            mlir::TypeRange{args[0].getType(), args[1].getType(),
                            args[2].getType(), args[3].getType()},
            args[0], args[1], args[2], args[3], args[4], args[5], args[6]);
        return {coeffs.getP(),     coeffs.getQ(),     coeffs.getGammaC(),
                grads.getDalpha(), grads.getDdelta(), grads.getDtheta(),
                grads.getDgamma()};
      });
  ASSERT_TRUE(static_cast<bool>(results)) << toString(results.takeError());
  ref::CemaCoefficients coeffs =
      ref::cemaCoefficients(alpha, delta, theta, gamma);
  ref::CemaParamGrads grads =
      ref::cemaCoefficientsBackward(alpha, delta, theta, gamma, upstream);
  const std::vector<Tensor> &r = *results;
  EXPECT_LE(maxRelativeError(r[0], coeffs.p), 1e-6);
  EXPECT_LE(maxRelativeError(r[1], coeffs.q), 1e-6);
  EXPECT_LE(maxRelativeError(r[2], coeffs.gamma), 0.0);
  EXPECT_LE(maxRelativeError(r[3], grads.alpha), 1e-6);
  EXPECT_LE(maxRelativeError(r[4], grads.delta), 1e-6);
  EXPECT_LE(maxRelativeError(r[5], grads.theta), 1e-6);
  EXPECT_LE(maxRelativeError(r[6], grads.gamma), 0.0);
}

} // namespace
} // namespace gecko::exec
