//===- AutodiffExecTest.cpp - Compiled backward of gecko-autodiff ---------===//
//
// Graphs of gecko ops and plumbing ops are differentiated with
// gecko::emitBackward, compiled with the gecko-to-cpu pipeline and checked
// against a central finite difference of the compiled forward along a random
// direction u over every floating input: with Loss = Σ dy ⊙ f(θ),
// Σ_i <grad_i, u_i> must match (Loss(θ + εu) − Loss(θ − εu)) / 2ε
// (ε = 1e-3; f32 forward, relative tolerance 2e-3 of max(1, Σ|grad_i·u_i|)).
// One kernel computes the forward at θ, θ + εu, θ − εu (three recomputed
// copies of the forward) and the backward at θ. Graphs: a chain with a value
// used twice (rms_norm -> linear -> swiglu(h, h)), TSN -> CEMA with carried
// state, bos and cotangents for every state result, z split -> rope -> SCA +
// AWM sharing v (chunked, segments), and embedding -> layer_norm -> linear ->
// cross_entropy (token count not a multiple of the tiles), and the dense
// ops linear (bias) -> silu -> gated_add (gate) -> linear. The single-op
// rules of gecko.linear / gecko.silu / gecko.gated_add are also compared
// with gecko::ref (Linear.h) at 1e-5 on 18 rows x 35 inputs x 37 outputs
// (none a multiple of token-tile-size 16 or linear-column-tile 32).
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "gecko/Autodiff/Autodiff.h"
#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/Linear.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;
using ref::testutil::randomTensor;
using ForwardBody = std::function<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

bool differentiable(const KernelInput &in) {
  return !in.isScalar &&
         (in.kind == ElementKind::F32 || in.kind == ElementKind::ComplexF32);
}

/// Builds the forward in a detached func.func typed from `inputs`.
mlir::func::FuncOp buildForward(mlir::OpBuilder &b, mlir::Location loc,
                                const std::vector<KernelInput> &inputs,
                                const ForwardBody &body) {
  mlir::MLIRContext *ctx = b.getContext();
  ctx->getOrLoadDialect<mlir::arith::ArithDialect>();
  ctx->getOrLoadDialect<mlir::func::FuncDialect>();
  ctx->getOrLoadDialect<mlir::linalg::LinalgDialect>();
  ctx->getOrLoadDialect<mlir::tensor::TensorDialect>();
  llvm::SmallVector<mlir::Type> types;
  for (const KernelInput &in : inputs)
    types.push_back(kernelInputType(b, in));
  auto forward =
      mlir::func::FuncOp::create(loc, "forward", b.getFunctionType(types, {}));
  mlir::Block *entry = forward.addEntryBlock();
  mlir::OpBuilder fb = mlir::OpBuilder::atBlockBegin(entry);
  llvm::SmallVector<mlir::Value> results = body(fb, loc, entry->getArguments());
  mlir::func::ReturnOp::create(fb, loc, results);
  llvm::SmallVector<mlir::Type> resultTypes;
  for (mlir::Value v : results)
    resultTypes.push_back(v.getType());
  forward.setFunctionType(b.getFunctionType(types, resultTypes));
  return forward;
}

