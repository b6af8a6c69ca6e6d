//===- UpstreamAdjoints.cpp - Adjoints of the plumbing ops ----------------===//
//
// The upstream ops the model builder uses around the gecko ops:
// - arith.constant, tensor.empty, linalg.fill: constants, no adjoint;
// - tensor.collapse_shape <-> tensor.expand_shape: reshape the adjoint back;
// - tensor.extract_slice: insert the adjoint into zeros of the source;
//   tensor.insert_slice: the slice of the adjoint for the source, the
//   adjoint with the slice zeroed for the destination; tensor.concat: one
//   slice per input;
// - linalg.transpose: transpose back with the inverse permutation;
// - linalg.add / linalg.sub / linalg.mul: elementwise;
// - linalg.broadcast: linalg.reduce (sum) over the broadcast dimensions;
// - linalg.matmul / linalg.batch_matmul (default maps, result = C + A·B):
//   dA = dY·Bᵀ, dB = Aᵀ·dY (transposes + the same named op), dC = dY.
//
//===----------------------------------------------------------------------===//

#include "AdjointRules.h"

#include "gecko/Autodiff/Autodiff.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace mlir::gecko::autodiff {

namespace {

LogicalResult collapseShape(AdjointContext &ctx, tensor::CollapseShapeOp op) {
  Location loc = op.getLoc();
  Value g = tensor::ExpandShapeOp::create(ctx.builder, loc, op.getSrcType(),
                                          ctx.adjointOf(op.getResult()),
                                          op.getReassociationIndices());
  ctx.accumulate(op.getSrc(), g, loc);
  return success();
}

LogicalResult expandShape(AdjointContext &ctx, tensor::ExpandShapeOp op) {
  Location loc = op.getLoc();
  Value g = tensor::CollapseShapeOp::create(ctx.builder, loc, op.getSrcType(),
                                            ctx.adjointOf(op.getResult()),
                                            op.getReassociationIndices());
  ctx.accumulate(op.getSrc(), g, loc);
  return success();
}

LogicalResult extractSlice(AdjointContext &ctx, tensor::ExtractSliceOp op) {
  Location loc = op.getLoc();
  OpBuilder &b = ctx.builder;
  Value zeros = zerosOf(b, loc, op.getSourceType());
  Value g = tensor::InsertSliceOp::create(
      b, loc, ctx.adjointOf(op.getResult()), zeros, op.getMixedOffsets(),
      op.getMixedSizes(), op.getMixedStrides());
  ctx.accumulate(op.getSource(), g, loc);
  return success();
}

LogicalResult insertSlice(AdjointContext &ctx, tensor::InsertSliceOp op) {
  Location loc = op.getLoc();
  OpBuilder &b = ctx.builder;
  Value dy = ctx.adjointOf(op.getResult());
  Value dSource = tensor::ExtractSliceOp::create(
      b, loc, op.getSourceType(), dy, op.getMixedOffsets(), op.getMixedSizes(),
      op.getMixedStrides());
  ctx.accumulate(op.getSource(), dSource, loc);
  if (isDifferentiableType(op.getDest().getType())) {
    Value dDest = tensor::InsertSliceOp::create(
        b, loc, zerosOf(b, loc, op.getSourceType()), dy, op.getMixedOffsets(),
        op.getMixedSizes(), op.getMixedStrides());
    ctx.accumulate(op.getDest(), dDest, loc);
  }
  return success();
}

LogicalResult concat(AdjointContext &ctx, tensor::ConcatOp op) {
  Location loc = op.getLoc();
  OpBuilder &b = ctx.builder;
  Value dy = ctx.adjointOf(op.getResult());
  int64_t dim = op.getDim();
  int64_t offset = 0;
  for (Value input : op.getInputs()) {
    auto type = cast<RankedTensorType>(input.getType());
    if (type.isDynamicDim(dim))
      return op.emitOpError("gecko-autodiff: concat adjoint needs static "
                            "sizes along the concatenated dimension");
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[dim] = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
    for (int64_t i = 0; i < type.getRank(); ++i)
      sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
    Value g = tensor::ExtractSliceOp::create(b, loc, type, dy, offsets, sizes,
                                             strides);
    ctx.accumulate(input, g, loc);
    offset += type.getDimSize(dim);
  }
  return success();
}

Value transposed(OpBuilder &b, Location loc, Value v,
                 ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : permutation)
    shape.push_back(type.getDimSize(p));
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, permutation)
      .getResult()[0];
}

LogicalResult transpose(AdjointContext &ctx, linalg::TransposeOp op) {
  Location loc = op.getLoc();
  ArrayRef<int64_t> perm = op.getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  Value g =
      transposed(ctx.builder, loc, ctx.adjointOf(op->getResult(0)), inverse);
  ctx.accumulate(op.getInput(), g, loc);
  return success();
}

