//===- LowerTimestepNorm.cpp - Timestep decay norm to a chunked scan ------===//
//
// spec §1. The running statistics of one (batch, group) are an associative
// scan of affine maps (m -> a m + (1 - β) gm, a = β or 0 at a bos, identity
// at a pad). They are lowered as a chunked scan, never one sequential loop
// over the whole sequence:
//
//  (A) scf.forall over (batch tile, time chunk of C tokens): per-token group
//      moments gm, gv (f32 reductions over the Dg channels), then the
//      chunk-local scan as dense linalg ops. With n_t the number of active
//      (non-pad) steps in the chunk up to t and r_t the last effective bos
//      at or before t (-1 if none), the local scan is the lower-triangular
//      decay matrix W[t, s] = [r_t <= s <= t, s active] (1-β) β^(n_t - n_s)
//      times gm: one linalg.batch_matmul per statistic. The same W summed
//      over s is the local part of the bias correction 1 - β^count (the
//      EMA of the constant 1), so m̂ = m / corr is exact at count = 1.
//  (B) a short sequential carry over the K = ceil(L / C) chunks (scf.for
//      inside an scf.forall over batch tiles): state entering chunk k+1 =
//      local end of chunk k + D_end · state entering chunk k, with the decay
//      D_t = [r_t < 0] β^(n_t); the state after the last chunk is the op's
//      new (count, mean, var).
//  (C) a parallel fix-up over (batch tile, chunk): m_t = mL_t + D1_t m_in,
//      likewise v and corr, then y = (x - m̂) r (w + 1) + b (0 at pads).
//
// The backward (gecko.timestep_norm_grad) recomputes (A) and (B), then runs
// the reverse recurrence of §1 with the same structure: per chunk the
// direct gradients e1 = -r Sb / corr1, e2 = -r³ Ss / (2 corr2) go through
// the transposed decay matrices (batch_matmul) to the local carries, a
// reverse sequential pass over chunks carries U, V between chunks (its end
// is the gradient of the input mean / var), and a parallel pass forms dx.
// dweight / dbias are per-(batch, chunk) partial sums reduced at the end.
//
// All arithmetic is f32 (bf16/f16 inputs are extended); β^k is evaluated as
// exp(k ln β) with ln β and 1 - β computed in double, and the bias
// correction of the carried-in count in f64. ±inf inputs are skipped in the
// statistics as the reference kernel does; they get no gradient.
//
//===----------------------------------------------------------------------===//

#include "TimestepNormScan.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>
#include <limits>

namespace mlir::gecko {

// Internal to the timestep-norm lowerings (TimestepNormScan.h exports a few
// phases to the fused lowering).
namespace tsn {

using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Geometry and small helpers
//===----------------------------------------------------------------------===//

AffineMap projection(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

SmallVector<IteratorType> iterators(unsigned rank,
                                    ArrayRef<unsigned> reductions = {}) {
  SmallVector<IteratorType> types(rank, IteratorType::parallel);
  for (unsigned d : reductions)
    types[d] = IteratorType::reduction;
  return types;
}

/// min(tile, extent - offset) as an OpFoldResult (static when it divides).
OpFoldResult clampedSize(OpBuilder &b, Location loc, Value offset, int64_t tile,
                         int64_t extent) {
  if (extent % tile == 0)
    return b.getIndexAttr(tile);
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {b.getAffineConstantExpr(tile), extent - d0}, b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset});
}

int64_t staticOr(OpFoldResult size) {
  std::optional<int64_t> value = getConstantIntValue(size);
  return value ? *value : ShapedType::kDynamic;
}

/// Slice of `source` (B, X, T...) at rows [b0, b0 + bs) and index `at` of
/// dimension 1, that dimension dropped: (bs, T...).
Value sliceDropDim1(OpBuilder &b, Location loc, Value source, OpFoldResult b0,
                    OpFoldResult bs, OpFoldResult at) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> offsets = {b0, at}, sizes = {bs, b.getIndexAttr(1)};
  SmallVector<int64_t> shape = {staticOr(bs)};
  for (int64_t d = 2; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
    shape.push_back(type.getDimSize(d));
  }
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, source, offsets,
                                        sizes, strides);
}

/// Slice of `source` (B, X, T...) at rows [b0, b0 + bs), [x0, x0 + xs).
Value sliceRows(OpBuilder &b, Location loc, Value source, OpFoldResult b0,
                OpFoldResult bs, OpFoldResult x0, OpFoldResult xs) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> offsets = {b0, x0}, sizes = {bs, xs};
  for (int64_t d = 2; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                        strides);
}

/// Inserts `source` (rank r - 1, the dimension 1 dropped) into `dest` (rank
/// r) at [0, at, 0...].
Value insertDropDim1(OpBuilder &b, Location loc, Value source, Value dest,
                     OpFoldResult at) {
  auto type = cast<RankedTensorType>(dest.getType());
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), at};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, source, 0),
                                     b.getIndexAttr(1)};
  for (int64_t d = 2; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, source, dest, offsets, sizes,
                                       strides);
}

Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             Type type, Value value) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, type);
  return linalg::FillOp::create(b, loc, value, init).getResult(0);
}

Value zerosF32(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  return filled(b, loc, sizes, b.getF32Type(), f32Constant(b, loc, 0.0));
}

SmallVector<OpFoldResult> mixedSizes(OpBuilder &b, Location loc, Value v) {
  return tensor::getMixedSizes(b, loc, v);
}

/// A generic with the given iteration space; returns its results.
SmallVector<Value> generic(
    OpBuilder &b, Location loc, ValueRange inputs, ValueRange outputs,
    ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iters,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body) {
  auto op = linalg::GenericOp::create(
      b, loc, outputs.getTypes(), inputs, outputs, maps, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return llvm::to_vector_of<Value>(op.getResults());
}

Value indexAsF32(OpBuilder &b, Location loc, unsigned dim) {
  Value index = linalg::IndexOp::create(b, loc, dim);
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
  return arith::SIToFPOp::create(b, loc, b.getF32Type(), i64);
}

Value select(OpBuilder &b, Location loc, Value cond, Value t, Value f) {
  return arith::SelectOp::create(b, loc, cond, t, f);
}

Value add(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
Value sub(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}
Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}
Value cmp(OpBuilder &b, Location loc, arith::CmpFPredicate p, Value x,
          Value y) {
  return arith::CmpFOp::create(b, loc, p, x, y);
}

/// x is not ±inf (NaN counts as finite, as std::isinf does).
Value notInf(OpBuilder &b, Location loc, Value x) {
  Value magnitude = math::AbsFOp::create(b, loc, x);
  return cmp(b, loc, arith::CmpFPredicate::UNE, magnitude,
             f32Constant(b, loc, std::numeric_limits<double>::infinity()));
}

/// β^k = exp(k ln β) for an f32 k (ln β from double).
Value decayPow(OpBuilder &b, Location loc, Value k, double beta) {
  return math::ExpOp::create(
      b, loc, mul(b, loc, k, f32Constant(b, loc, std::log(beta))));
}

/// D_t = [r_t < 0] β^(n_t): the decay of the state entering the chunk.
Value entryDecay(OpBuilder &b, Location loc, Value n, Value r, double beta) {
  Value keep =
      cmp(b, loc, arith::CmpFPredicate::OLT, r, f32Constant(b, loc, 0.0));
  return select(b, loc, keep, decayPow(b, loc, n, beta),
                f32Constant(b, loc, 0.0));
}

/// (D) parameter + `offset` as f32 (G, n), the sum rounded to the parameter
/// type (as the reference forms weight + 1 in that type).
Value paramGrouped(OpBuilder &b, Location loc, Value param, const Geometry &geo,
                   double offset) {
  Type elementType = cast<RankedTensorType>(param.getType()).getElementType();
  Value grouped = reshapeStatic(b, loc, param, {geo.groups, geo.groupSize});
  Value init = emptyLike(b, loc, grouped, b.getF32Type());
  return elementwise(
      b, loc, grouped, b.getMultiDimIdentityMap(2), init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = toF32(nb, nloc, args[0]);
        if (offset != 0.0)
          v = toF32(nb, nloc,
                    fromF32(nb, nloc,
                            add(nb, nloc, v, f32Constant(nb, nloc, offset)),
                            elementType));
        return SmallVector<Value>{v};
      })[0];
}