/// The directional-derivative check described at the top of the file.
void checkGradients(const std::vector<KernelInput> &inputs,
                    const ForwardBody &body, uint64_t seed) {
  const double eps = 1e-3, tol = 2e-3;
  std::mt19937_64 rng(seed);
  size_t n = inputs.size();

  // Pass 1: the forward alone, for the result shapes and kinds.
  std::vector<bool> resultDiff;
  std::vector<ElementKind> resultKinds;
  auto shapes = runKernel(
      inputs,
      [&](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        auto forward = buildForward(b, loc, inputs, body);
        llvm::SmallVector<mlir::Value> results;
        llvm::SmallVector<mlir::Value> none(
            forward.getFunctionType().getNumResults());
        for (mlir::Type t : forward.getFunctionType().getResults()) {
          resultDiff.push_back(mlir::gecko::isDifferentiableType(t));
          auto tensor = mlir::dyn_cast<mlir::RankedTensorType>(t);
          resultKinds.push_back(
              tensor && mlir::isa<mlir::ComplexType>(tensor.getElementType())
                  ? ElementKind::ComplexF32
                  : ElementKind::F32);
        }
        (void)mlir::gecko::emitBackward(b, loc, forward, args, none, {},
                                        &results);
        forward.erase();
        return results;
      });
  ASSERT_TRUE(static_cast<bool>(shapes)) << llvm::toString(shapes.takeError());

  // Kernel inputs: θ, θ + εu, θ − εu, then one dy per floating result.
  std::vector<KernelInput> all = inputs;
  std::vector<Tensor> directions(n);
  for (int sign : {1, -1})
    for (size_t i = 0; i < n; ++i) {
      KernelInput moved = inputs[i];
      if (differentiable(inputs[i])) {
        if (sign == 1)
          directions[i] = randomTensor(inputs[i].values.shape, rng);
        for (int64_t j = 0; j < moved.values.numel(); ++j)
          moved.values[j] += sign * eps * directions[i][j];
      }
      all.push_back(moved);
    }
  std::vector<Tensor> cotangents;
  std::vector<unsigned> diffResults;
  for (size_t r = 0; r < shapes->size(); ++r) {
    if (!resultDiff[r])
      continue;
    diffResults.push_back(r);
    cotangents.push_back(randomTensor((*shapes)[r].shape, rng));
    // Complex results come back with a trailing 2; so do their cotangents.
    all.push_back(KernelInput::tensor(cotangents.back(), resultKinds[r]));
  }
  std::vector<unsigned> wrt;
  for (size_t i = 0; i < n; ++i)
    if (differentiable(inputs[i]))
      wrt.push_back(i);

  auto values = runKernel(
      all,
      [&](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
        auto forward = buildForward(b, loc, inputs, body);
        unsigned numResults = forward.getFunctionType().getNumResults();
        llvm::SmallVector<mlir::Value> cot(numResults), none(numResults);
        for (size_t k = 0; k < diffResults.size(); ++k)
          cot[diffResults[k]] = args[3 * n + k];
        llvm::SmallVector<mlir::Value> plus, minus, out;
        (void)mlir::gecko::emitBackward(b, loc, forward, args.slice(n, n), none,
                                        {}, &plus);
        (void)mlir::gecko::emitBackward(b, loc, forward, args.slice(2 * n, n),
                                        none, {}, &minus);
        auto grads = mlir::gecko::emitBackward(
            b, loc, forward, args.take_front(n), cot,
            llvm::SmallVector<unsigned>(wrt.begin(), wrt.end()));
        forward.erase();
        if (mlir::failed(grads))
          return {};
        for (size_t k : diffResults) {
          out.push_back(plus[k]);
          out.push_back(minus[k]);
        }
        llvm::append_range(out, *grads);
        return out;
      });
  ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  ASSERT_EQ(values->size(), 2 * diffResults.size() + wrt.size());

  double lossPlus = 0, lossMinus = 0;
  for (size_t k = 0; k < diffResults.size(); ++k) {
    const Tensor &p = (*values)[2 * k], &m = (*values)[2 * k + 1];
    ASSERT_EQ(p.numel(), cotangents[k].numel());
    for (int64_t j = 0; j < p.numel(); ++j) {
      lossPlus += cotangents[k][j] * p[j];
      lossMinus += cotangents[k][j] * m[j];
    }
  }
  double analytic = 0, scale = 0;
  for (size_t w = 0; w < wrt.size(); ++w) {
    const Tensor &g = (*values)[2 * diffResults.size() + w];
    const Tensor &u = directions[wrt[w]];
    ASSERT_EQ(g.numel(), u.numel());
    for (int64_t j = 0; j < g.numel(); ++j) {
      analytic += g[j] * u[j];
      scale += std::fabs(g[j] * u[j]);
    }
  }
  double numeric = (lossPlus - lossMinus) / (2 * eps);
  EXPECT_GT(scale, 1e-3) << "vacuous check: gradients are ~0";
  EXPECT_LE(std::fabs(analytic - numeric), tol * std::max(1.0, scale))
      << "analytic " << analytic << " vs finite difference " << numeric
      << " (scale " << scale << ")";
}

