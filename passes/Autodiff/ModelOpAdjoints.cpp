//===- ModelOpAdjoints.cpp - Adjoints of embedding, swiglu, cross_entropy -===//
//
// The model-graph ops have no `_grad` op; their adjoints are upstream ops:
// - gecko.embedding: scatter-add of dy rows into a zero (V, D) table, an
//   scf.for over the tokens (sequential, deterministic; each step adds one
//   row with a D-wide linalg.generic), accumulated in f32. Ids are clamped to
//   [0, V) like the forward lowering's gather.
// - gecko.swiglu: two elementwise generics (f32 arithmetic):
//   dgate = dy·up·σ(g)·(1 + g·(1 − σ(g))), dup = dy·g·σ(g).
// - gecko.cross_entropy: dlogits = dloss·(softmax − onehot(label)) / N with
//   the f32 row maximum and Σ exp(x − max) as two reductions; labels are
//   clamped like the forward's.
//
//===----------------------------------------------------------------------===//

#include "AdjointRules.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace mlir::gecko::autodiff {

namespace {

/// An i64 id clamped to [0, extent − 1], as an index.
Value clampedIndex(OpBuilder &b, Location loc, Value id, int64_t extent) {
  Value zero = arith::ConstantIntOp::create(b, loc, 0, 64);
  Value last = arith::ConstantIntOp::create(b, loc, extent - 1, 64);
  Value clamped = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, id, zero), last);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), clamped);
}

/// Collapses all dimensions of `v` into one (rank 0/1: unchanged except a
/// rank-0 tensor, which is returned as is).
Value flattenAll(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() <= 1)
    return v;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return tensor::CollapseShapeOp::create(b, loc, v,
                                         ArrayRef<ReassociationIndices>{all});
}

/// (..., D) -> (N, D).
Value flattenLeading(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return v;
  ReassociationIndices lead;
  for (int64_t i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  SmallVector<ReassociationIndices> groups = {lead, {rank - 1}};
  return tensor::CollapseShapeOp::create(b, loc, v, groups);
}

LogicalResult embedding(AdjointContext &ctx, EmbeddingOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  auto tableType = cast<RankedTensorType>(op.getTable().getType());
  if (!tableType.hasStaticShape())
    return op.emitOpError("gecko-autodiff: the embedding adjoint needs a "
                          "static table shape");
  int64_t vocab = tableType.getDimSize(0), dim = tableType.getDimSize(1);
  Value ids = flattenAll(b, loc, ctx.primalOf(op.getTokens()));
  Value dy = flattenLeading(b, loc, ctx.adjointOf(op.getOut()));
  int64_t count = cast<RankedTensorType>(ids.getType()).getDimSize(0);
  auto accType = RankedTensorType::get({vocab, dim}, b.getF32Type());
  auto rowType = RankedTensorType::get({dim}, b.getF32Type());
  auto dyRowType = RankedTensorType::get({dim}, tableType.getElementType());
  Value acc = zerosOf(b, loc, accType);
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, count);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, step, ValueRange{acc},
      [&](OpBuilder &nb, Location nloc, Value i, ValueRange iter) {
        Value id = tensor::ExtractOp::create(nb, nloc, ids, ValueRange{i});
        Value row = clampedIndex(nb, nloc, id, vocab);
        SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(1),
                                           nb.getIndexAttr(dim)};
        SmallVector<OpFoldResult> strides = {nb.getIndexAttr(1),
                                             nb.getIndexAttr(1)};
        Value dyRow = tensor::ExtractSliceOp::create(
            nb, nloc, dyRowType, dy,
            SmallVector<OpFoldResult>{i, nb.getIndexAttr(0)}, sizes, strides);
        SmallVector<OpFoldResult> at = {row, nb.getIndexAttr(0)};
        Value cur = tensor::ExtractSliceOp::create(nb, nloc, rowType, iter[0],
                                                   at, sizes, strides);
        Value sum = elementwise(
            nb, nloc, rowType, {cur, dyRow},
            [](OpBuilder &eb, Location eloc, ValueRange a) -> Value {
              return arith::AddFOp::create(eb, eloc, a[0],
                                           toF32(eb, eloc, a[1]));
            });
        Value next = tensor::InsertSliceOp::create(nb, nloc, sum, iter[0], at,
                                                   sizes, strides);
        scf::YieldOp::create(nb, nloc, next);
      });
  Value grad = loop.getResult(0);
  if (!tableType.getElementType().isF32()) {
    Type element = tableType.getElementType();
    grad = elementwise(b, loc, tableType, {grad},
                       [&](OpBuilder &eb, Location eloc, ValueRange a) {
                         return fromF32(eb, eloc, a[0], element);
                       });
  }
  ctx.accumulate(op.getTable(), grad, loc);
  return success();
}

/// σ(g) in f32.
Value sigmoid(OpBuilder &b, Location loc, Value g) {
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1));
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, g));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

LogicalResult swiglu(AdjointContext &ctx, SwiGluOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  Type type = op.getOut().getType();
  Type element = cast<RankedTensorType>(type).getElementType();
  Value gate = ctx.primalOf(op.getGate()), up = ctx.primalOf(op.getUp());
  Value dy = ctx.adjointOf(op.getOut());
  Value dGate = elementwise(
      b, loc, type, {gate, up, dy},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value g = toF32(nb, nloc, a[0]), u = toF32(nb, nloc, a[1]),
              d = toF32(nb, nloc, a[2]);
        Value s = sigmoid(nb, nloc, g);
        Value one = arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1));
        // silu'(g) = s·(1 + g·(1 − s)).
        Value slope = arith::MulFOp::create(
            nb, nloc, s,
            arith::AddFOp::create(
                nb, nloc, one,
                arith::MulFOp::create(
                    nb, nloc, g, arith::SubFOp::create(nb, nloc, one, s))));
        Value r = arith::MulFOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, d, u), slope);
        return fromF32(nb, nloc, r, element);
      });
  Value dUp = elementwise(
      b, loc, type, {gate, dy},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value g = toF32(nb, nloc, a[0]), d = toF32(nb, nloc, a[1]);
        Value silu = arith::MulFOp::create(nb, nloc, g, sigmoid(nb, nloc, g));
        return fromF32(nb, nloc, arith::MulFOp::create(nb, nloc, d, silu),
                       element);
      });
  ctx.accumulate(op.getGate(), dGate, loc);
  ctx.accumulate(op.getUp(), dUp, loc);
  return success();
}