/// A (B, L) i1 mask, or an all-false one when absent.
Value maskOrFalse(OpBuilder &b, Location loc, Value mask, const Geometry &geo) {
  if (mask)
    return mask;
  Value f = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
  return filled(b, loc, {b.getIndexAttr(geo.batch), b.getIndexAttr(geo.length)},
                b.getI1Type(), f);
}

/// Any-rank tensor converted elementwise to f32.
Value tensorToF32(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType().isF32())
    return value;
  Value init = emptyLike(b, loc, value, b.getF32Type());
  return elementwise(b, loc, value, b.getMultiDimIdentityMap(type.getRank()),
                     init, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{toF32(nb, nloc, args[0])};
                     })[0];
}

/// f32 tensor rounded elementwise to `elementType`.
Value tensorFromF32(OpBuilder &b, Location loc, Value value, Type elementType) {
  if (elementType.isF32())
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  Value init = emptyLike(b, loc, value, elementType);
  return elementwise(b, loc, value, b.getMultiDimIdentityMap(type.getRank()),
                     init, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{
                           fromF32(nb, nloc, args[0], elementType)};
                     })[0];
}

//===----------------------------------------------------------------------===//
// Foralls
//===----------------------------------------------------------------------===//

using ChunkBodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, const ChunkTile &)>;

/// scf.forall over (batch tiles, chunks); result i is written per `slots[i]`
/// into the shared output i.
SmallVector<Value> buildChunkForall(OpBuilder &b, Location loc,
                                    const Geometry &geo, ValueRange outputs,
                                    ArrayRef<Slot> slots, ChunkBodyFn body) {
  SmallVector<OpFoldResult> lbs = {b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ubs = {b.getIndexAttr(geo.batch),
                                   b.getIndexAttr(geo.chunks)};
  SmallVector<OpFoldResult> steps = {b.getIndexAttr(geo.batchTile),
                                     b.getIndexAttr(1)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  ChunkTile tile;
  tile.batchOffset = ivs[0];
  tile.chunk = ivs[1];
  tile.batchSize = clampedSize(b, loc, ivs[0], geo.batchTile, geo.batch);
  AffineExpr d0 = b.getAffineDimExpr(0);
  tile.tokenOffset =
      affine::makeComposedFoldedAffineApply(b, loc, d0 * geo.chunk, {ivs[1]});
  if (geo.length % geo.chunk == 0) {
    tile.tokenSize = b.getIndexAttr(geo.chunk);
  } else {
    AffineMap map = AffineMap::get(
        1, 0, {b.getAffineConstantExpr(geo.chunk), geo.length - d0 * geo.chunk},
        b.getContext());
    tile.tokenSize = affine::makeComposedFoldedAffineMin(b, loc, map, {ivs[1]});
  }
  SmallVector<Value> results = body(b, loc, tile);

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [result, shared, slot] :
       llvm::zip_equal(results, forall.getRegionIterArgs(), slots)) {
    auto type = cast<RankedTensorType>(shared.getType());
    SmallVector<OpFoldResult> offsets = {tile.batchOffset};
    SmallVector<OpFoldResult> sizes = {tile.batchSize};
    if (slot == Slot::Token) {
      offsets.push_back(tile.tokenOffset);
      sizes.push_back(tile.tokenSize);
    } else {
      offsets.push_back(tile.chunk);
      sizes.push_back(b.getIndexAttr(1));
    }
    for (int64_t dim = 2; dim < type.getRank(); ++dim) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(type.getDimSize(dim)));
    }
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

/// One batch tile of a sequential carry pass.
struct BatchTile {
  Value offset;
  OpFoldResult size;
};
using BatchBodyFn = function_ref<SmallVector<Value>(
    OpBuilder &, Location, const BatchTile &, ValueRange sharedTiles)>;

/// scf.forall over batch tiles; the body gets the tile's slices (rows
/// [b0, b0 + bs), everything else) of the shared outputs and returns the
/// new slices.
SmallVector<Value> buildBatchForall(OpBuilder &b, Location loc,
                                    const Geometry &geo, ValueRange outputs,
                                    BatchBodyFn body) {
  SmallVector<OpFoldResult> lbs = {b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ubs = {b.getIndexAttr(geo.batch)};
  SmallVector<OpFoldResult> steps = {b.getIndexAttr(geo.batchTile)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  BatchTile tile;
  tile.offset = forall.getInductionVars()[0];
  tile.size = clampedSize(b, loc, tile.offset, geo.batchTile, geo.batch);
  auto rowSlice = [&](Value shared) {
    auto type = cast<RankedTensorType>(shared.getType());
    SmallVector<OpFoldResult> offsets = {tile.offset}, sizes = {tile.size};
    for (int64_t dim = 1; dim < type.getRank(); ++dim) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(type.getDimSize(dim)));
    }
    return std::make_pair(offsets, sizes);
  };
  SmallVector<Value> tiles;
  for (Value shared : forall.getRegionIterArgs()) {
    auto [offsets, sizes] = rowSlice(shared);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    tiles.push_back(tensor::ExtractSliceOp::create(b, loc, shared, offsets,
                                                   sizes, strides));
  }
  SmallVector<Value> results = body(b, loc, tile, tiles);
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [result, shared] :
       llvm::zip_equal(results, forall.getRegionIterArgs())) {
    auto [offsets, sizes] = rowSlice(shared);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

/// The last token index of chunk k: min((k + 1) C, L) - 1.
OpFoldResult chunkEnd(OpBuilder &b, Location loc, const Geometry &geo,
                      Value k) {
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {(d0 + 1) * geo.chunk - 1, b.getAffineConstantExpr(geo.length - 1)},
      b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {k});
}

//===----------------------------------------------------------------------===//
// Shared pieces of the forward
//===----------------------------------------------------------------------===//

/// Per-token group statistics of a (bt, c, G, n) tile: gm and either gv or
/// the sum of the finite deviations (x - gm) (for the backward), both f32
/// (bt, c, G). ±inf lanes are skipped, the divisor stays n.
std::pair<Value, Value> groupMoments(OpBuilder &b, Location loc, Value xTile,
                                     const Geometry &geo, bool squares) {
  double inverse = 1.0 / static_cast<double>(geo.groupSize);
  Value sum = sumLastDim(b, loc, xTile, {},
                         [](OpBuilder &nb, Location nloc, Value x, ValueRange) {
                           return select(nb, nloc, notInf(nb, nloc, x), x,
                                         f32Constant(nb, nloc, 0.0));
                         });
  MLIRContext *ctx = b.getContext();
  AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  Value gm =
      elementwise(b, loc, sum, id3, emptyLike(b, loc, sum, b.getF32Type()),
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    return SmallVector<Value>{
                        mul(nb, nloc, args[0], f32Constant(nb, nloc, inverse))};
                  })[0];
  Value second = sumLastDim(
      b, loc, xTile, gm,
      [&](OpBuilder &nb, Location nloc, Value x, ValueRange row) -> Value {
        Value dev = sub(nb, nloc, x, row[0]);
        Value term = squares ? mul(nb, nloc, dev, dev) : dev;
        return select(nb, nloc, notInf(nb, nloc, x), term,
                      f32Constant(nb, nloc, 0.0));
      });
  if (squares)
    second = elementwise(
        b, loc, second, id3, emptyLike(b, loc, second, b.getF32Type()),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return SmallVector<Value>{
              mul(nb, nloc, args[0], f32Constant(nb, nloc, inverse))};
        })[0];
  return {gm, second};
}

