//===- LowerNorms.cpp - Group RMS/layer norm and z split to linalg --------===//
//
// spec §3. Every norm works on groups of consecutive channels of the last
// dimension, so x is viewed as (P, Q, G, n): P, Q the two row dimensions the
// scf.forall tiles (batch, tokens; leading size-1 dimensions added for rank
// < 3, middle dimensions folded into Q for rank > 3), G groups of n channels.
// Per tile, the group statistics are linalg.generic reductions over n into
// f32 accumulators; one elementwise generic then normalises and applies the
// affine. The applied scales weight + 1 and (gamma + 1)/sqrt(dz) are rounded
// to the parameter type, as the reference computes them in that type.
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

namespace mlir::gecko {

namespace {

/// The (P, Q, G, n) view of a statically shaped x with G groups.
SmallVector<int64_t> groupView(ArrayRef<int64_t> shape, int64_t groups) {
  int64_t features = shape.back();
  int64_t rows = 1, tokens = 1;
  if (shape.size() == 2)
    tokens = shape[0];
  if (shape.size() >= 3) {
    rows = shape[0];
    for (int64_t dim : shape.drop_front().drop_back())
      tokens *= dim;
  }
  return {rows, tokens, groups, features / groups};
}

/// A (D) parameter as an f32 (G, n) tensor, `offset` added in the
/// parameter's own type (1 for norm scales, 0 for biases).
Value paramAsF32(OpBuilder &b, Location loc, Value param, int64_t groups,
                 double offset, double divisor = 1.0) {
  auto type = cast<RankedTensorType>(param.getType());
  Type elementType = type.getElementType();
  int64_t features = type.getShape().back();
  Value grouped = reshapeStatic(b, loc, param, {groups, features / groups});
  Value init = emptyLike(b, loc, grouped, b.getF32Type());
  AffineMap identity = b.getMultiDimIdentityMap(2);
  return elementwise(
      b, loc, grouped, identity, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value = toF32(nb, nloc, args[0]);
        if (offset != 0.0)
          value = fromF32(nb, nloc,
                          arith::AddFOp::create(nb, nloc, value,
                                                f32Constant(nb, nloc, offset)),
                          elementType);
        if (divisor != 1.0)
          value =
              fromF32(nb, nloc,
                      arith::DivFOp::create(nb, nloc, toF32(nb, nloc, value),
                                            f32Constant(nb, nloc, divisor)),
                      elementType);
        return SmallVector<Value>{toF32(nb, nloc, value)};
      })[0];
}

/// Elementwise f32 map over a rank-3 statistics tensor.
Value mapStats(OpBuilder &b, Location loc, Value stats,
               function_ref<Value(OpBuilder &, Location, Value)> fn) {
  Value init = emptyLike(b, loc, stats, b.getF32Type());
  return elementwise(b, loc, stats, b.getMultiDimIdentityMap(3), init,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{fn(nb, nloc, args[0])};
                     })[0];
}

/// Per-group mean (layer norm only) and reciprocal standard deviation
/// (1/sqrt(mean((x - mean)^2) + eps)) of a (p, q, G, n) tile, both f32
/// (p, q, G).
std::pair<Value, Value> groupStatistics(OpBuilder &b, Location loc, Value tile,
                                        bool centered, double eps) {
  int64_t groupSize = cast<RankedTensorType>(tile.getType()).getShape()[3];
  double inverseSize = 1.0 / static_cast<double>(groupSize);
  Value mean;
  if (centered) {
    Value sum = sumLastDim(
        b, loc, tile, {},
        [](OpBuilder &, Location, Value x, ValueRange) { return x; });
    mean = mapStats(b, loc, sum, [&](OpBuilder &nb, Location nloc, Value s) {
      return arith::MulFOp::create(nb, nloc, s,
                                   f32Constant(nb, nloc, inverseSize));
    });
  }
  SmallVector<Value> perRow;
  if (mean)
    perRow.push_back(mean);
  Value squares = sumLastDim(
      b, loc, tile, perRow,
      [&](OpBuilder &nb, Location nloc, Value x, ValueRange row) -> Value {
        Value centeredX =
            row.empty() ? x : arith::SubFOp::create(nb, nloc, x, row[0]);
        return arith::MulFOp::create(nb, nloc, centeredX, centeredX);
      });
  Value rstd =
      mapStats(b, loc, squares, [&](OpBuilder &nb, Location nloc, Value sq) {
        Value variance = arith::MulFOp::create(
            nb, nloc, sq, f32Constant(nb, nloc, inverseSize));
        Value shifted = arith::AddFOp::create(nb, nloc, variance,
                                              f32Constant(nb, nloc, eps));
        return math::RsqrtOp::create(nb, nloc, shifted);
      });
  return {mean, rstd};
}