LogicalResult elementwiseBinary(AdjointContext &ctx, Operation *op, bool isSub,
                                bool isMul) {
  Location loc = op->getLoc();
  OpBuilder &b = ctx.builder;
  auto linalgOp = cast<linalg::LinalgOp>(op);
  Value lhs = linalgOp.getDpsInputs()[0], rhs = linalgOp.getDpsInputs()[1];
  Value dy = ctx.adjointOf(op->getResult(0));
  if (lhs.getType() != dy.getType() || rhs.getType() != dy.getType())
    return op->emitOpError("gecko-autodiff: expected operands of the result "
                           "type");
  if (!isMul) {
    ctx.accumulate(lhs, dy, loc);
    Value dr = dy;
    if (isSub)
      dr = elementwise(b, loc, dy.getType(), {dy},
                       [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                         if (isa<ComplexType>(a[0].getType()))
                           return complex::NegOp::create(nb, nloc, a[0]);
                         return arith::NegFOp::create(nb, nloc, a[0]);
                       });
    ctx.accumulate(rhs, dr, loc);
    return success();
  }
  auto product = [&](Value other) {
    return elementwise(b, loc, dy.getType(), {dy, ctx.primalOf(other)},
                       [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                         if (isa<ComplexType>(a[0].getType()))
                           return complex::MulOp::create(nb, nloc, a[0], a[1]);
                         return arith::MulFOp::create(nb, nloc, a[0], a[1]);
                       });
  };
  ctx.accumulate(lhs, product(rhs), loc);
  ctx.accumulate(rhs, product(lhs), loc);
  return success();
}

LogicalResult broadcast(AdjointContext &ctx, linalg::BroadcastOp op) {
  Location loc = op.getLoc();
  OpBuilder &b = ctx.builder;
  Value input = op.getInput();
  if (!isDifferentiableType(input.getType()))
    return success();
  Value init = zerosOf(b, loc, input.getType());
  Value g = linalg::ReduceOp::create(
                b, loc, ValueRange{ctx.adjointOf(op->getResult(0))},
                ValueRange{init}, op.getDimensions(),
                [](OpBuilder &nb, Location nloc, ValueRange a) {
                  Value s =
                      isa<ComplexType>(a[0].getType())
                          ? Value(complex::AddOp::create(nb, nloc, a[0], a[1]))
                          : Value(arith::AddFOp::create(nb, nloc, a[0], a[1]));
                  linalg::YieldOp::create(nb, nloc, s);
                })
                .getResult(0);
  ctx.accumulate(input, g, loc);
  return success();
}

/// The last two dimensions swapped.
Value transposeLastTwo(OpBuilder &b, Location loc, Value v) {
  int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank; ++i)
    perm.push_back(i);
  std::swap(perm[rank - 1], perm[rank - 2]);
  return transposed(b, loc, v, perm);
}

template <typename MatmulOpT>
LogicalResult matmul(AdjointContext &ctx, MatmulOpT op) {
  Location loc = op.getLoc();
  OpBuilder &b = ctx.builder;
  if (op.hasUserDefinedMaps())
    return op.emitOpError("gecko-autodiff: only the default indexing maps of ")
           << op->getName() << " are supported";
  Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
  Value acc = op.getDpsInits()[0];
  Value dy = ctx.adjointOf(op->getResult(0));
  auto product = [&](Value x, Value y, Type type) {
    Value init = zerosOf(b, loc, type);
    return MatmulOpT::create(b, loc, TypeRange{type}, ValueRange{x, y},
                             ValueRange{init})
        ->getResult(0);
  };
  if (isDifferentiableType(lhs.getType()))
    ctx.accumulate(
        lhs,
        product(dy, transposeLastTwo(b, loc, ctx.primalOf(rhs)), lhs.getType()),
        loc);
  if (isDifferentiableType(rhs.getType()))
    ctx.accumulate(
        rhs,
        product(transposeLastTwo(b, loc, ctx.primalOf(lhs)), dy, rhs.getType()),
        loc);
  if (acc.getType() == dy.getType())
    ctx.accumulate(acc, dy, loc);
  return success();
}

} // namespace

std::optional<LogicalResult> emitUpstreamAdjoint(AdjointContext &ctx,
                                                 Operation *op) {
  if (isa<arith::ConstantOp, tensor::EmptyOp, linalg::FillOp>(op))
    return success();
  if (auto o = dyn_cast<tensor::CollapseShapeOp>(op))
    return collapseShape(ctx, o);
  if (auto o = dyn_cast<tensor::ExpandShapeOp>(op))
    return expandShape(ctx, o);
  if (auto o = dyn_cast<tensor::ExtractSliceOp>(op))
    return extractSlice(ctx, o);
  if (auto o = dyn_cast<tensor::InsertSliceOp>(op))
    return insertSlice(ctx, o);
  if (auto o = dyn_cast<tensor::ConcatOp>(op))
    return concat(ctx, o);
  if (auto o = dyn_cast<linalg::TransposeOp>(op))
    return transpose(ctx, o);
  if (isa<linalg::AddOp>(op))
    return elementwiseBinary(ctx, op, /*isSub=*/false, /*isMul=*/false);
  if (isa<linalg::SubOp>(op))
    return elementwiseBinary(ctx, op, /*isSub=*/true, /*isMul=*/false);
  if (isa<linalg::MulOp>(op))
    return elementwiseBinary(ctx, op, /*isSub=*/false, /*isMul=*/true);
  if (auto o = dyn_cast<linalg::BroadcastOp>(op))
    return broadcast(ctx, o);
  if (auto o = dyn_cast<linalg::MatmulOp>(op))
    return matmul(ctx, o);
  if (auto o = dyn_cast<linalg::BatchMatmulOp>(op))
    return matmul(ctx, o);
  return std::nullopt;
}

} // namespace mlir::gecko::autodiff