/// n_t (active steps in the chunk up to t) and r_t (last effective bos at or
/// before t, -1 if none) of a (bt, c) tile, both f32 (bt, c).
std::pair<Value, Value> scanIndices(OpBuilder &b, Location loc, Value padTile,
                                    Value bosTile) {
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> sizes = mixedSizes(b, loc, padTile);
  Value n = zerosF32(b, loc, sizes);
  Value r = filled(b, loc, sizes, b.getF32Type(), f32Constant(b, loc, -1.0));
  AffineMap perS = projection(ctx, 3, {0, 2}),
            perT = projection(ctx, 3, {0, 1});
  SmallVector<Value> results = generic(
      b, loc, {padTile, bosTile}, {n, r}, {perS, perS, perT, perT},
      iterators(3, {2}), [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value t = linalg::IndexOp::create(nb, nloc, 1);
        Value s = linalg::IndexOp::create(nb, nloc, 2);
        Value upTo =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, s, t);
        Value active = arith::XOrIOp::create(
            nb, nloc, args[0],
            arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true)));
        Value counted = arith::AndIOp::create(nb, nloc, upTo, active);
        Value nNext = add(nb, nloc, args[2],
                          select(nb, nloc, counted, f32Constant(nb, nloc, 1.0),
                                 f32Constant(nb, nloc, 0.0)));
        Value reset = arith::AndIOp::create(nb, nloc, counted, args[1]);
        Value sF = indexAsF32(nb, nloc, 2);
        Value rNext =
            select(nb, nloc, reset,
                   arith::MaximumFOp::create(nb, nloc, args[3], sF), args[3]);
        return SmallVector<Value>{nNext, rNext};
      });
  return {results[0], results[1]};
}

/// The decay matrices of a chunk for (β1, β2), (bt, c, c) f32:
/// W[i, j] = [r_i <= j <= i, j active] gain β^(n_i - n_j), written at [i, j]
/// or, `transposed`, at [j, i].
std::pair<Value, Value> decayMatrices(OpBuilder &b, Location loc, Value n,
                                      Value r, Value padTile,
                                      const Geometry &geo, bool transposed,
                                      bool withGain) {
  MLIRContext *ctx = b.getContext();
  OpFoldResult bs = tensor::getMixedSize(b, loc, n, 0);
  OpFoldResult c = tensor::getMixedSize(b, loc, n, 1);
  Value init = tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{bs, c, c},
                                       b.getF32Type());
  AffineMap perI = projection(ctx, 3, {0, 1}),
            perJ = projection(ctx, 3, {0, 2});
  AffineMap out = transposed ? projection(ctx, 3, {0, 2, 1})
                             : AffineMap::getMultiDimIdentityMap(3, ctx);
  double gain1 = withGain ? 1.0 - geo.beta1 : 1.0;
  double gain2 = withGain ? 1.0 - geo.beta2 : 1.0;
  SmallVector<Value> w = generic(
      b, loc, {n, n, r, padTile}, {init, init},
      {perI, perJ, perI, perJ, out, out}, iterators(3),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value i = linalg::IndexOp::create(nb, nloc, 1);
        Value j = linalg::IndexOp::create(nb, nloc, 2);
        Value jF = indexAsF32(nb, nloc, 2);
        Value valid = arith::AndIOp::create(
            nb, nloc,
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, j, i),
            cmp(nb, nloc, arith::CmpFPredicate::OGE, jF, args[2]));
        Value active = arith::XOrIOp::create(
            nb, nloc, args[3],
            arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true)));
        valid = arith::AndIOp::create(nb, nloc, valid, active);
        Value steps = sub(nb, nloc, args[0], args[1]);
        Value zero = f32Constant(nb, nloc, 0.0);
        Value w1 = mul(nb, nloc, f32Constant(nb, nloc, gain1),
                       decayPow(nb, nloc, steps, geo.beta1));
        Value w2 = mul(nb, nloc, f32Constant(nb, nloc, gain2),
                       decayPow(nb, nloc, steps, geo.beta2));
        return SmallVector<Value>{select(nb, nloc, valid, w1, zero),
                                  select(nb, nloc, valid, w2, zero)};
      });
  return {w[0], w[1]};
}

Value batchMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, lhs, 0),
                                     tensor::getMixedSize(b, loc, lhs, 1),
                                     tensor::getMixedSize(b, loc, rhs, 2)};
  Value acc = zerosF32(b, loc, sizes);
  return linalg::BatchMatmulOp::create(b, loc, TypeRange{acc.getType()},
                                       ValueRange{lhs, rhs}, ValueRange{acc})
      .getResult(0);
}