struct GroupNormSpec {
  Value x, weight, bias;
  int64_t groups;
  double eps;
  bool centered;
};

Value lowerGroupNorm(OpBuilder &b, Location loc, const GroupNormSpec &spec,
                     RankedTensorType resultType, const GeckoTileSizes &tiles) {
  auto xType = cast<RankedTensorType>(spec.x.getType());
  SmallVector<int64_t> view = groupView(xType.getShape(), spec.groups);
  Value x = reshapeStatic(b, loc, spec.x, view);
  Value scale =
      spec.weight ? paramAsF32(b, loc, spec.weight, spec.groups, 1.0) : Value();
  Value bias =
      spec.bias ? paramAsF32(b, loc, spec.bias, spec.groups, 0.0) : Value();
  Type elementType = resultType.getElementType();
  Value init = tensor::EmptyOp::create(b, loc, view, elementType);

  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  AffineMap full = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap perGroup = AffineMap::get(4, 0, {d0, d1, d2}, ctx);
  AffineMap perChannel = AffineMap::get(4, 0, {d2, d3}, ctx);

  Value y = buildRowTiledForall(
      b, loc, view[0], view[1], tiles, init,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value xTile = extractRowTile(tb, tloc, x, tile);
        auto stats = groupStatistics(tb, tloc, xTile, spec.centered, spec.eps);
        Value mean = stats.first, rstd = stats.second;
        SmallVector<Value> inputs = {xTile, rstd};
        SmallVector<AffineMap> maps = {full, perGroup};
        if (mean) {
          inputs.push_back(mean);
          maps.push_back(perGroup);
        }
        if (scale) {
          inputs.push_back(scale);
          maps.push_back(perChannel);
        }
        if (bias) {
          inputs.push_back(bias);
          maps.push_back(perChannel);
        }
        Value out = emptyLike(tb, tloc, xTile, elementType);
        return elementwise(
            tb, tloc, inputs, maps, out,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              unsigned next = 2;
              Value value = toF32(nb, nloc, args[0]);
              if (mean)
                value = arith::SubFOp::create(nb, nloc, value, args[next++]);
              value = arith::MulFOp::create(nb, nloc, value, args[1]);
              if (scale)
                value = arith::MulFOp::create(nb, nloc, value, args[next++]);
              if (bias)
                value = arith::AddFOp::create(nb, nloc, value, args[next++]);
              return SmallVector<Value>{fromF32(nb, nloc, value, elementType)};
            });
      })[0];
  return reshapeStatic(b, loc, y, resultType.getShape());
}

