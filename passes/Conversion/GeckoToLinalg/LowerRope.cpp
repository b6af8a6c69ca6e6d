//===- LowerRope.cpp - Rotary embedding to linalg -------------------------===//
//
// spec §4. The inverse frequencies are a compile-time table reproducing the
// reference's checkpoint buffer: base^(2j/d) in double, rounded to f32, its
// reciprocal in f32. Per (batch, token) tile, a (tokens, d/2) generic forms
// the f32 angle pos * f_j (pos = start + token, as f32) and its cos/sin; a
// second generic rotates the adjacent pairs of the first num_rope_heads
// heads. The forall's shared output starts as x, so the heads that are not
// rotated pass through untouched. gecko.rope_grad is the same rotation of dy
// by the negative angle (sin negated).
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

namespace mlir::gecko {

namespace {

/// cos and sin (tokens, d/2) f32 of the angles of positions
/// start + tokenOffset + t.
std::pair<Value, Value> angleTable(OpBuilder &b, Location loc,
                                   Value inverseFrequency, Value start,
                                   const RowTile &tile) {
  int64_t half =
      cast<RankedTensorType>(inverseFrequency.getType()).getShape()[0];
  SmallVector<OpFoldResult> sizes = {tile.tokenSize, b.getIndexAttr(half)};
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value tokenOffset = getValueOrCreateConstantIndexOp(b, loc, tile.tokenOffset);
  Value first = arith::AddIOp::create(
      b, loc, start,
      arith::IndexCastOp::create(b, loc, b.getI64Type(), tokenOffset));
  AffineExpr d0, d1;
  bindDims(b.getContext(), d0, d1);
  AffineMap perFrequency = AffineMap::get(2, 0, {d1}, b.getContext());
  SmallVector<Value> tables = elementwise(
      b, loc, inverseFrequency, perFrequency, ValueRange{init, init},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value token = linalg::IndexOp::create(nb, nloc, 0);
        Value position = arith::AddIOp::create(
            nb, nloc, first,
            arith::IndexCastOp::create(nb, nloc, nb.getI64Type(), token));
        Value positionF32 =
            arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), position);
        Value angle = arith::MulFOp::create(nb, nloc, positionF32, args[0]);
        return SmallVector<Value>{math::CosOp::create(nb, nloc, angle),
                                  math::SinOp::create(nb, nloc, angle)};
      });
  return {tables[0], tables[1]};
}

} // namespace

LogicalResult lowerRopeOp(RewriterBase &rewriter, Operation *operation,
                          const GeckoTileSizes &tiles) {
  // gecko.rope rotates x by +angle, gecko.rope_grad rotates dy by -angle.
  Value input, start;
  FloatAttr baseAttr;
  std::optional<uint64_t> numRopeHeads;
  bool inverse = false;
  if (auto rope = dyn_cast<RopeOp>(operation)) {
    input = rope.getX();
    start = rope.getStart();
    baseAttr = rope.getBaseAttr();
    numRopeHeads = rope.getNumRopeHeads();
  } else if (auto grad = dyn_cast<RopeGradOp>(operation)) {
    input = grad.getDy();
    start = grad.getStart();
    baseAttr = grad.getBaseAttr();
    numRopeHeads = grad.getNumRopeHeads();
    inverse = true;
  } else {
    return operation->emitOpError() << "is not gecko.rope or gecko.rope_grad";
  }
  Operation *op = operation;
  auto xType = cast<RankedTensorType>(input.getType());
  if (!xType.hasStaticShape())
    return op->emitOpError()
           << "gecko-convert-to-linalg supports only static shapes, got "
           << xType;
  ArrayRef<int64_t> shape = xType.getShape(); // (B, L, H, d)
  int64_t heads = shape[2], headDim = shape[3], half = headDim / 2;
  int64_t ropeHeads =
      numRopeHeads ? static_cast<int64_t>(*numRopeHeads) : heads;
  if (ropeHeads == 0) {
    rewriter.replaceOp(op, input);
    return success();
  }

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op->getLoc();
  if (start.getType().isIndex())
    start = arith::IndexCastOp::create(b, loc, b.getI64Type(), start);
  Value inverseFrequency =
      ropeInverseFrequencies(b, loc, headDim, baseAttr.getValueAsDouble());
  Type elementType = xType.getElementType();

  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1, d2, d3, d4;
  bindDims(ctx, d0, d1, d2, d3, d4);
  AffineMap perPair = AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx);
  AffineMap perAngle = AffineMap::get(5, 0, {d1, d3}, ctx);

  Value y = buildRowTiledForall(
      b, loc, shape[0], shape[1], tiles, input,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile,
          ValueRange shared) {
        std::pair<Value, Value> angles =
            angleTable(tb, tloc, inverseFrequency, start, tile);
        Value cos = angles.first, sin = angles.second;
        // Even and odd elements of the rotated heads: stride-2 slices of the
        // shared output (which starts as x), so that it updates in place.
        auto pairSlice = [&](int64_t parity) -> Value {
          SmallVector<OpFoldResult> offsets = {
              tile.batchOffset, tile.tokenOffset, tb.getIndexAttr(0),
              tb.getIndexAttr(parity)};
          SmallVector<OpFoldResult> sizes = {tile.batchSize, tile.tokenSize,
                                             tb.getIndexAttr(ropeHeads),
                                             tb.getIndexAttr(half)};
          SmallVector<OpFoldResult> strides = {
              tb.getIndexAttr(1), tb.getIndexAttr(1), tb.getIndexAttr(1),
              tb.getIndexAttr(2)};
          return tensor::ExtractSliceOp::create(tb, tloc, shared[0], offsets,
                                                sizes, strides);
        };
        Value even = pairSlice(0), odd = pairSlice(1);
        SmallVector<OpFoldResult> pairSizes =
            tensor::getMixedSizes(tb, tloc, even);
        pairSizes.push_back(tb.getIndexAttr(2));
        Value init = tensor::EmptyOp::create(tb, tloc, pairSizes, elementType);
        Value rotated = elementwise(
            tb, tloc, ValueRange{even, odd, cos, sin},
            {perPair, perPair, perAngle, perAngle}, init,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value x0 = toF32(nb, nloc, args[0]);
              Value x1 = toF32(nb, nloc, args[1]);
              Value c = args[2], s = args[3];
              if (inverse)
                s = arith::NegFOp::create(nb, nloc, s);
              // (x0 + i x1) * (c + i s)
              Value re = arith::SubFOp::create(
                  nb, nloc, arith::MulFOp::create(nb, nloc, x0, c),
                  arith::MulFOp::create(nb, nloc, x1, s));
              Value im = arith::AddFOp::create(
                  nb, nloc, arith::MulFOp::create(nb, nloc, x0, s),
                  arith::MulFOp::create(nb, nloc, x1, c));
              Value component = linalg::IndexOp::create(nb, nloc, 4);
              Value isReal = arith::CmpIOp::create(
                  nb, nloc, arith::CmpIPredicate::eq, component,
                  arith::ConstantIndexOp::create(nb, nloc, 0));
              Value value = arith::SelectOp::create(nb, nloc, isReal, re, im);
              return SmallVector<Value>{fromF32(nb, nloc, value, elementType)};
            })[0];
        // (b, t, h, d/2, 2) -> (b, t, h, d)
        return SmallVector<Value>{tensor::CollapseShapeOp::create(
            tb, tloc, rotated,
            ArrayRef<ReassociationIndices>{{0}, {1}, {2}, {3, 4}})};
      })[0];
  rewriter.replaceOp(op, y);
  return success();
}

} // namespace mlir::gecko