LocalScan localScan(OpBuilder &b, Location loc, const Inputs &in,
                    const Geometry &geo) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto bl = [&](int64_t trailing) {
    SmallVector<int64_t> shape = {geo.batch, geo.length};
    if (trailing)
      shape.push_back(trailing);
    return tensor::EmptyOp::create(b, loc, shape, f32).getResult();
  };
  SmallVector<Value> outs = {bl(geo.groups), bl(geo.groups), bl(0), bl(0),
                             bl(0),          bl(0),          bl(0)};
  SmallVector<Slot> slots(outs.size(), Slot::Token);
  SmallVector<Value> r = buildChunkForall(
      b, loc, geo, outs, slots,
      [&](OpBuilder &tb, Location tloc, const ChunkTile &tile) {
        Value xTile =
            sliceRows(tb, tloc, in.x4, tile.batchOffset, tile.batchSize,
                      tile.tokenOffset, tile.tokenSize);
        Value padTile =
            sliceRows(tb, tloc, in.pad, tile.batchOffset, tile.batchSize,
                      tile.tokenOffset, tile.tokenSize);
        Value bosTile =
            sliceRows(tb, tloc, in.bos, tile.batchOffset, tile.batchSize,
                      tile.tokenOffset, tile.tokenSize);
        auto [gm, gv] = groupMoments(tb, tloc, xTile, geo, /*squares=*/true);
        auto [n, last] = scanIndices(tb, tloc, padTile, bosTile);
        // Active steps since the last reset (count of a chunk-local restart).
        Value since = zerosF32(tb, tloc, mixedSizes(tb, tloc, n));
        AffineMap perT = projection(ctx, 3, {0, 1}),
                  perS = projection(ctx, 3, {0, 2});
        since = generic(
            tb, tloc, {padTile, last}, since, {perS, perT, perT},
            iterators(3, {2}),
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value t = linalg::IndexOp::create(nb, nloc, 1);
              Value s = linalg::IndexOp::create(nb, nloc, 2);
              Value inside = arith::AndIOp::create(
                  nb, nloc,
                  arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, s,
                                        t),
                  cmp(nb, nloc, arith::CmpFPredicate::OGE,
                      indexAsF32(nb, nloc, 2), args[1]));
              Value active = arith::XOrIOp::create(
                  nb, nloc, args[0],
                  arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true)));
              inside = arith::AndIOp::create(nb, nloc, inside, active);
              return SmallVector<Value>{
                  add(nb, nloc, args[2],
                      select(nb, nloc, inside, f32Constant(nb, nloc, 1.0),
                             f32Constant(nb, nloc, 0.0)))};
            })[0];
        auto [w1, w2] = decayMatrices(tb, tloc, n, last, padTile, geo,
                                      /*transposed=*/false, /*withGain=*/true);
        Value mL = batchMatmul(tb, tloc, w1, gm);
        Value vL = batchMatmul(tb, tloc, w2, gv);
        auto identity = [](OpBuilder &, Location, Value w, ValueRange) {
          return w;
        };
        Value c1 = sumLastDim(tb, tloc, w1, {}, identity);
        Value c2 = sumLastDim(tb, tloc, w2, {}, identity);
        return SmallVector<Value>{mL, vL, c1, c2, n, last, since};
      });
  return {r[0], r[1], r[2], r[3], r[4], r[5], r[6]};
}

/// Phase (B): the sequential pass over chunks.
ChunkCarry carryForward(OpBuilder &b, Location loc, const Inputs &in,
                        const LocalScan &scan, const Geometry &geo) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value meanIn = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.chunks, geo.groups}, f32);
  Value corrIn = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.chunks}, f32);
  Value state = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.groups}, f32);
  Value countOut = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{geo.batch},
                                           b.getI64Type());
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap row2 = projection(ctx, 2, {0});
  AffineMap id1 = AffineMap::getMultiDimIdentityMap(1, ctx);

  SmallVector<Value> results = buildBatchForall(
      b, loc, geo, {meanIn, meanIn, corrIn, corrIn, state, state, countOut},
      [&](OpBuilder &tb, Location tloc, const BatchTile &tile,
          ValueRange shared) {
        OpFoldResult zero = tb.getIndexAttr(0);
        OpFoldResult all = tb.getIndexAttr(geo.groups);
        auto rows = [&](Value v) -> Value {
          auto type = cast<RankedTensorType>(v.getType());
          if (type.getRank() == 1) {
            return tensor::ExtractSliceOp::create(
                       tb, tloc, v, ArrayRef<OpFoldResult>{tile.offset},
                       ArrayRef<OpFoldResult>{tile.size},
                       ArrayRef<OpFoldResult>{tb.getIndexAttr(1)})
                .getResult();
          }
          return sliceRows(tb, tloc, v, tile.offset, tile.size, zero, all);
        };
        Value m0 = rows(in.mean), v0 = rows(in.var), count0 = rows(in.count);
        // 1 - β^count of the carried-in count, in f64.
        Value corrInit = tensor::EmptyOp::create(
            tb, tloc, ArrayRef<OpFoldResult>{tile.size}, f32);
        SmallVector<Value> corr0 = elementwise(
            tb, tloc, count0, id1, {corrInit, corrInit},
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value c =
                  arith::SIToFPOp::create(nb, nloc, nb.getF64Type(), args[0]);
              SmallVector<Value> out;
              for (double beta : {geo.beta1, geo.beta2}) {
                Value pw = math::PowFOp::create(
                    nb, nloc,
                    arith::ConstantOp::create(nb, nloc,
                                              nb.getF64FloatAttr(beta)),
                    c);
                Value corr = arith::SubFOp::create(
                    nb, nloc,
                    arith::ConstantOp::create(nb, nloc,
                                              nb.getF64FloatAttr(1.0)),
                    pw);
                out.push_back(
                    arith::TruncFOp::create(nb, nloc, nb.getF32Type(), corr));
              }
              return out;
            });
        Value lb = arith::ConstantIndexOp::create(tb, tloc, 0);
        Value ub = arith::ConstantIndexOp::create(tb, tloc, geo.chunks);
        Value one = arith::ConstantIndexOp::create(tb, tloc, 1);
        SmallVector<Value> init = {shared[0], shared[1], shared[2],
                                   shared[3], m0,        v0,
                                   corr0[0],  corr0[1],  count0};
        auto loop = scf::ForOp::create(
            tb, tloc, lb, ub, one, init,
            [&](OpBuilder &lb2, Location lloc, Value k, ValueRange it) {
              // Entry state of chunk k.
              Value mOut = insertDropDim1(lb2, lloc, it[4], it[0], k);
              Value vOut = insertDropDim1(lb2, lloc, it[5], it[1], k);
              Value c1Out = insertDropDim1(lb2, lloc, it[6], it[2], k);
              Value c2Out = insertDropDim1(lb2, lloc, it[7], it[3], k);
              OpFoldResult end = chunkEnd(lb2, lloc, geo, k);
              auto at = [&](Value v) {
                return sliceDropDim1(lb2, lloc, v, tile.offset, tile.size, end);
              };
              Value mL = at(scan.mean), vL = at(scan.var);
              Value c1L = at(scan.corr1), c2L = at(scan.corr2);
              Value nE = at(scan.steps), rE = at(scan.lastBos);
              Value kE = at(scan.countSinceReset);
              SmallVector<Value> mv = elementwise(
                  lb2, lloc, {mL, vL, nE, rE}, {id2, id2, row2, row2},
                  {it[4], it[5]}, // updated in place (loop-carried buffers)
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    Value d1 = entryDecay(nb, nloc, a[2], a[3], geo.beta1);
                    Value d2 = entryDecay(nb, nloc, a[2], a[3], geo.beta2);
                    return SmallVector<Value>{
                        add(nb, nloc, a[0], mul(nb, nloc, d1, a[4])),
                        add(nb, nloc, a[1], mul(nb, nloc, d2, a[5]))};
                  });
              SmallVector<Value> cc = elementwise(
                  lb2, lloc, {c1L, c2L, nE, rE, kE}, {id1, id1, id1, id1, id1},
                  {it[6], it[7], it[8]},
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    Value d1 = entryDecay(nb, nloc, a[2], a[3], geo.beta1);
                    Value d2 = entryDecay(nb, nloc, a[2], a[3], geo.beta2);
                    Value keep = cmp(nb, nloc, arith::CmpFPredicate::OLT, a[3],
                                     f32Constant(nb, nloc, 0.0));
                    Value since = arith::FPToSIOp::create(
                        nb, nloc, nb.getI64Type(), a[4]);
                    Value kept = arith::AddIOp::create(nb, nloc, a[7], since);
                    return SmallVector<Value>{
                        add(nb, nloc, a[0], mul(nb, nloc, d1, a[5])),
                        add(nb, nloc, a[1], mul(nb, nloc, d2, a[6])),
                        select(nb, nloc, keep, kept, since)};
                  });
              scf::YieldOp::create(lb2, lloc,
                                   ValueRange{mOut, vOut, c1Out, c2Out, mv[0],
                                              mv[1], cc[0], cc[1], cc[2]});
            });
        ValueRange res = loop.getResults();
        return SmallVector<Value>{res[0], res[1], res[2], res[3],
                                  res[4], res[5], res[8]};
      });
  return {results[0], results[1], results[2], results[3],
          results[4], results[5], results[6]};
}