/// z split (spec §3): per-head RMS norm of z (B, L, Z), then four rows
/// zn * (gamma_r + 1)/sqrt(dz) + beta_r.
SmallVector<Value> lowerZSplit(OpBuilder &b, Location loc, ZSplitOp op,
                               const GeckoTileSizes &tiles) {
  auto zType = cast<RankedTensorType>(op.getZ().getType());
  int64_t heads = static_cast<int64_t>(op.getNumHeads());
  double eps = op.getEpsAttr().getValueAsDouble();
  SmallVector<int64_t> view = groupView(zType.getShape(), heads);
  int64_t zDim = zType.getShape().back();
  Value z = reshapeStatic(b, loc, op.getZ(), view);

  // Row r of a (4, Z) parameter as a (Z) tensor.
  auto row = [&](Value param, int64_t r) -> Value {
    auto type = cast<RankedTensorType>(param.getType());
    auto rowType = RankedTensorType::get({zDim}, type.getElementType());
    return tensor::ExtractSliceOp::create(
        b, loc, rowType, param,
        ArrayRef<OpFoldResult>{b.getIndexAttr(r), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(zDim)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  };
  double rootHeadDim = std::sqrt(static_cast<double>(view[3]));
  SmallVector<Value> scales, shifts;
  for (int64_t r = 0; r < 4; ++r) {
    scales.push_back(
        paramAsF32(b, loc, row(op.getGamma(), r), heads, 1.0, rootHeadDim));
    shifts.push_back(paramAsF32(b, loc, row(op.getBeta(), r), heads, 0.0));
  }

  SmallVector<Value> inits;
  for (Value result : op->getResults()) {
    Type elementType =
        cast<RankedTensorType>(result.getType()).getElementType();
    inits.push_back(tensor::EmptyOp::create(b, loc, view, elementType));
  }

  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  AffineMap full = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap perHead = AffineMap::get(4, 0, {d0, d1, d2}, ctx);
  AffineMap perChannel = AffineMap::get(4, 0, {d2, d3}, ctx);

  SmallVector<Value> splits = buildRowTiledForall(
      b, loc, view[0], view[1], tiles, inits,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value zTile = extractRowTile(tb, tloc, z, tile);
        Value rstd = groupStatistics(tb, tloc, zTile, false, eps).second;
        SmallVector<Value> inputs = {zTile, rstd};
        llvm::append_range(inputs, scales);
        llvm::append_range(inputs, shifts);
        SmallVector<AffineMap> maps = {full, perHead};
        maps.append(8, perChannel);
        SmallVector<Value> outs;
        for (Value init : inits)
          outs.push_back(emptyLike(
              tb, tloc, zTile,
              cast<RankedTensorType>(init.getType()).getElementType()));
        return elementwise(
            tb, tloc, inputs, maps, outs,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value normed = arith::MulFOp::create(
                  nb, nloc, toF32(nb, nloc, args[0]), args[1]);
              SmallVector<Value> rows;
              for (int64_t r = 0; r < 4; ++r) {
                Value scaled =
                    arith::MulFOp::create(nb, nloc, normed, args[2 + r]);
                Value shifted =
                    arith::AddFOp::create(nb, nloc, scaled, args[6 + r]);
                rows.push_back(
                    fromF32(nb, nloc, shifted, args[10 + r].getType()));
              }
              return rows;
            });
      });
  for (Value &split : splits)
    split = reshapeStatic(b, loc, split, zType.getShape());
  return splits;
}

LogicalResult requireStatic(Operation *op) {
  for (Type type : op->getOperandTypes())
    if (auto shaped = dyn_cast<RankedTensorType>(type);
        shaped && !shaped.hasStaticShape())
      return op->emitOpError()
             << "gecko-convert-to-linalg supports only static shapes, got "
             << type;
  return success();
}

} // namespace

LogicalResult lowerGroupNormOp(RewriterBase &rewriter, Operation *op,
                               const GeckoTileSizes &tiles) {
  if (failed(requireStatic(op)))
    return failure();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  SmallVector<Value> replacements;
  if (auto rms = dyn_cast<RmsNormOp>(op)) {
    GroupNormSpec spec{rms.getX(),
                       rms.getWeight(),
                       Value(),
                       static_cast<int64_t>(rms.getNumGroups()),
                       rms.getEpsAttr().getValueAsDouble(),
                       /*centered=*/false};
    replacements.push_back(lowerGroupNorm(
        rewriter, loc, spec, cast<RankedTensorType>(rms.getType()), tiles));
  } else if (auto ln = dyn_cast<LayerNormOp>(op)) {
    GroupNormSpec spec{ln.getX(),
                       ln.getWeight(),
                       ln.getBias(),
                       static_cast<int64_t>(ln.getNumGroups()),
                       ln.getEpsAttr().getValueAsDouble(),
                       /*centered=*/true};
    replacements.push_back(lowerGroupNorm(
        rewriter, loc, spec, cast<RankedTensorType>(ln.getType()), tiles));
  } else if (auto split = dyn_cast<ZSplitOp>(op)) {
    replacements = lowerZSplit(rewriter, loc, split, tiles);
  } else {
    return op->emitOpError() << "is not a group norm op";
  }
  rewriter.replaceOp(op, replacements);
  return success();
}

} // namespace mlir::gecko