mlir::Value emptyLike(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v) {
  auto t = mlir::cast<mlir::RankedTensorType>(v.getType());
  return mlir::tensor::EmptyOp::create(b, loc, t.getShape(),
                                       t.getElementType());
}

mlir::Value addTensors(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                       mlir::Value y) {
  return mlir::linalg::AddOp::create(b, loc, mlir::TypeRange{x.getType()},
                                     mlir::ValueRange{x, y},
                                     mlir::ValueRange{emptyLike(b, loc, x)})
      ->getResult(0);
}

/// x (B, L, in) · w(out, in)ᵀ + bias, as the builder spells it.
mlir::Value linear(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                   mlir::Value w, mlir::Value bias) {
  auto xt = mlir::cast<mlir::RankedTensorType>(x.getType());
  auto wt = mlir::cast<mlir::RankedTensorType>(w.getType());
  int64_t rows = xt.getDimSize(0) * xt.getDimSize(1);
  int64_t in = wt.getDimSize(1), out = wt.getDimSize(0);
  llvm::SmallVector<mlir::ReassociationIndices> groups = {{0, 1}, {2}};
  mlir::Value flat = mlir::tensor::CollapseShapeOp::create(b, loc, x, groups);
  mlir::Value tInit =
      mlir::tensor::EmptyOp::create(b, loc, {in, out}, b.getF32Type());
  mlir::Value wT = mlir::linalg::TransposeOp::create(
                       b, loc, w, tInit, llvm::ArrayRef<int64_t>{1, 0})
                       .getResult()[0];
  mlir::Value zero =
      mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  mlir::Value acc =
      mlir::linalg::FillOp::create(
          b, loc, zero,
          mlir::tensor::EmptyOp::create(b, loc, {rows, out}, b.getF32Type())
              .getResult())
          .getResult(0);
  mlir::Value y = mlir::linalg::MatmulOp::create(
                      b, loc, mlir::TypeRange{acc.getType()},
                      mlir::ValueRange{flat, wT}, mlir::ValueRange{acc})
                      ->getResult(0);
  if (bias) {
    mlir::Value bb =
        mlir::linalg::BroadcastOp::create(b, loc, bias, emptyLike(b, loc, y),
                                          llvm::ArrayRef<int64_t>{0})
            .getResult()[0];
    y = addTensors(b, loc, y, bb);
  }
  return mlir::tensor::ExpandShapeOp::create(
      b, loc,
      mlir::RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1), out},
                                  b.getF32Type()),
      y, groups);
}

TEST(AutodiffExec, ChainWithValueUsedTwice) {
  std::mt19937_64 rng(11);
  // L = 5 with the default token tile 16: partial tiles.
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(randomTensor({2, 5, 8}, rng)),
      KernelInput::tensor(randomTensor({8}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({6, 8}, rng)),
      KernelInput::tensor(randomTensor({6}, rng))};
  checkGradients(
      inputs,
      [](mlir::OpBuilder &b, mlir::Location loc,
         mlir::ValueRange a) -> llvm::SmallVector<mlir::Value> {
        mlir::Value n = mlir::gecko::RmsNormOp::create(
            b, loc, a[0].getType(), a[0], a[1], b.getI64IntegerAttr(2),
            b.getF64FloatAttr(1e-5));
        mlir::Value h = linear(b, loc, n, a[2], a[3]);
        mlir::Value y =
            mlir::gecko::SwiGluOp::create(b, loc, h.getType(), h, h);
        return {y, n};
      },
      1);
}

