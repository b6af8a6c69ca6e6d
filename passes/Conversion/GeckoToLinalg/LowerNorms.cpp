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
// Backward (the *_grad ops): per tile the statistics are recomputed, the
// per-group sums of the chain rule (sum g, sum g*x_hat) are reductions over
// n and dx one elementwise generic. The parameter gradients are sums over
// batch and tokens: each tile writes its f32 partial sum (a reduction over
// its (p, q) rows) into its own slot of a per-tile partials tensor, summed
// in index order after the forall (TileReductions.h), so the result does not
// depend on the thread schedule.
//
//===----------------------------------------------------------------------===//

#include "TileReductions.h"
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

/// Row r of a (4, Z) z-split parameter as a (Z) tensor.
Value paramRow(OpBuilder &b, Location loc, Value param, int64_t r) {
  auto type = cast<RankedTensorType>(param.getType());
  int64_t zDim = type.getShape().back();
  auto rowType = RankedTensorType::get({zDim}, type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, rowType, param,
      ArrayRef<OpFoldResult>{b.getIndexAttr(r), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(zDim)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

/// z split (spec §3): per-head RMS norm of z (B, L, Z), then four rows
/// zn * (gamma_r + 1)/sqrt(dz) + beta_r.
SmallVector<Value> lowerZSplit(OpBuilder &b, Location loc, ZSplitOp op,
                               const GeckoTileSizes &tiles) {
  auto zType = cast<RankedTensorType>(op.getZ().getType());
  int64_t heads = static_cast<int64_t>(op.getNumHeads());
  double eps = op.getEpsAttr().getValueAsDouble();
  SmallVector<int64_t> view = groupView(zType.getShape(), heads);
  Value z = reshapeStatic(b, loc, op.getZ(), view);

  // Row r of a (4, Z) parameter as a (Z) tensor.
  auto row = [&](Value param, int64_t r) -> Value {
    return paramRow(b, loc, param, r);
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

Value mulF(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::MulFOp::create(b, loc, lhs, rhs);
}
Value subF(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::SubFOp::create(b, loc, lhs, rhs);
}

/// The (p, q, G, n) tile maps: the element, its group, its channel.
struct GroupMaps {
  AffineMap full, perGroup, perChannel;
};
GroupMaps groupMaps(MLIRContext *ctx) {
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  return {AffineMap::getMultiDimIdentityMap(4, ctx),
          AffineMap::get(4, 0, {d0, d1, d2}, ctx),
          AffineMap::get(4, 0, {d2, d3}, ctx)};
}

/// Sums the (nb, nt, G, n) partials of a (D) parameter gradient of type
/// `resultType`, in tile order, times `factor`.
Value reduceParamGrad(OpBuilder &b, Location loc, Value partials,
                      Type resultType, double factor = 1.0) {
  auto type = cast<RankedTensorType>(resultType);
  Value sum = reducePartials(b, loc, partials, type.getElementType(), factor);
  return reshapeStatic(b, loc, sum, type.getShape());
}

struct GroupNormGradSpec {
  Value x, weight, bias, dy;
  int64_t groups;
  double eps;
  bool centered;
};

/// Backward of the group RMS / layer norm (spec §3), per group of n:
/// g = (w+1)·dy, dx = r·(g − mean(g) [layer norm] − x̂·mean(g·x̂)),
/// dweight = Σ dy·x̂, dbias = Σ dy. Returns dx, then dweight / dbias when
/// the matching parameter is given.
SmallVector<Value> lowerGroupNormGrad(OpBuilder &b, Location loc,
                                      const GroupNormGradSpec &spec,
                                      TypeRange resultTypes,
                                      const GeckoTileSizes &tiles) {
  auto xType = cast<RankedTensorType>(spec.x.getType());
  SmallVector<int64_t> view = groupView(xType.getShape(), spec.groups);
  Value x = reshapeStatic(b, loc, spec.x, view);
  Value dy = reshapeStatic(b, loc, spec.dy, view);
  Value scale =
      spec.weight ? paramAsF32(b, loc, spec.weight, spec.groups, 1.0) : Value();
  Type dxType = cast<RankedTensorType>(resultTypes[0]).getElementType();
  Value init = tensor::EmptyOp::create(b, loc, view, dxType);
  unsigned numParams = (spec.weight ? 1 : 0) + (spec.bias ? 1 : 0);
  SmallVector<Value> partials;
  for (unsigned i = 0; i < numParams; ++i)
    partials.push_back(
        emptyPartials(b, loc, view[0], view[1], tiles, {view[2], view[3]}));
  GroupMaps gm = groupMaps(b.getContext());
  double inverseSize = 1.0 / static_cast<double>(view[3]);

  SmallVector<Value> results = buildRowTiledForallWithPartials(
      b, loc, view[0], view[1], tiles, init, partials,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value xTile = extractRowTile(tb, tloc, x, tile);
        Value dyTile = extractRowTile(tb, tloc, dy, tile);
        std::pair<Value, Value> stats =
            groupStatistics(tb, tloc, xTile, spec.centered, spec.eps);
        Value mean = stats.first, rstd = stats.second;
        SmallVector<Value> inputs = {xTile, dyTile, rstd};
        SmallVector<AffineMap> maps = {gm.full, gm.full, gm.perGroup};
        if (mean) {
          inputs.push_back(mean);
          maps.push_back(gm.perGroup);
        }
        if (scale) {
          inputs.push_back(scale);
          maps.push_back(gm.perChannel);
        }
        unsigned numCommon = inputs.size();
        // x̂ and g (f32) of one element from the common inputs.
        auto unpack = [&](OpBuilder &nb, Location nloc,
                          ValueRange args) -> std::pair<Value, Value> {
          unsigned next = 3;
          Value value = toF32(nb, nloc, args[0]);
          if (mean)
            value = subF(nb, nloc, value, args[next++]);
          Value xHat = mulF(nb, nloc, value, args[2]);
          Value g = toF32(nb, nloc, args[1]);
          if (scale)
            g = mulF(nb, nloc, g, args[next++]);
          return {xHat, g};
        };
        // Per group: Σ g·x̂ and (layer norm) Σ g.
        SmallVector<Value> sums =
            sumOver(tb, tloc, inputs, maps, {3}, mean ? 2 : 1,
                    [&](OpBuilder &nb, Location nloc, ValueRange args) {
                      auto [xHat, g] = unpack(nb, nloc, args);
                      SmallVector<Value> terms = {mulF(nb, nloc, g, xHat)};
                      if (mean)
                        terms.push_back(g);
                      return terms;
                    });
        SmallVector<Value> dxInputs(inputs);
        SmallVector<AffineMap> dxMaps(maps);
        dxInputs.append(sums.begin(), sums.end());
        dxMaps.append(sums.size(), gm.perGroup);
        Value out = emptyLike(tb, tloc, xTile, dxType);
        Value dx = elementwise(
            tb, tloc, dxInputs, dxMaps, out,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              auto [xHat, g] = unpack(nb, nloc, args);
              Value invN = f32Constant(nb, nloc, inverseSize);
              Value meanGX = mulF(nb, nloc, args[numCommon], invN);
              Value value = subF(nb, nloc, g, mulF(nb, nloc, xHat, meanGX));
              if (mean)
                value = subF(nb, nloc, value,
                             mulF(nb, nloc, args[numCommon + 1], invN));
              value = mulF(nb, nloc, value, args[2]);
              return SmallVector<Value>{fromF32(nb, nloc, value, dxType)};
            })[0];
        SmallVector<Value> tileResults = {dx};
        if (numParams == 0)
          return tileResults;
        // This tile's share of dweight / dbias: sums over its rows.
        SmallVector<Value> paramSums =
            sumOver(tb, tloc, inputs, maps, {0, 1}, numParams,
                    [&](OpBuilder &nb, Location nloc, ValueRange args) {
                      Value xHat = unpack(nb, nloc, args).first;
                      Value dyF32 = toF32(nb, nloc, args[1]);
                      SmallVector<Value> terms;
                      if (spec.weight)
                        terms.push_back(mulF(nb, nloc, dyF32, xHat));
                      if (spec.bias)
                        terms.push_back(dyF32);
                      return terms;
                    });
        tileResults.append(paramSums.begin(), paramSums.end());
        return tileResults;
      });

  SmallVector<Value> replacements = {
      reshapeStatic(b, loc, results[0], xType.getShape())};
  for (unsigned i = 0; i < numParams; ++i)
    replacements.push_back(
        reduceParamGrad(b, loc, results[1 + i], resultTypes[1 + i]));
  return replacements;
}

/// Backward of the z split (spec §3): dzn = Σ_r d_r·s_r, dz = the RMS-norm
/// backward of dzn (no affine), dgamma_r = Σ d_r·zn/√dz, dbeta_r = Σ d_r.
SmallVector<Value> lowerZSplitGrad(OpBuilder &b, Location loc, ZSplitGradOp op,
                                   const GeckoTileSizes &tiles) {
  auto zType = cast<RankedTensorType>(op.getZ().getType());
  int64_t heads = static_cast<int64_t>(op.getNumHeads());
  double eps = op.getEpsAttr().getValueAsDouble();
  SmallVector<int64_t> view = groupView(zType.getShape(), heads);
  Value z = reshapeStatic(b, loc, op.getZ(), view);
  SmallVector<Value> upstream;
  for (Value grad : {op.getDq(), op.getDk(), op.getDaq(), op.getDak()})
    upstream.push_back(reshapeStatic(b, loc, grad, view));
  double rootHeadDim = std::sqrt(static_cast<double>(view[3]));
  SmallVector<Value> scales;
  for (int64_t r = 0; r < 4; ++r)
    scales.push_back(paramAsF32(b, loc, paramRow(b, loc, op.getGamma(), r),
                                heads, 1.0, rootHeadDim));
  Type dzType = cast<RankedTensorType>(op.getDz().getType()).getElementType();
  Value init = tensor::EmptyOp::create(b, loc, view, dzType);
  // Partials of dgamma rows 0..3, then dbeta rows 0..3.
  SmallVector<Value> partials;
  for (int64_t i = 0; i < 8; ++i)
    partials.push_back(
        emptyPartials(b, loc, view[0], view[1], tiles, {view[2], view[3]}));
  GroupMaps gm = groupMaps(b.getContext());
  double inverseSize = 1.0 / static_cast<double>(view[3]);

  SmallVector<Value> results = buildRowTiledForallWithPartials(
      b, loc, view[0], view[1], tiles, init, partials,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value zTile = extractRowTile(tb, tloc, z, tile);
        Value rstd = groupStatistics(tb, tloc, zTile, false, eps).second;
        // z, d_0..d_3, r, s_0..s_3.
        SmallVector<Value> inputs = {zTile};
        for (Value grad : upstream)
          inputs.push_back(extractRowTile(tb, tloc, grad, tile));
        inputs.push_back(rstd);
        llvm::append_range(inputs, scales);
        SmallVector<AffineMap> maps(5, gm.full);
        maps.push_back(gm.perGroup);
        maps.append(4, gm.perChannel);
        unsigned numCommon = inputs.size();
        auto zHatOf = [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return mulF(nb, nloc, toF32(nb, nloc, args[0]), args[5]);
        };
        auto dznOf = [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value sum;
          for (int64_t r = 0; r < 4; ++r) {
            Value term =
                mulF(nb, nloc, toF32(nb, nloc, args[1 + r]), args[6 + r]);
            sum = sum ? arith::AddFOp::create(nb, nloc, sum, term) : term;
          }
          return sum;
        };
        Value sumGX = sumOver(
            tb, tloc, inputs, maps, {3}, 1,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              return SmallVector<Value>{mulF(nb, nloc, dznOf(nb, nloc, args),
                                             zHatOf(nb, nloc, args))};
            })[0];
        SmallVector<Value> dzInputs(inputs);
        dzInputs.push_back(sumGX);
        SmallVector<AffineMap> dzMaps(maps);
        dzMaps.push_back(gm.perGroup);
        Value out = emptyLike(tb, tloc, zTile, dzType);
        Value dz = elementwise(
            tb, tloc, dzInputs, dzMaps, out,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value meanGX = mulF(nb, nloc, args[numCommon],
                                  f32Constant(nb, nloc, inverseSize));
              Value value =
                  subF(nb, nloc, dznOf(nb, nloc, args),
                       mulF(nb, nloc, zHatOf(nb, nloc, args), meanGX));
              value = mulF(nb, nloc, value, args[5]);
              return SmallVector<Value>{fromF32(nb, nloc, value, dzType)};
            })[0];
        // This tile's share of Σ d_r·zn (scaled by 1/√dz after the sum) and
        // Σ d_r.
        SmallVector<Value> paramSums =
            sumOver(tb, tloc, inputs, maps, {0, 1}, 8,
                    [&](OpBuilder &nb, Location nloc, ValueRange args) {
                      Value zHat = zHatOf(nb, nloc, args);
                      SmallVector<Value> gammaTerms, betaTerms;
                      for (int64_t r = 0; r < 4; ++r) {
                        Value grad = toF32(nb, nloc, args[1 + r]);
                        gammaTerms.push_back(mulF(nb, nloc, grad, zHat));
                        betaTerms.push_back(grad);
                      }
                      llvm::append_range(gammaTerms, betaTerms);
                      return gammaTerms;
                    });
        SmallVector<Value> tileResults = {dz};
        llvm::append_range(tileResults, paramSums);
        return tileResults;
      });

  // (4, Z) parameter gradients from their four reduced rows.
  auto stackRows = [&](ArrayRef<Value> rowPartials, Type resultType,
                       double factor) -> Value {
    auto type = cast<RankedTensorType>(resultType);
    int64_t zDim = type.getShape()[1];
    auto rowType = RankedTensorType::get({zDim}, type.getElementType());
    Value stacked =
        tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
    for (auto [r, rowPartial] : llvm::enumerate(rowPartials)) {
      Value row = reduceParamGrad(b, loc, rowPartial, rowType, factor);
      stacked = tensor::InsertSliceOp::create(
          b, loc, row, stacked,
          ArrayRef<OpFoldResult>{b.getIndexAttr(r), b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(zDim)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    }
    return stacked;
  };
  ArrayRef<Value> all(results);
  return {
      reshapeStatic(b, loc, results[0], zType.getShape()),
      stackRows(all.slice(1, 4), op.getDgamma().getType(), 1.0 / rootHeadDim),
      stackRows(all.slice(5, 4), op.getDbeta().getType(), 1.0)};
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
  } else if (auto rmsGrad = dyn_cast<RmsNormGradOp>(op)) {
    GroupNormGradSpec spec{rmsGrad.getX(),
                           rmsGrad.getWeight(),
                           Value(),
                           rmsGrad.getDy(),
                           static_cast<int64_t>(rmsGrad.getNumGroups()),
                           rmsGrad.getEpsAttr().getValueAsDouble(),
                           /*centered=*/false};
    replacements =
        lowerGroupNormGrad(rewriter, loc, spec, op->getResultTypes(), tiles);
  } else if (auto lnGrad = dyn_cast<LayerNormGradOp>(op)) {
    GroupNormGradSpec spec{lnGrad.getX(),
                           lnGrad.getWeight(),
                           lnGrad.getBias(),
                           lnGrad.getDy(),
                           static_cast<int64_t>(lnGrad.getNumGroups()),
                           lnGrad.getEpsAttr().getValueAsDouble(),
                           /*centered=*/true};
    replacements =
        lowerGroupNormGrad(rewriter, loc, spec, op->getResultTypes(), tiles);
  } else if (auto splitGrad = dyn_cast<ZSplitGradOp>(op)) {
    replacements = lowerZSplitGrad(rewriter, loc, splitGrad, tiles);
  } else {
    return op->emitOpError() << "is not a group norm op";
  }
  rewriter.replaceOp(op, replacements);
  return success();
}

} // namespace mlir::gecko