/// Row-wise f32 reduction over the last dimension of `logits` (rank R) into
/// a tensor of the leading R − 1 dims, with `extra` inputs broadcast along
/// the last dimension.
Value rowReduce(
    OpBuilder &b, Location loc, Value logits, ValueRange extra, float init,
    llvm::function_ref<Value(OpBuilder &, Location, Value, Value, ValueRange)>
        combine) {
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t rank = type.getRank();
  auto rowType =
      RankedTensorType::get(type.getShape().drop_back(), b.getF32Type());
  Value start = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(init));
  Value empty =
      tensor::EmptyOp::create(b, loc, rowType.getShape(), b.getF32Type());
  Value acc = linalg::FillOp::create(b, loc, start, empty).getResult(0);
  MLIRContext *mctx = b.getContext();
  auto id = AffineMap::getMultiDimIdentityMap(rank, mctx);
  auto row = id.dropResult(rank - 1);
  SmallVector<AffineMap> maps = {id};
  SmallVector<Value> inputs = {logits};
  for (Value e : extra) {
    maps.push_back(row);
    inputs.push_back(e);
  }
  maps.push_back(row);
  SmallVector<utils::IteratorType> iterators(rank - 1,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  return linalg::GenericOp::create(
             b, loc, rowType, inputs, acc, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange a) {
               Value x = toF32(nb, nloc, a[0]);
               Value r =
                   combine(nb, nloc, x, a.back(), a.drop_front().drop_back());
               linalg::YieldOp::create(nb, nloc, r);
             })
      .getResult(0);
}

LogicalResult crossEntropy(AdjointContext &ctx, CrossEntropyOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(op.getLogits().getType());
  if (!type.hasStaticShape())
    return op.emitOpError("gecko-autodiff: the cross_entropy adjoint needs "
                          "static shapes");
  int64_t rank = type.getRank(), vocab = type.getDimSize(rank - 1);
  int64_t rows = type.getNumElements() / vocab;
  Type element = type.getElementType();
  Value logits = ctx.primalOf(op.getLogits());
  Value labels = ctx.primalOf(op.getLabels());
  Value dLoss = ctx.adjointOf(op.getLoss());
  Value rowMax = rowReduce(
      b, loc, logits, {}, -std::numeric_limits<float>::infinity(),
      [](OpBuilder &nb, Location nloc, Value x, Value acc, ValueRange) {
        return arith::MaximumFOp::create(nb, nloc, x, acc);
      });
  Value sumExp = rowReduce(
      b, loc, logits, {rowMax}, 0.0f,
      [](OpBuilder &nb, Location nloc, Value x, Value acc, ValueRange extra) {
        Value e = math::ExpOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, x, extra[0]));
        return arith::AddFOp::create(nb, nloc, acc, e);
      });
  MLIRContext *mctx = b.getContext();
  auto id = AffineMap::getMultiDimIdentityMap(rank, mctx);
  auto row = id.dropResult(rank - 1);
  auto scalar = AffineMap::get(rank, 0, mctx);
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  double scale = 1.0 / static_cast<double>(rows);
  Value grad =
      linalg::GenericOp::create(
          b, loc, type, ValueRange{logits, rowMax, sumExp, labels, dLoss}, init,
          SmallVector<AffineMap>{id, row, row, row, scalar, id}, iterators,
          [&](OpBuilder &nb, Location nloc, ValueRange a) {
            Value x = toF32(nb, nloc, a[0]);
            Value p = arith::DivFOp::create(
                nb, nloc,
                math::ExpOp::create(nb, nloc,
                                    arith::SubFOp::create(nb, nloc, x, a[1])),
                a[2]);
            Value v = linalg::IndexOp::create(nb, nloc, rank - 1);
            Value label = clampedIndex(nb, nloc, a[3], vocab);
            Value hit = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::eq, v, label);
            Value one =
                arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1));
            Value zero =
                arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(0));
            Value diff = arith::SubFOp::create(
                nb, nloc, p, arith::SelectOp::create(nb, nloc, hit, one, zero));
            Value s = arith::ConstantOp::create(
                nb, nloc, nb.getF32FloatAttr(static_cast<float>(scale)));
            Value r = arith::MulFOp::create(
                nb, nloc, diff, arith::MulFOp::create(nb, nloc, a[4], s));
            linalg::YieldOp::create(nb, nloc, fromF32(nb, nloc, r, element));
          })
          .getResult(0);
  ctx.accumulate(op.getLogits(), grad, loc);
  return success();
}

} // namespace

std::optional<LogicalResult> emitModelOpAdjoint(AdjointContext &ctx,
                                                Operation *op) {
  if (auto o = dyn_cast<EmbeddingOp>(op))
    return embedding(ctx, o);
  if (auto o = dyn_cast<SwiGluOp>(op))
    return swiglu(ctx, o);
  if (auto o = dyn_cast<CrossEntropyOp>(op))
    return crossEntropy(ctx, o);
  return std::nullopt;
}

} // namespace mlir::gecko::autodiff