/// Per (bt, c, G): m̂, r and 1/corr1, 1/corr2 of a tile from the local scan
/// and the chunk's entry state.
SmallVector<Value> correctedStats(OpBuilder &b, Location loc,
                                  const ChunkTile &tile, const LocalScan &scan,
                                  const ChunkCarry &carry,
                                  const Geometry &geo) {
  MLIRContext *ctx = b.getContext();
  auto tok = [&](Value v) {
    return sliceRows(b, loc, v, tile.batchOffset, tile.batchSize,
                     tile.tokenOffset, tile.tokenSize);
  };
  auto chk = [&](Value v) {
    return sliceDropDim1(b, loc, v, tile.batchOffset, tile.batchSize,
                         tile.chunk);
  };
  Value mL = tok(scan.mean), vL = tok(scan.var);
  Value c1L = tok(scan.corr1), c2L = tok(scan.corr2);
  Value n = tok(scan.steps), r = tok(scan.lastBos);
  Value mIn = chk(carry.mean), vIn = chk(carry.var);
  Value c1In = chk(carry.corr1), c2In = chk(carry.corr2);
  AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap perT = projection(ctx, 3, {0, 1}),
            perG = projection(ctx, 3, {0, 2}), perB = projection(ctx, 3, {0});
  Value init = emptyLike(b, loc, mL, b.getF32Type());
  return elementwise(b, loc, {mL, vL, c1L, c2L, n, r, mIn, vIn, c1In, c2In},
                     {id3, id3, perT, perT, perT, perT, perG, perG, perB, perB},
                     {init, init, init, init},
                     [&](OpBuilder &nb, Location nloc, ValueRange a) {
                       Value d1 = entryDecay(nb, nloc, a[4], a[5], geo.beta1);
                       Value d2 = entryDecay(nb, nloc, a[4], a[5], geo.beta2);
                       Value m = add(nb, nloc, a[0], mul(nb, nloc, d1, a[6]));
                       Value v = add(nb, nloc, a[1], mul(nb, nloc, d2, a[7]));
                       Value c1 = add(nb, nloc, a[2], mul(nb, nloc, d1, a[8]));
                       Value c2 = add(nb, nloc, a[3], mul(nb, nloc, d2, a[9]));
                       Value one = f32Constant(nb, nloc, 1.0);
                       Value inv1 = arith::DivFOp::create(nb, nloc, one, c1);
                       Value inv2 = arith::DivFOp::create(nb, nloc, one, c2);
                       Value mHat = mul(nb, nloc, m, inv1);
                       Value vHat = mul(nb, nloc, v, inv2);
                       Value rstd = math::RsqrtOp::create(
                           nb, nloc,
                           add(nb, nloc, vHat, f32Constant(nb, nloc, geo.eps)));
                       return SmallVector<Value>{mHat, rstd, inv1, inv2};
                     });
}

//===----------------------------------------------------------------------===//
// The ops
//===----------------------------------------------------------------------===//

template <typename OpTy>
FailureOr<std::pair<Geometry, Inputs>> prepare(OpBuilder &b, OpTy op,
                                               const GeckoTileSizes &tiles) {
  for (Type type : op->getOperandTypes())
    if (auto shaped = dyn_cast<RankedTensorType>(type);
        shaped && !shaped.hasStaticShape())
      return op->emitOpError()
             << "gecko-convert-to-linalg supports only static shapes, got "
             << type;
  Location loc = op.getLoc();
  auto xType = cast<RankedTensorType>(op.getX().getType());
  Geometry geo;
  geo.batch = xType.getDimSize(0);
  geo.length = xType.getDimSize(1);
  geo.groups = static_cast<int64_t>(op.getNumGroups());
  geo.groupSize = xType.getDimSize(2) / geo.groups;
  int64_t chunk = tiles.scanChunk > 0 ? tiles.scanChunk : tiles.tokens;
  geo.chunk = std::max<int64_t>(1, std::min(chunk, geo.length));
  geo.chunks = (geo.length + geo.chunk - 1) / geo.chunk;
  geo.batchTile = std::max<int64_t>(1, std::min(tiles.batch, geo.batch));
  geo.beta1 = op.getBeta1().convertToDouble();
  geo.beta2 = op.getBeta2().convertToDouble();
  geo.eps = op.getEps().convertToDouble();
  if (geo.length < 1 || geo.batch < 1)
    return op->emitOpError() << "gecko-convert-to-linalg needs B, L >= 1";
  if (!(geo.beta1 > 0.0 && geo.beta1 < 1.0 && geo.beta2 > 0.0 &&
        geo.beta2 < 1.0))
    return op->emitOpError()
           << "gecko-convert-to-linalg needs 0 < beta1, beta2 < 1";

  Inputs in;
  in.x4 = reshapeStatic(b, loc, op.getX(),
                        {geo.batch, geo.length, geo.groups, geo.groupSize});
  in.pad = maskOrFalse(b, loc, op.getPadding(), geo);
  in.bos = maskOrFalse(b, loc, op.getBos(), geo);
  in.count = op.getCount();
  in.mean = tensorToF32(b, loc, op.getMean());
  in.var = tensorToF32(b, loc, op.getVar());
  return std::make_pair(geo, in);
}