TEST(AutodiffExec, TimestepNormCemaWithStateCotangents) {
  std::mt19937_64 rng(12);
  int64_t B = 2, L = 7, D = 4, G = 2, N = 3;
  Tensor bos({B, L});
  bos.at(0, 0) = 1;
  bos.at(1, 4) = 1;
  Tensor count({B});
  count[0] = 3;
  count[1] = 0;
  Tensor var = randomTensor({B, G}, rng, 0.5, 1.5);
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(randomTensor({B, L, D}, rng)),
      KernelInput::tensor(randomTensor({D}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({D}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(count, ElementKind::I64),
      KernelInput::tensor(randomTensor({B, G}, rng)),
      KernelInput::tensor(var),
      KernelInput::tensor(bos, ElementKind::I1),
      KernelInput::tensor(randomTensor({D, N}, rng)),
      KernelInput::tensor(randomTensor({D, N}, rng)),
      KernelInput::tensor(randomTensor({D}, rng)),
      KernelInput::tensor(randomTensor({D, N, 2}, rng)),
      KernelInput::tensor(randomTensor({B, D, N, 2}, rng),
                          ElementKind::ComplexF32)};
  checkGradients(
      inputs,
      [=](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange a) -> llvm::SmallVector<mlir::Value> {
        mlir::Type xt = a[0].getType(), st = a[4].getType();
        auto tsn = mlir::gecko::TimestepNormOp::create(
            b, loc, mlir::TypeRange{xt, a[3].getType(), st, st}, a[0], a[1],
            a[2], a[3], a[4], a[5], a[6], mlir::Value(), b.getI64IntegerAttr(G),
            b.getF64FloatAttr(0.9), b.getF64FloatAttr(0.99),
            b.getF64FloatAttr(1e-5));
        auto cplx = mlir::ComplexType::get(b.getF32Type());
        auto coeffType = mlir::RankedTensorType::get({D, N}, b.getF32Type());
        auto complexType = mlir::RankedTensorType::get({D, N}, cplx);
        auto coeffs = mlir::gecko::CemaCoeffsOp::create(
            b, loc, coeffType, complexType, complexType, a[7], a[8], a[9],
            a[10]);
        auto cema = mlir::gecko::CemaOp::create(
            b, loc, mlir::TypeRange{xt, a[11].getType()}, tsn.getY(),
            coeffs.getP(), coeffs.getQ(), coeffs.getGammaC(), a[11], a[6]);
        // tsn's output feeds cema and the residual add: two adjoints.
        mlir::Value out = addTensors(b, loc, cema.getY(), tsn.getY());
        return {out, tsn.getNewCount(), tsn.getNewMean(), tsn.getNewVar(),
                cema.getNewH()};
      },
      2);
}

TEST(AutodiffExec, AttentionAndMemorySharingValues) {
  std::mt19937_64 rng(13);
  int64_t B = 2, L = 12, H = 2, dz = 4, dv = 3, C = 4;
  Tensor seg({B, L});
  for (int64_t t = 0; t < L; ++t) {
    seg.at(0, t) = 1;
    seg.at(1, t) = t < 6 ? 1 : 2;
  }
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(randomTensor({B, L, H * dz}, rng)),
      KernelInput::tensor(randomTensor({4, H * dz}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({4, H * dz}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({B, L, H, dv}, rng)),
      KernelInput::tensor(seg, ElementKind::I64),
      KernelInput::scalar(5)};
  checkGradients(
      inputs,
      [=](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange a) -> llvm::SmallVector<mlir::Value> {
        mlir::Type zt = a[0].getType();
        auto z = mlir::gecko::ZSplitOp::create(
            b, loc, mlir::TypeRange{zt, zt, zt, zt}, a[0], a[1], a[2],
            b.getI64IntegerAttr(H), b.getF64FloatAttr(1e-5));
        auto headType =
            mlir::RankedTensorType::get({B, L, H, dz}, b.getF32Type());
        llvm::SmallVector<mlir::ReassociationIndices> groups = {
            {0}, {1}, {2, 3}};
        auto split = [&](mlir::Value v) -> mlir::Value {
          return mlir::tensor::ExpandShapeOp::create(b, loc, headType, v,
                                                     groups);
        };
        auto base = b.getF64FloatAttr(10000.0);
        mlir::Value q =
            mlir::gecko::RopeOp::create(b, loc, headType, split(z.getQ()), a[5],
                                        base, b.getI64IntegerAttr(1));
        mlir::Value k =
            mlir::gecko::RopeOp::create(b, loc, headType, split(z.getK()), a[5],
                                        base, b.getI64IntegerAttr(1));
        auto path = mlir::gecko::ChunkPathAttr::get(
            b.getContext(), mlir::gecko::ChunkPath::Chunked);
        mlir::Value sca = mlir::gecko::ChunkAttentionOp::create(
            b, loc, a[3].getType(), path, q, k, a[3], mlir::Value(),
            mlir::Value(), a[4], mlir::Value(), b.getI64IntegerAttr(C),
            b.getUnitAttr());
        auto awm = mlir::gecko::WorkingMemoryOp::create(
            b, loc,
            mlir::TypeRange{
                a[3].getType(),
                mlir::RankedTensorType::get({B, H, dz, dv}, b.getF32Type()),
                mlir::RankedTensorType::get({B, H, dz}, b.getF32Type())},
            path, split(z.getAq()), split(z.getAk()), a[3], mlir::Value(),
            mlir::Value(), mlir::Value(), mlir::Value(), a[4], mlir::Value(),
            mlir::Value(), b.getI64IntegerAttr(C));
        return {addTensors(b, loc, sca, awm.getOut()), awm.getNewMemory()};
      },
      3);
}

TEST(AutodiffExec, EmbeddingLinearCrossEntropy) {
  std::mt19937_64 rng(14);
  int64_t B = 2, L = 9, V = 11, D = 6;
  Tensor tokens({B, L}), labels({B, L});
  std::uniform_int_distribution<int64_t> id(0, V - 1);
  for (int64_t i = 0; i < tokens.numel(); ++i) {
    tokens[i] = static_cast<double>(id(rng));
    labels[i] = static_cast<double>(id(rng));
  }
  tokens[3] = tokens[5]; // a repeated id: its rows accumulate
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(randomTensor({V, D}, rng)),
      KernelInput::tensor(tokens, ElementKind::I64),
      KernelInput::tensor(randomTensor({D}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({D}, rng, -0.2, 0.2, 0.0)),
      KernelInput::tensor(randomTensor({V, D}, rng)),
      KernelInput::tensor(labels, ElementKind::I64)};
  checkGradients(
      inputs,
      [=](mlir::OpBuilder &b, mlir::Location loc,
          mlir::ValueRange a) -> llvm::SmallVector<mlir::Value> {
        auto actType = mlir::RankedTensorType::get({B, L, D}, b.getF32Type());
        mlir::Value x =
            mlir::gecko::EmbeddingOp::create(b, loc, actType, a[0], a[1]);
        mlir::Value n = mlir::gecko::LayerNormOp::create(
            b, loc, actType, x, a[2], a[3], b.getI64IntegerAttr(1),
            b.getF64FloatAttr(1e-5));
        mlir::Value logits = linear(b, loc, n, a[4], mlir::Value());
        mlir::Value loss = mlir::gecko::CrossEntropyOp::create(
            b, loc, mlir::RankedTensorType::get({}, b.getF32Type()), logits,
            a[5]);
        return {loss, x};
      },
      4);
}

TEST(AutodiffExec, DenseChainOfGeckoOps) {
  std::mt19937_64 rng(15);
  // 2 x 9 = 18 rows (token tile 16), 37 / 35 columns (column tile 32).
  int64_t B = 2, L = 9, D = 35, H = 37;
  std::vector<KernelInput> inputs = {
      KernelInput::tensor(randomTensor({B, L, D}, rng)),
      KernelInput::tensor(randomTensor({H, D}, rng, -0.3, 0.3)),
      KernelInput::tensor(randomTensor({H}, rng)),
      KernelInput::tensor(randomTensor({B, L, H}, rng)),
      KernelInput::tensor(randomTensor({B, L, H}, rng)),
      KernelInput::tensor(randomTensor({D, H}, rng, -0.3, 0.3))};
  checkGradients(
      inputs,
      [](mlir::OpBuilder &b, mlir::Location loc,
         mlir::ValueRange a) -> llvm::SmallVector<mlir::Value> {
        mlir::Type ht = a[3].getType();
        mlir::Value h =
            mlir::gecko::LinearOp::create(b, loc, ht, a[0], a[1], a[2]);
        mlir::Value s = mlir::gecko::SiluOp::create(b, loc, ht, h);
        // h feeds silu and the gated sum: two adjoints.
        mlir::Value r = mlir::gecko::GatedAddOp::create(b, loc, ht, s, h, a[3]);
        mlir::Value r2 =
            mlir::gecko::GatedAddOp::create(b, loc, ht, r, a[4], mlir::Value());
        mlir::Value y = mlir::gecko::LinearOp::create(b, loc, a[0].getType(),
                                                      r2, a[5], mlir::Value());
        return {y};
      },
      5);
}

/// max |a - b| / max(1, |b|) over equally shaped tensors.
double relativeError(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  double worst = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i)
    worst = std::max(worst,
                     std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
  return worst;
}

TEST(AutodiffExec, DenseOpRulesMatchReference) {
  std::mt19937_64 rng(16);
  int64_t B = 2, L = 9, D = 35, H = 37;
  Tensor x = randomTensor({B, L, D}, rng), w = randomTensor({H, D}, rng);
  Tensor bias = randomTensor({H}, rng), s = randomTensor({B, L, H}, rng);
  Tensor a = randomTensor({B, L, H}, rng), c = randomTensor({B, L, H}, rng);
  Tensor gate = randomTensor({B, L, H}, rng);
  Tensor dy1 = randomTensor({B, L, H}, rng), dy2 = randomTensor({B, L, H}, rng);
  Tensor dy3 = randomTensor({B, L, H}, rng), dy4 = randomTensor({B, L, H}, rng);
  Tensor dy5 = randomTensor({B, L, H}, rng);
  std::vector<KernelInput> inputs;
  for (const Tensor *t :
       {&x, &w, &bias, &s, &a, &c, &gate, &dy1, &dy2, &dy3, &dy4, &dy5})
    inputs.push_back(KernelInput::tensor(*t));
  // Forward: linear with and without bias, silu, gated_add with and without
  // gate (a and c used by both: their adjoints are sums).
  ForwardBody body = [](mlir::OpBuilder &b, mlir::Location loc,
                        mlir::ValueRange v) -> llvm::SmallVector<mlir::Value> {
    mlir::Type ht = v[3].getType();
    return {
        mlir::gecko::LinearOp::create(b, loc, ht, v[0], v[1], v[2]),
        mlir::gecko::LinearOp::create(b, loc, ht, v[0], v[1], mlir::Value()),
        mlir::gecko::SiluOp::create(b, loc, ht, v[3]),
        mlir::gecko::GatedAddOp::create(b, loc, ht, v[4], v[5], v[6]),
        mlir::gecko::GatedAddOp::create(b, loc, ht, v[4], v[5], mlir::Value())};
  };
  std::vector<KernelInput> forwardInputs(inputs.begin(), inputs.begin() + 7);
  auto values =
      runKernel(inputs,
                [&](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> llvm::SmallVector<mlir::Value> {
                  auto forward = buildForward(b, loc, forwardInputs, body);
                  llvm::SmallVector<mlir::Value> cot(args.drop_front(7));
                  auto grads = mlir::gecko::emitBackward(
                      b, loc, forward, args.take_front(7), cot,
                      llvm::SmallVector<unsigned>{0, 1, 2, 3, 4, 5, 6});
                  forward.erase();
                  if (mlir::failed(grads))
                    return {};
                  return *grads;
                });
  ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  ASSERT_EQ(values->size(), 7u);
  const std::vector<Tensor> &g = *values;

  ref::LinearGrads lin = ref::linearBackward(x, w, /*hasBias=*/true, dy1);
  ref::LinearGrads lin2 = ref::linearBackward(x, w, /*hasBias=*/false, dy2);
  Tensor dx = ref::add(lin.x, lin2.x), dw = ref::add(lin.weight, lin2.weight);
  Tensor ds = ref::siluBackward(s, dy3);
  // gated_add: da = dy·gate (+ dy without gate), db = dy, dgate = dy·a.
  Tensor da = ref::add(ref::multiply(dy4, gate), dy5);
  Tensor dc = ref::add(dy4, dy5);
  Tensor dgate = ref::multiply(dy4, a);
  const double tol = 1e-5;
  EXPECT_LE(relativeError(g[0], dx), tol);
  EXPECT_LE(relativeError(g[1], dw), tol);
  EXPECT_LE(relativeError(g[2], lin.bias), tol);
  EXPECT_LE(relativeError(g[3], ds), tol);
  EXPECT_LE(relativeError(g[4], da), tol);
  EXPECT_LE(relativeError(g[5], dc), tol);
  EXPECT_LE(relativeError(g[6], dgate), tol);
}

} // namespace
} // namespace gecko::exec