LogicalResult lowerForward(RewriterBase &rewriter, TimestepNormOp op,
                           const GeckoTileSizes &tiles) {
  Location loc = op.getLoc();
  auto prepared = prepare(rewriter, op, tiles);
  if (failed(prepared))
    return failure();
  Geometry geo = prepared->first;
  Inputs in = prepared->second;
  MLIRContext *ctx = rewriter.getContext();
  Value scale = paramGrouped(rewriter, loc, op.getWeight(), geo, 1.0);
  Value shift = paramGrouped(rewriter, loc, op.getBias(), geo, 0.0);
  LocalScan scan = localScan(rewriter, loc, in, geo);
  ChunkCarry carry = carryForward(rewriter, loc, in, scan, geo);

  Type yType = cast<RankedTensorType>(op.getY().getType()).getElementType();
  Value yInit = tensor::EmptyOp::create(
      rewriter, loc,
      ArrayRef<int64_t>{geo.batch, geo.length, geo.groups, geo.groupSize},
      yType);
  AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap perG = projection(ctx, 4, {0, 1, 2}),
            perT = projection(ctx, 4, {0, 1}),
            perC = projection(ctx, 4, {2, 3});
  Value y = buildChunkForall(
      rewriter, loc, geo, yInit, Slot::Token,
      [&](OpBuilder &tb, Location tloc, const ChunkTile &tile) {
        SmallVector<Value> stats =
            correctedStats(tb, tloc, tile, scan, carry, geo);
        Value xTile =
            sliceRows(tb, tloc, in.x4, tile.batchOffset, tile.batchSize,
                      tile.tokenOffset, tile.tokenSize);
        Value padTile =
            sliceRows(tb, tloc, in.pad, tile.batchOffset, tile.batchSize,
                      tile.tokenOffset, tile.tokenSize);
        Value out = emptyLike(tb, tloc, xTile, yType);
        return elementwise(
            tb, tloc, {xTile, stats[0], stats[1], padTile, scale, shift},
            {id4, perG, perG, perT, perC, perC}, out,
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value x = toF32(nb, nloc, a[0]);
              Value v = mul(nb, nloc, sub(nb, nloc, x, a[1]), a[2]);
              v = add(nb, nloc, mul(nb, nloc, v, a[4]), a[5]);
              v = select(nb, nloc, a[3], f32Constant(nb, nloc, 0.0), v);
              return SmallVector<Value>{fromF32(nb, nloc, v, yType)};
            });
      })[0];
  y = reshapeStatic(rewriter, loc, y,
                    cast<RankedTensorType>(op.getY().getType()).getShape());
  Type stateType =
      cast<RankedTensorType>(op.getNewMean().getType()).getElementType();
  Value newMean = tensorFromF32(rewriter, loc, carry.finalMean, stateType);
  Value newVar = tensorFromF32(rewriter, loc, carry.finalVar, stateType);
  rewriter.replaceOp(op, ValueRange{y, carry.finalCount, newMean, newVar});
  return success();
}

LogicalResult lowerBackward(RewriterBase &rewriter, TimestepNormGradOp op,
                            const GeckoTileSizes &tiles) {
  Location loc = op.getLoc();
  auto prepared = prepare(rewriter, op, tiles);
  if (failed(prepared))
    return failure();
  Geometry geo = prepared->first;
  Inputs in = prepared->second;
  MLIRContext *ctx = rewriter.getContext();
  OpBuilder &b = rewriter;
  Type f32 = b.getF32Type();
  Value scale = paramGrouped(b, loc, op.getWeight(), geo, 1.0);
  Value dy4 = reshapeStatic(b, loc, op.getDy(),
                            {geo.batch, geo.length, geo.groups, geo.groupSize});
  LocalScan scan = localScan(rewriter, loc, in, geo);
  ChunkCarry carry = carryForward(rewriter, loc, in, scan, geo);

  AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap g4 = projection(ctx, 4, {0, 1, 2}), t4 = projection(ctx, 4, {0, 1}),
            c4 = projection(ctx, 4, {2, 3});
  AffineMap t3 = projection(ctx, 3, {0, 1});
  double inverseN = 1.0 / static_cast<double>(geo.groupSize);

  // (1) Per chunk: direct gradients, local reverse scan, partial sums.
  auto blOut = [&](ArrayRef<int64_t> trailing, int64_t second) {
    SmallVector<int64_t> shape = {geo.batch, second};
    llvm::append_range(shape, trailing);
    return tensor::EmptyOp::create(b, loc, shape, f32).getResult();
  };
  SmallVector<Value> outs = {blOut({geo.groups}, geo.length),
                             blOut({geo.groups}, geo.length),
                             blOut({geo.groups}, geo.length),
                             blOut({geo.groups}, geo.length),
                             blOut({}, geo.length),
                             blOut({}, geo.length),
                             blOut({geo.groups}, geo.chunks),
                             blOut({geo.groups}, geo.chunks),
                             blOut({geo.groups, geo.groupSize}, geo.chunks),
                             blOut({geo.groups, geo.groupSize}, geo.chunks)};
  SmallVector<Slot> slots = {Slot::Token, Slot::Token, Slot::Token, Slot::Token,
                             Slot::Token, Slot::Token, Slot::Chunk, Slot::Chunk,
                             Slot::Chunk, Slot::Chunk};
  SmallVector<Value> local = buildChunkForall(
      b, loc, geo, outs, slots,
      [&](OpBuilder &tb, Location tloc, const ChunkTile &tile) {
        auto tok = [&](Value v) {
          return sliceRows(tb, tloc, v, tile.batchOffset, tile.batchSize,
                           tile.tokenOffset, tile.tokenSize);
        };
        Value xTile = tok(in.x4), dyTile = tok(dy4), padTile = tok(in.pad);
        Value n = tok(scan.steps), r = tok(scan.lastBos);
        SmallVector<Value> st =
            correctedStats(tb, tloc, tile, scan, carry, geo);
        Value mHat = st[0], rstd = st[1], inv1 = st[2], inv2 = st[3];
        auto [gm, dev] = groupMoments(tb, tloc, xTile, geo, /*squares=*/false);
        // Sb = Σ dy (w+1), Ss = Σ dy (w+1)(x - m̂) over finite lanes.
        Value zeros = zerosF32(tb, tloc, mixedSizes(tb, tloc, gm));
        SmallVector<Value> sums =
            generic(tb, tloc, {xTile, dyTile, scale, mHat}, {zeros, zeros},
                    {id4, id4, c4, g4, g4, g4}, iterators(4, {3}),
                    [&](OpBuilder &nb, Location nloc, ValueRange a) {
                      Value x = toF32(nb, nloc, a[0]);
                      Value g = mul(nb, nloc, toF32(nb, nloc, a[1]), a[2]);
                      Value ok = notInf(nb, nloc, x);
                      Value zero = f32Constant(nb, nloc, 0.0);
                      Value gs = mul(nb, nloc, g, sub(nb, nloc, x, a[3]));
                      return SmallVector<Value>{
                          add(nb, nloc, a[4], select(nb, nloc, ok, g, zero)),
                          add(nb, nloc, a[5], select(nb, nloc, ok, gs, zero))};
                    });
        // Direct gradients of the raw m_t, v_t; gm + mean(dev) for dx.
        Value gInit = emptyLike(tb, tloc, gm, f32);
        SmallVector<Value> direct = elementwise(
            tb, tloc, {sums[0], sums[1], rstd, inv1, inv2, padTile, gm, dev},
            {id3, id3, id3, id3, id3, t3, id3, id3}, {gInit, gInit, gInit},
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value zero = f32Constant(nb, nloc, 0.0);
              Value e1 = mul(nb, nloc, mul(nb, nloc, a[2], a[0]), a[3]);
              e1 = arith::NegFOp::create(nb, nloc, e1);
              Value r3 = mul(nb, nloc, mul(nb, nloc, a[2], a[2]), a[2]);
              Value e2 = mul(nb, nloc, mul(nb, nloc, r3, a[1]), a[4]);
              e2 = mul(nb, nloc, e2, f32Constant(nb, nloc, -0.5));
              Value center =
                  add(nb, nloc, a[6],
                      mul(nb, nloc, a[7], f32Constant(nb, nloc, inverseN)));
              return SmallVector<Value>{select(nb, nloc, a[5], zero, e1),
                                        select(nb, nloc, a[5], zero, e2),
                                        center};
            });
        Value e1 = direct[0], e2 = direct[1];
        auto [wt1, wt2] =
            decayMatrices(tb, tloc, n, r, padTile, geo,
                          /*transposed=*/true, /*withGain=*/false);
        Value du = batchMatmul(tb, tloc, wt1, e1);
        Value dv = batchMatmul(tb, tloc, wt2, e2);
        // Decay from t to the chunk end: [r_end <= t] β^(n_end - n_t).
        OpFoldResult last = affine::makeComposedFoldedAffineApply(
            tb, tloc, tb.getAffineDimExpr(0) - 1, {tile.tokenSize});
        Value nEnd = sliceDropDim1(tb, tloc, n, tb.getIndexAttr(0),
                                   tile.batchSize, last);
        Value rEnd = sliceDropDim1(tb, tloc, r, tb.getIndexAttr(0),
                                   tile.batchSize, last);
        Value facInit = emptyLike(tb, tloc, n, f32);
        AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
        AffineMap b2 = projection(ctx, 2, {0});
        SmallVector<Value> fac = elementwise(
            tb, tloc, {n, nEnd, rEnd}, {id2, b2, b2}, {facInit, facInit},
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value t = indexAsF32(nb, nloc, 1);
              Value open = cmp(nb, nloc, arith::CmpFPredicate::OLE, a[2], t);
              Value steps = sub(nb, nloc, a[1], a[0]);
              Value zero = f32Constant(nb, nloc, 0.0);
              return SmallVector<Value>{
                  select(nb, nloc, open, decayPow(nb, nloc, steps, geo.beta1),
                         zero),
                  select(nb, nloc, open, decayPow(nb, nloc, steps, geo.beta2),
                         zero)};
            });
        // Local part of the carry leaving the chunk start: Σ_t D_t e_t.
        Value lo =
            zerosF32(tb, tloc, {tile.batchSize, tb.getIndexAttr(geo.groups)});
        AffineMap bg = projection(ctx, 3, {0, 2});
        SmallVector<Value> leave = generic(
            tb, tloc, {e1, e2, n, r}, {lo, lo}, {id3, id3, t3, t3, bg, bg},
            iterators(3, {1}), [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value d1 = entryDecay(nb, nloc, a[2], a[3], geo.beta1);
              Value d2 = entryDecay(nb, nloc, a[2], a[3], geo.beta2);
              return SmallVector<Value>{
                  add(nb, nloc, a[4], mul(nb, nloc, d1, a[0])),
                  add(nb, nloc, a[5], mul(nb, nloc, d2, a[1]))};
            });
        // Partial dweight / dbias of this tile, summed over its tokens.
        Value part = zerosF32(tb, tloc,
                              {tile.batchSize, tb.getIndexAttr(geo.groups),
                               tb.getIndexAttr(geo.groupSize)});
        AffineMap bgi = projection(ctx, 4, {0, 2, 3});
        SmallVector<Value> partial = generic(
            tb, tloc, {xTile, dyTile, mHat, rstd, padTile}, {part, part},
            {id4, id4, g4, g4, t4, bgi, bgi}, iterators(4, {1}),
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value x = toF32(nb, nloc, a[0]);
              Value dy = toF32(nb, nloc, a[1]);
              Value skip = arith::OrIOp::create(
                  nb, nloc, a[4],
                  arith::XOrIOp::create(nb, nloc, notInf(nb, nloc, x),
                                        arith::ConstantOp::create(
                                            nb, nloc, nb.getBoolAttr(true))));
              Value zero = f32Constant(nb, nloc, 0.0);
              Value dw = mul(nb, nloc,
                             mul(nb, nloc, dy, sub(nb, nloc, x, a[2])), a[3]);
              return SmallVector<Value>{
                  add(nb, nloc, a[5], select(nb, nloc, skip, zero, dw)),
                  add(nb, nloc, a[6], select(nb, nloc, skip, zero, dy))};
            });
        return SmallVector<Value>{du,         dv,        rstd,     direct[2],
                                  fac[0],     fac[1],    leave[0], leave[1],
                                  partial[0], partial[1]};
      });
  Value duL = local[0], dvL = local[1], rstdAll = local[2], center = local[3];
  Value fac1 = local[4], fac2 = local[5];
  Value leave1 = local[6], leave2 = local[7];

  // (2) Reverse pass over chunks: U, V entering each chunk from its end.
  Value dMeanOut =
      op.getDNewMean()
          ? tensorToF32(b, loc, op.getDNewMean())
          : zerosF32(b, loc,
                     {b.getIndexAttr(geo.batch), b.getIndexAttr(geo.groups)});
  Value dVarOut =
      op.getDNewVar()
          ? tensorToF32(b, loc, op.getDNewVar())
          : zerosF32(b, loc,
                     {b.getIndexAttr(geo.batch), b.getIndexAttr(geo.groups)});
  Value carryInit = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.chunks, geo.groups}, f32);
  Value stateInit = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.groups}, f32);
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap row2 = projection(ctx, 2, {0});
  SmallVector<Value> reverse = buildBatchForall(
      b, loc, geo, {carryInit, carryInit, stateInit, stateInit},
      [&](OpBuilder &tb, Location tloc, const BatchTile &tile,
          ValueRange shared) {
        OpFoldResult zero = tb.getIndexAttr(0);
        OpFoldResult all = tb.getIndexAttr(geo.groups);
        Value u0 =
            sliceRows(tb, tloc, dMeanOut, tile.offset, tile.size, zero, all);
        Value v0 =
            sliceRows(tb, tloc, dVarOut, tile.offset, tile.size, zero, all);
        Value lb = arith::ConstantIndexOp::create(tb, tloc, 0);
        Value ub = arith::ConstantIndexOp::create(tb, tloc, geo.chunks);
        Value one = arith::ConstantIndexOp::create(tb, tloc, 1);
        auto loop = scf::ForOp::create(
            tb, tloc, lb, ub, one, ValueRange{shared[0], shared[1], u0, v0},
            [&](OpBuilder &lb2, Location lloc, Value i, ValueRange it) {
              Value k =
                  affine::makeComposedAffineApply(
                      lb2, lloc, geo.chunks - 1 - lb2.getAffineDimExpr(0), {i})
                      .getResult();
              Value uOut = insertDropDim1(lb2, lloc, it[2], it[0], k);
              Value vOut = insertDropDim1(lb2, lloc, it[3], it[1], k);
              OpFoldResult end = chunkEnd(lb2, lloc, geo, k);
              Value nE = sliceDropDim1(lb2, lloc, scan.steps, tile.offset,
                                       tile.size, end);
              Value rE = sliceDropDim1(lb2, lloc, scan.lastBos, tile.offset,
                                       tile.size, end);
              Value l1 =
                  sliceDropDim1(lb2, lloc, leave1, tile.offset, tile.size, k);
              Value l2 =
                  sliceDropDim1(lb2, lloc, leave2, tile.offset, tile.size, k);
              SmallVector<Value> next = elementwise(
                  lb2, lloc, {l1, l2, nE, rE}, {id2, id2, row2, row2},
                  {it[2], it[3]}, // updated in place (loop-carried buffers)
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    Value d1 = entryDecay(nb, nloc, a[2], a[3], geo.beta1);
                    Value d2 = entryDecay(nb, nloc, a[2], a[3], geo.beta2);
                    return SmallVector<Value>{
                        add(nb, nloc, a[0], mul(nb, nloc, d1, a[4])),
                        add(nb, nloc, a[1], mul(nb, nloc, d2, a[5]))};
                  });
              scf::YieldOp::create(lb2, lloc,
                                   ValueRange{uOut, vOut, next[0], next[1]});
            });
        return llvm::to_vector_of<Value>(loop.getResults());
      });
  Value uIn = reverse[0], vIn = reverse[1];

  // (3) dx per chunk.
  Type dxType = cast<RankedTensorType>(op.getDx().getType()).getElementType();
  Value dxInit = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<int64_t>{geo.batch, geo.length, geo.groups, geo.groupSize},
      dxType);
  Value dx = buildChunkForall(
      b, loc, geo, dxInit, Slot::Token,
      [&](OpBuilder &tb, Location tloc, const ChunkTile &tile) {
        auto tok = [&](Value v) {
          return sliceRows(tb, tloc, v, tile.batchOffset, tile.batchSize,
                           tile.tokenOffset, tile.tokenSize);
        };
        auto chk = [&](Value v) {
          return sliceDropDim1(tb, tloc, v, tile.batchOffset, tile.batchSize,
                               tile.chunk);
        };
        Value xTile = tok(in.x4);
        Value out = emptyLike(tb, tloc, xTile, dxType);
        AffineMap bg = projection(ctx, 4, {0, 2});
        return elementwise(
            tb, tloc,
            {xTile, tok(dy4), tok(rstdAll), tok(center), tok(duL), tok(dvL),
             tok(fac1), tok(fac2), chk(uIn), chk(vIn), scale, tok(in.pad)},
            {id4, id4, g4, g4, g4, g4, t4, t4, bg, bg, c4, t4}, out,
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value x = toF32(nb, nloc, a[0]);
              Value dy = toF32(nb, nloc, a[1]);
              Value du = add(nb, nloc, a[4], mul(nb, nloc, a[6], a[8]));
              Value dv = add(nb, nloc, a[5], mul(nb, nloc, a[7], a[9]));
              Value direct = mul(nb, nloc, mul(nb, nloc, dy, a[2]), a[10]);
              Value viaMean =
                  mul(nb, nloc, f32Constant(nb, nloc, 1.0 - geo.beta1), du);
              Value viaVar =
                  mul(nb, nloc,
                      mul(nb, nloc,
                          f32Constant(nb, nloc, 2.0 * (1.0 - geo.beta2)), dv),
                      sub(nb, nloc, x, a[3]));
              Value stats = mul(nb, nloc, add(nb, nloc, viaMean, viaVar),
                                f32Constant(nb, nloc, inverseN));
              Value grad = add(nb, nloc, direct, stats);
              Value skip = arith::OrIOp::create(
                  nb, nloc, a[11],
                  arith::XOrIOp::create(nb, nloc, notInf(nb, nloc, x),
                                        arith::ConstantOp::create(
                                            nb, nloc, nb.getBoolAttr(true))));
              grad = select(nb, nloc, skip, f32Constant(nb, nloc, 0.0), grad);
              return SmallVector<Value>{fromF32(nb, nloc, grad, dxType)};
            });
      })[0];
  dx = reshapeStatic(b, loc, dx,
                     cast<RankedTensorType>(op.getDx().getType()).getShape());

  // (4) dweight, dbias: reduce the (B, K) partial sums.
  Value acc = zerosF32(
      b, loc, {b.getIndexAttr(geo.groups), b.getIndexAttr(geo.groupSize)});
  AffineMap gi = projection(ctx, 4, {2, 3});
  SmallVector<Value> params = generic(
      b, loc, {local[8], local[9]}, {acc, acc}, {id4, id4, gi, gi},
      iterators(4, {0, 1}), [&](OpBuilder &nb, Location nloc, ValueRange a) {
        return SmallVector<Value>{add(nb, nloc, a[2], a[0]),
                                  add(nb, nloc, a[3], a[1])};
      });
  int64_t channels = geo.groups * geo.groupSize;
  Type wType =
      cast<RankedTensorType>(op.getDweight().getType()).getElementType();
  Type bType = cast<RankedTensorType>(op.getDbias().getType()).getElementType();
  Value dWeight = tensorFromF32(
      b, loc, reshapeStatic(b, loc, params[0], {channels}), wType);
  Value dBias = tensorFromF32(
      b, loc, reshapeStatic(b, loc, params[1], {channels}), bType);
  Type sType = cast<RankedTensorType>(op.getDmean().getType()).getElementType();
  Value dMean = tensorFromF32(b, loc, reverse[2], sType);
  Value dVar = tensorFromF32(b, loc, reverse[3], sType);
  rewriter.replaceOp(op, ValueRange{dx, dWeight, dBias, dMean, dVar});
  return success();
}

} // namespace tsn

LogicalResult lowerTimestepNormOp(RewriterBase &rewriter, Operation *op,
                                  const GeckoTileSizes &tiles) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  if (auto fwd = dyn_cast<TimestepNormOp>(op))
    return tsn::lowerForward(rewriter, fwd, tiles);
  if (auto bwd = dyn_cast<TimestepNormGradOp>(op))
    return tsn::lowerBackward(rewriter, bwd, tiles);
  return op->emitOpError() << "is not a timestep norm op";
}

} // namespace mlir::gecko
