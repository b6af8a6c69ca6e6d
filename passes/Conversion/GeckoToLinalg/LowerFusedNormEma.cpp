//===- LowerFusedNormEma.cpp - gecko.fused_norm_ema to linalg -------------===//
//
// gecko.fused_norm_ema = rms_norm(cema(timestep_norm(x))) (spec §1, §2, §3;
// made by gecko-fuse-norm-ema). One time chunk C (cema-chunk-size) is shared
// by both scans; the lowering writes only y (and tsn when it has uses),
// never the EMA output ce nor the EMA's local outputs:
//
//  A. scf.forall over (batch tile, chunk): the timestep norm's group moments
//     and chunk-local statistics scan (LowerTimestepNorm.cpp phase A; reads
//     x once, writes (B, L, G) statistics);
//  B. the timestep norm's sequential carry over chunks ((B, G) state);
//  C. scf.forall over (batch, chunk, block of timestep-norm groups): tsn of
//     the tile from x and the corrected statistics, then the chunk's local
//     EMA scan from zero (scf.for over the tokens, one (Db, N) generic per
//     token); only its end state is written, (B, K, D, N);
//  D. the EMA carry, an scf.for over chunks of one (B, D, N) generic:
//     carry_{k+1} = [no bos in chunk k]·q^len_k·carry_k + end_k, from hx;
//  E. scf.forall over (batch, chunk), all D channels: tsn of the tile again
//     (written when used), the EMA rescanned from the chunk's incoming carry
//     (ce_t = tsn_t + Σ_n Re(γ h_t) into a (C, D) f32 tile buffer), then the
//     RMS statistics and y = ce·r·(w + 1) of the tile.
//
// tsn and ce are rounded to the activation type where the unfused ops store
// them, so the fused op computes what the chain computes (up to f32
// summation order). x is read three times (A, C, E); tsn and ce never go
// through memory between the ops. See docs/passes/fusion.md.
//
//===----------------------------------------------------------------------===//

#include "ComplexScanUtils.h"
#include "TimestepNormScan.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::gecko {

namespace {

using namespace cema_utils;

using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

SmallVector<Value> generic(
    OpBuilder &b, Location loc, ValueRange inputs, ValueRange outputs,
    ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body) {
  auto op = linalg::GenericOp::create(
      b, loc, outputs.getTypes(), inputs, outputs, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return llvm::to_vector_of<Value>(op.getResults());
}

Value zeros(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  Value init = empty(b, loc, sizes, b.getF32Type());
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, 0.0), init)
      .getResult(0);
}

void parallelInsert(OpBuilder &b, Location loc, Value source, Value dest,
                    ArrayRef<OpFoldResult> offsets,
                    ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
  tensor::ParallelInsertSliceOp::create(b, loc, source, dest, offsets, sizes,
                                        strides);
}

//===----------------------------------------------------------------------===//
// Shapes and operands
//===----------------------------------------------------------------------===//

struct FusedShape {
  tsn::Geometry geo; // the timestep norm's view; geo.chunk is the common C
  int64_t channels, order; // D, N
  int64_t groupBlock;      // timestep-norm groups per phase-C tile
  int64_t rmsGroups;
  double rmsEps;
};

struct Operands {
  tsn::Inputs norm;
  Value scale, shift; // (G, Dg) f32: weight + 1 (rounded), bias
  Value rmsScale;     // (Gr, Dr) f32 (rounded weight + 1), or null
  Value p;            // (D, N) f32
  Cx q, gamma;        // (D, N)
  Cx hx;              // (B, D, N)
  Value bos;          // (B, L) i1 or null
  Type act;           // activation element type
};

/// The largest divisor of `n` that is at most `limit` (at least 1).
int64_t divisorAtMost(int64_t n, int64_t limit) {
  for (int64_t d = std::max<int64_t>(1, std::min(limit, n)); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

FailureOr<FusedShape> fusedShape(FusedNormEmaOp op,
                                 const GeckoTileSizes &tiles) {
  for (Type type : op->getOperandTypes())
    if (auto shaped = dyn_cast<RankedTensorType>(type);
        !shaped || !shaped.hasStaticShape())
      return op->emitOpError()
             << "gecko-convert-to-linalg supports only static shapes, got "
             << type;
  if (tiles.cemaChunk < 1 || tiles.cemaChannelBlock < 1)
    return op->emitOpError()
           << "cema-chunk-size and cema-channel-block must "
              "be positive, got "
           << tiles.cemaChunk << " and " << tiles.cemaChannelBlock;
  auto xType = cast<RankedTensorType>(op.getX().getType());
  FusedShape s;
  tsn::Geometry &geo = s.geo;
  geo.batch = xType.getDimSize(0);
  geo.length = xType.getDimSize(1);
  s.channels = xType.getDimSize(2);
  s.order = cast<RankedTensorType>(op.getP().getType()).getDimSize(1);
  if (geo.batch < 1 || geo.length < 1 || s.channels < 1 || s.order < 1)
    return op->emitOpError() << "gecko-convert-to-linalg needs B, L, D, N >= 1";
  geo.groups = static_cast<int64_t>(op.getNumGroups());
  geo.groupSize = s.channels / geo.groups;
  geo.chunk = std::max<int64_t>(1, std::min(tiles.cemaChunk, geo.length));
  geo.chunks = (geo.length + geo.chunk - 1) / geo.chunk;
  geo.batchTile = std::max<int64_t>(1, std::min(tiles.batch, geo.batch));
  geo.beta1 = op.getBeta1().convertToDouble();
  geo.beta2 = op.getBeta2().convertToDouble();
  geo.eps = op.getEps().convertToDouble();
  if (!(geo.beta1 > 0.0 && geo.beta1 < 1.0 && geo.beta2 > 0.0 &&
        geo.beta2 < 1.0))
    return op->emitOpError()
           << "gecko-convert-to-linalg needs 0 < beta1, beta2 < 1";
  s.groupBlock = divisorAtMost(
      geo.groups, std::max<int64_t>(1, tiles.cemaChannelBlock / geo.groupSize));
  s.rmsGroups = static_cast<int64_t>(op.getRmsNumGroups());
  s.rmsEps = op.getRmsEps().convertToDouble();
  return s;
}

Operands operands(OpBuilder &b, Location loc, FusedNormEmaOp op,
                  const FusedShape &s) {
  const tsn::Geometry &geo = s.geo;
  Operands o;
  o.act = cast<RankedTensorType>(op.getX().getType()).getElementType();
  o.norm.x4 = reshapeStatic(b, loc, op.getX(),
                            {geo.batch, geo.length, geo.groups, geo.groupSize});
  o.norm.pad = tsn::maskOrFalse(b, loc, Value(), geo);
  o.norm.bos = tsn::maskOrFalse(b, loc, op.getBos(), geo);
  o.norm.count = op.getCount();
  o.norm.mean = tsn::tensorToF32(b, loc, op.getMean());
  o.norm.var = tsn::tensorToF32(b, loc, op.getVar());
  o.scale = tsn::paramGrouped(b, loc, op.getNormWeight(), geo, 1.0);
  o.shift = tsn::paramGrouped(b, loc, op.getNormBias(), geo, 0.0);
  if (Value w = op.getRmsWeight()) {
    tsn::Geometry rmsView = geo;
    rmsView.groups = s.rmsGroups;
    rmsView.groupSize = s.channels / s.rmsGroups;
    o.rmsScale = tsn::paramGrouped(b, loc, w, rmsView, 1.0);
  }
  o.p = op.getP();
  o.q = splitComplex(b, loc, op.getQ());
  o.gamma = splitComplex(b, loc, op.getGammaC());
  if (Value hx = op.getHx()) {
    o.hx = splitComplex(b, loc, hx);
  } else {
    Value z = zeros(b, loc, staticSizes(b, {geo.batch, s.channels, s.order}));
    o.hx = {z, z};
  }
  o.bos = op.getBos();
  return o;
}

//===----------------------------------------------------------------------===//
// Tiles
//===----------------------------------------------------------------------===//

/// The (batch b, chunk k) tile of one batch row in the timestep norm's
/// terms (for tsn::correctedStats).
tsn::ChunkTile chunkTile(OpBuilder &b, Location loc, const tsn::Geometry &geo,
                         Value batch, Value chunk) {
  tsn::ChunkTile tile;
  tile.batchOffset = batch;
  tile.chunk = chunk;
  tile.batchSize = b.getIndexAttr(1);
  AffineExpr d0 = b.getAffineDimExpr(0);
  tile.tokenOffset =
      affine::makeComposedFoldedAffineApply(b, loc, d0 * geo.chunk, {chunk});
  if (geo.length % geo.chunk == 0) {
    tile.tokenSize = b.getIndexAttr(geo.chunk);
  } else {
    AffineMap map = AffineMap::get(
        1, 0, {b.getAffineConstantExpr(geo.chunk), geo.length - d0 * geo.chunk},
        b.getContext());
    tile.tokenSize = affine::makeComposedFoldedAffineMin(b, loc, map, {chunk});
  }
  return tile;
}

/// tsn of the tile's groups [g0, g0 + gs): (1, c, gs, Dg) in the activation
/// type and the same values as f32 (one tensor when the type is f32).
/// `scan` and `carry` hold the statistics of exactly these groups. The
/// tile keeps its unit batch dimension: LLVM 22's fold-memref-alias-ops
/// mis-folds a multi-dimensional transfer_read of a rank-reducing subview of
/// an expand_shape (the (B, L, G, Dg) view of x), see docs/passes/fusion.md.
std::pair<Value, Value> tsnTile(OpBuilder &b, Location loc, const FusedShape &s,
                                const Operands &o, const tsn::LocalScan &scan,
                                const tsn::ChunkCarry &carry,
                                const tsn::ChunkTile &tile, OpFoldResult g0,
                                int64_t gs) {
  MLIRContext *ctx = b.getContext();
  const tsn::Geometry &geo = s.geo;
  SmallVector<Value> stats =
      tsn::correctedStats(b, loc, tile, scan, carry, geo);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  OpFoldResult groups = b.getIndexAttr(gs);
  Value mHat = stats[0], rstd = stats[1]; // (1, c, gs)
  OpFoldResult dg = b.getIndexAttr(geo.groupSize);
  Value x =
      slice(b, loc, o.norm.x4, {tile.batchOffset, tile.tokenOffset, g0, zero},
            {one, tile.tokenSize, groups, dg});
  Value scale = slice(b, loc, o.scale, {g0, zero}, {groups, dg});
  Value shift = slice(b, loc, o.shift, {g0, zero}, {groups, dg});
  AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap perGroup = dimsMap(ctx, 4, {0, 1, 2});
  AffineMap perChannel = dimsMap(ctx, 4, {2, 3});
  bool isF32 = o.act.isF32();
  SmallVector<Value> outs = {emptyLike(b, loc, x, o.act)};
  if (!isF32)
    outs.push_back(emptyLike(b, loc, x, b.getF32Type()));
  SmallVector<Value> r = elementwise(
      b, loc, {x, mHat, rstd, scale, shift},
      {id4, perGroup, perGroup, perChannel, perChannel}, outs,
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value v =
            mulf(nb, nloc, subf(nb, nloc, toF32(nb, nloc, a[0]), a[1]), a[2]);
        v = addf(nb, nloc, mulf(nb, nloc, v, a[3]), a[4]);
        Value rounded = fromF32(nb, nloc, v, o.act);
        SmallVector<Value> res = {rounded};
        if (!isF32)
          res.push_back(toF32(nb, nloc, rounded));
        return res;
      });
  return {r[0], isF32 ? r[0] : r[1]};
}

/// A (1, c, g, n) tile viewed as (c, g·n).
Value tokenRows(OpBuilder &b, Location loc, Value tile) {
  auto type = cast<RankedTensorType>(tile.getType());
  auto flat = RankedTensorType::get(
      {type.getDimSize(1), type.getDimSize(2) * type.getDimSize(3)},
      type.getElementType());
  return tensor::CollapseShapeOp::create(
      b, loc, flat, tile, ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
}

/// bos[b, t0 + t] (false without bos).
Value bosAt(OpBuilder &b, Location loc, const Operands &o,
            const tsn::ChunkTile &tile, Value t) {
  if (!o.bos)
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
  Value t0 = getValueOrCreateConstantIndexOp(b, loc, tile.tokenOffset);
  Value token = arith::AddIOp::create(b, loc, t0, t);
  return tensor::ExtractOp::create(b, loc, o.bos,
                                   ValueRange{tile.batchOffset, token});
}

/// One EMA step over (d, N) in place of `h`: h = reset ? p·x : q·h + p·x.
Cx emaStep(OpBuilder &b, Location loc, Value x, Value p, Cx q, Cx h,
           Value reset) {
  MLIRContext *ctx = b.getContext();
  AffineMap perChannel = dimsMap(ctx, 2, {0});
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<Value> r =
      generic(b, loc, ValueRange{x, p, q.re, q.im}, ValueRange{h.re, h.im},
              {perChannel, id, id, id, id, id},
              {IteratorType::parallel, IteratorType::parallel},
              [&](OpBuilder &nb, Location nloc, ValueRange a) {
                Value input = mulf(nb, nloc, a[1], a[0]);
                Cx decayed = cmul(nb, nloc, {a[2], a[3]}, {a[4], a[5]});
                Value zero = f32Constant(nb, nloc, 0.0);
                decayed = {select(nb, nloc, reset, zero, decayed.re),
                           select(nb, nloc, reset, zero, decayed.im)};
                return SmallVector<Value>{addf(nb, nloc, decayed.re, input),
                                          decayed.im};
              });
  return {r[0], r[1]};
}

/// [chunk k has a bos] as (B, K) i1 (all false without bos).
Value chunkHasBos(OpBuilder &b, Location loc, const FusedShape &s,
                  const Operands &o) {
  const tsn::Geometry &geo = s.geo;
  MLIRContext *ctx = b.getContext();
  Value no = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
  Value init =
      empty(b, loc, staticSizes(b, {geo.batch, geo.chunks}), b.getI1Type());
  init = linalg::FillOp::create(b, loc, no, init).getResult(0);
  if (!o.bos)
    return init;
  Value bos = o.bos;
  int64_t padded = geo.chunks * geo.chunk;
  if (padded != geo.length) {
    auto type = RankedTensorType::get({geo.batch, padded}, b.getI1Type());
    bos = tensor::PadOp::create(
        b, loc, type, bos,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(0),
                               b.getIndexAttr(padded - geo.length)},
        no);
  }
  auto chunked =
      RankedTensorType::get({geo.batch, geo.chunks, geo.chunk}, b.getI1Type());
  bos = tensor::ExpandShapeOp::create(
      b, loc, chunked, bos, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  return generic(
      b, loc, bos, init,
      {AffineMap::getMultiDimIdentityMap(3, ctx), dimsMap(ctx, 3, {0, 1})},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        return SmallVector<Value>{arith::OrIOp::create(nb, nloc, a[0], a[1])};
      })[0];
}

/// q^e (static e >= 1) as a (D, N) pair, by square-and-multiply.
Cx qPower(OpBuilder &b, Location loc, Cx q, int64_t e) {
  MLIRContext *ctx = b.getContext();
  Value init = emptyLike(b, loc, q.re, b.getF32Type());
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<Value> r = generic(
      b, loc, ValueRange{q.re, q.im}, ValueRange{init, init}, {id, id, id, id},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Cx base{a[0], a[1]};
        Cx result{f32Constant(nb, nloc, 1.0), f32Constant(nb, nloc, 0.0)};
        bool first = true;
        for (int64_t rest = e; rest > 0; rest >>= 1) {
          if (rest & 1) {
            result = first ? base : cmul(nb, nloc, result, base);
            first = false;
          }
          if (rest > 1)
            base = cmul(nb, nloc, base, base);
        }
        return SmallVector<Value>{result.re, result.im};
      });
  return {r[0], r[1]};
}

//===----------------------------------------------------------------------===//
// Phases C-E
//===----------------------------------------------------------------------===//

/// Phase C: the local EMA end state of every (batch, chunk) from zero,
/// (B, K, D, N) re/im.
Cx localEnds(OpBuilder &b, Location loc, const FusedShape &s, const Operands &o,
             const tsn::LocalScan &scan, const tsn::ChunkCarry &carry) {
  const tsn::Geometry &geo = s.geo;
  SmallVector<OpFoldResult> endSizes =
      staticSizes(b, {geo.batch, geo.chunks, s.channels, s.order});
  Value endInit = empty(b, loc, endSizes, b.getF32Type());
  SmallVector<OpFoldResult> lbs(3, b.getIndexAttr(0));
  SmallVector<OpFoldResult> ubs =
      staticSizes(b, {geo.batch, geo.chunks, geo.groups});
  SmallVector<OpFoldResult> steps = staticSizes(b, {1, 1, s.groupBlock});
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps,
                                      ValueRange{endInit, endInit},
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  tsn::ChunkTile tile = chunkTile(b, loc, geo, ivs[0], ivs[1]);
  int64_t blockChannels = s.groupBlock * geo.groupSize;
  // The statistics of the tile's groups only (views, no copies).
  tsn::LocalScan blockScan = scan;
  tsn::ChunkCarry blockCarry = carry;
  {
    OpFoldResult zero = b.getIndexAttr(0);
    OpFoldResult gs = b.getIndexAttr(s.groupBlock);
    auto groupsOf = [&](Value v, int64_t second) {
      return slice(b, loc, v, {zero, zero, ivs[2]},
                   {b.getIndexAttr(geo.batch), b.getIndexAttr(second), gs});
    };
    blockScan.mean = groupsOf(scan.mean, geo.length);
    blockScan.var = groupsOf(scan.var, geo.length);
    blockCarry.mean = groupsOf(carry.mean, geo.chunks);
    blockCarry.var = groupsOf(carry.var, geo.chunks);
  }
  // (1, c, Gb, Dg) -> (c, Db)
  Value x = tokenRows(
      b, loc,
      tsnTile(b, loc, s, o, blockScan, blockCarry, tile, ivs[2], s.groupBlock)
          .second);
  Value d0 = affine::makeComposedAffineApply(
      b, loc, b.getAffineDimExpr(0) * geo.groupSize, {ivs[2]});
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  OpFoldResult db = b.getIndexAttr(blockChannels), n = b.getIndexAttr(s.order);
  auto coeff = [&](Value v) { return slice(b, loc, v, {d0, zero}, {db, n}); };
  Value p = coeff(o.p);
  Cx q{coeff(o.q.re), coeff(o.q.im)};
  Value h0 = zeros(b, loc, {db, n});
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  Value len = getValueOrCreateConstantIndexOp(b, loc, tile.tokenSize);
  auto loop = scf::ForOp::create(
      b, loc, lb, len, step, ValueRange{h0, h0},
      [&](OpBuilder &lb2, Location lloc, Value t, ValueRange it) {
        Value row = slice(lb2, lloc, x, {t, zero}, {one, db}, {0});
        Cx h = emaStep(lb2, lloc, row, p, q, {it[0], it[1]},
                       bosAt(lb2, lloc, o, tile, t));
        scf::YieldOp::create(lb2, lloc, ValueRange{h.re, h.im});
      });
  SmallVector<Value> parts;
  for (unsigned i = 0; i < 2; ++i) {
    auto type =
        RankedTensorType::get({1, 1, blockChannels, s.order}, b.getF32Type());
    parts.push_back(tensor::ExpandShapeOp::create(
        b, loc, type, loop.getResult(i),
        ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}}));
  }
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> offsets = {ivs[0], ivs[1], d0, zero};
  SmallVector<OpFoldResult> sizes = {one, one, db, n};
  for (unsigned i = 0; i < 2; ++i)
    parallelInsert(b, loc, parts[i], forall.getRegionIterArgs()[i], offsets,
                   sizes);
  return {forall.getResult(0), forall.getResult(1)};
}

/// Phase D: the state entering every chunk (B, K, D, N) and the final state
/// (B, D, N).
std::pair<Cx, Cx> carryEma(OpBuilder &b, Location loc, const FusedShape &s,
                           const Operands &o, Cx ends) {
  const tsn::Geometry &geo = s.geo;
  MLIRContext *ctx = b.getContext();
  Value hasBos = chunkHasBos(b, loc, s, o);
  Cx full = qPower(b, loc, o.q, geo.chunk);
  int64_t lastLength = geo.length - (geo.chunks - 1) * geo.chunk;
  Cx last = lastLength == geo.chunk ? full : qPower(b, loc, o.q, lastLength);
  Value allInit = empty(
      b, loc, staticSizes(b, {geo.batch, geo.chunks, s.channels, s.order}),
      b.getF32Type());
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, geo.chunks);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastChunk = arith::ConstantIndexOp::create(b, loc, geo.chunks - 1);
  SmallVector<OpFoldResult> sliceSizes =
      staticSizes(b, {geo.batch, 1, s.channels, s.order});
  AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap perBatch = dimsMap(ctx, 3, {0}), perCoeff = dimsMap(ctx, 3, {1, 2});
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, step, ValueRange{o.hx.re, o.hx.im, allInit, allInit},
      [&](OpBuilder &lb2, Location lloc, Value k, ValueRange it) {
        SmallVector<OpFoldResult> offsets = {
            lb2.getIndexAttr(0), k, lb2.getIndexAttr(0), lb2.getIndexAttr(0)};
        Value allRe = insert(lb2, lloc, it[0], it[2], offsets, sliceSizes);
        Value allIm = insert(lb2, lloc, it[1], it[3], offsets, sliceSizes);
        Value endRe = slice(lb2, lloc, ends.re, offsets, sliceSizes, {1});
        Value endIm = slice(lb2, lloc, ends.im, offsets, sliceSizes, {1});
        Value flag =
            slice(lb2, lloc, hasBos, {lb2.getIndexAttr(0), k},
                  {lb2.getIndexAttr(geo.batch), lb2.getIndexAttr(1)}, {1});
        Value isLast = arith::CmpIOp::create(
            lb2, lloc, arith::CmpIPredicate::eq, k, lastChunk);
        SmallVector<Value> next = generic(
            lb2, lloc,
            ValueRange{endRe, endIm, flag, full.re, full.im, last.re, last.im},
            ValueRange{it[0], it[1]},
            {id, id, perBatch, perCoeff, perCoeff, perCoeff, perCoeff, id, id},
            SmallVector<IteratorType>(3, IteratorType::parallel),
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Cx decay{select(nb, nloc, isLast, a[5], a[3]),
                       select(nb, nloc, isLast, a[6], a[4])};
              Cx carried = cmul(nb, nloc, decay, {a[7], a[8]});
              Value zero = f32Constant(nb, nloc, 0.0);
              return SmallVector<Value>{
                  addf(nb, nloc, select(nb, nloc, a[2], zero, carried.re),
                       a[0]),
                  addf(nb, nloc, select(nb, nloc, a[2], zero, carried.im),
                       a[1])};
            });
        scf::YieldOp::create(lb2, lloc,
                             ValueRange{next[0], next[1], allRe, allIm});
      });
  return {{loop.getResult(2), loop.getResult(3)},
          {loop.getResult(0), loop.getResult(1)}};
}

/// Phase E: y (B, L, Gr, Dr) and, with `withTsn`, tsn (B, L, G, Dg).
SmallVector<Value> finalTiles(OpBuilder &b, Location loc, const FusedShape &s,
                              const Operands &o, const tsn::LocalScan &scan,
                              const tsn::ChunkCarry &carry, Cx incoming,
                              bool withTsn) {
  const tsn::Geometry &geo = s.geo;
  MLIRContext *ctx = b.getContext();
  int64_t rmsSize = s.channels / s.rmsGroups;
  SmallVector<Value> outputs = {tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{geo.batch, geo.length, s.rmsGroups, rmsSize},
      o.act)};
  if (withTsn)
    outputs.push_back(tensor::EmptyOp::create(
        b, loc,
        ArrayRef<int64_t>{geo.batch, geo.length, geo.groups, geo.groupSize},
        o.act));
  SmallVector<OpFoldResult> lbs(2, b.getIndexAttr(0));
  SmallVector<OpFoldResult> ubs = staticSizes(b, {geo.batch, geo.chunks});
  SmallVector<OpFoldResult> steps = staticSizes(b, {1, 1});
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  tsn::ChunkTile tile = chunkTile(b, loc, geo, ivs[0], ivs[1]);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  auto [tsnAct, tsnF32] =
      tsnTile(b, loc, s, o, scan, carry, tile, zero, geo.groups);
  int64_t c = cast<RankedTensorType>(tsnF32.getType()).getDimSize(1);
  Value x = tokenRows(b, loc, tsnF32);
  OpFoldResult d = b.getIndexAttr(s.channels), n = b.getIndexAttr(s.order);
  SmallVector<OpFoldResult> stateOffsets = {ivs[0], ivs[1], zero, zero};
  SmallVector<OpFoldResult> stateSizes = {one, one, d, n};
  Value h0Re = slice(b, loc, incoming.re, stateOffsets, stateSizes, {0, 1});
  Value h0Im = slice(b, loc, incoming.im, stateOffsets, stateSizes, {0, 1});
  Value ceInit = empty(b, loc, {tile.tokenSize, d}, b.getF32Type());
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perRow = dimsMap(ctx, 2, {0}), perCoeff = id2;
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  Value len = getValueOrCreateConstantIndexOp(b, loc, tile.tokenSize);
  auto loop = scf::ForOp::create(
      b, loc, lb, len, step, ValueRange{h0Re, h0Im, ceInit},
      [&](OpBuilder &lb2, Location lloc, Value t, ValueRange it) {
        Value row = slice(lb2, lloc, x, {t, zero}, {one, d}, {0});
        Cx h = emaStep(lb2, lloc, row, o.p, o.q, {it[0], it[1]},
                       bosAt(lb2, lloc, o, tile, t));
        // ce_t = tsn_t + Σ_n Re(γ h_t), accumulated in the tile buffer row.
        Value ce = insert(lb2, lloc, row, it[2], {t, zero}, {one, d});
        Value ceRow = slice(lb2, lloc, ce, {t, zero}, {one, d}, {0});
        Value sum =
            generic(lb2, lloc, ValueRange{h.re, h.im, o.gamma.re, o.gamma.im},
                    ceRow, {id2, id2, perCoeff, perCoeff, perRow},
                    {IteratorType::parallel, IteratorType::reduction},
                    [&](OpBuilder &nb, Location nloc, ValueRange a) {
                      Value re = cmul(nb, nloc, {a[2], a[3]}, {a[0], a[1]}).re;
                      return SmallVector<Value>{addf(nb, nloc, a[4], re)};
                    })[0];
        ce = insert(lb2, lloc, sum, ce, {t, zero}, {one, d});
        scf::YieldOp::create(lb2, lloc, ValueRange{h.re, h.im, ce});
      });
  // RMS norm of the tile: ce rounded to the activation type (the unfused
  // cema's store), statistics in f32, y = ce·r·(w + 1).
  Value ce = loop.getResult(2);
  bool isF32 = o.act.isF32();
  auto roundAct = [&](OpBuilder &nb, Location nloc, Value v) {
    return isF32 ? v : toF32(nb, nloc, fromF32(nb, nloc, v, o.act));
  };
  auto groupedType =
      RankedTensorType::get({c, s.rmsGroups, rmsSize}, b.getF32Type());
  Value ce3 = tensor::ExpandShapeOp::create(
      b, loc, groupedType, ce, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  Value squares = sumLastDim(
      b, loc, ce3, {}, [&](OpBuilder &nb, Location nloc, Value v, ValueRange) {
        Value r = roundAct(nb, nloc, v);
        return mulf(nb, nloc, r, r);
      });
  double inverse = 1.0 / static_cast<double>(rmsSize);
  AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  Value rstd = elementwise(
      b, loc, squares, id2, emptyLike(b, loc, squares, b.getF32Type()),
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value var = mulf(nb, nloc, a[0], f32Constant(nb, nloc, inverse));
        return SmallVector<Value>{math::RsqrtOp::create(
            nb, nloc, addf(nb, nloc, var, f32Constant(nb, nloc, s.rmsEps)))};
      })[0];
  SmallVector<Value> inputs = {ce3, rstd};
  SmallVector<AffineMap> maps = {id3, dimsMap(ctx, 3, {0, 1})};
  if (o.rmsScale) {
    inputs.push_back(o.rmsScale);
    maps.push_back(dimsMap(ctx, 3, {1, 2}));
  }
  Value y =
      elementwise(b, loc, inputs, maps, emptyLike(b, loc, ce3, o.act),
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    Value v = mulf(nb, nloc, roundAct(nb, nloc, a[0]), a[1]);
                    if (o.rmsScale)
                      v = mulf(nb, nloc, v, a[2]);
                    return SmallVector<Value>{fromF32(nb, nloc, v, o.act)};
                  })[0];

  auto yType = RankedTensorType::get({1, c, s.rmsGroups, rmsSize}, o.act);
  Value y4 = tensor::ExpandShapeOp::create(
      b, loc, yType, y, ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  parallelInsert(b, loc, y4, forall.getRegionIterArgs()[0],
                 {ivs[0], tile.tokenOffset, zero, zero},
                 {one, tile.tokenSize, b.getIndexAttr(s.rmsGroups),
                  b.getIndexAttr(rmsSize)});
  if (withTsn)
    parallelInsert(b, loc, tsnAct, forall.getRegionIterArgs()[1],
                   {ivs[0], tile.tokenOffset, zero, zero},
                   {one, tile.tokenSize, b.getIndexAttr(geo.groups),
                    b.getIndexAttr(geo.groupSize)});
  return llvm::to_vector_of<Value>(forall.getResults());
}

LogicalResult lowerFused(RewriterBase &rewriter, FusedNormEmaOp op,
                         const GeckoTileSizes &tiles) {
  FailureOr<FusedShape> shape = fusedShape(op, tiles);
  if (failed(shape))
    return failure();
  const FusedShape &s = *shape;
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  Operands o = operands(b, loc, op, s);
  tsn::LocalScan scan = tsn::localScan(b, loc, o.norm, s.geo);
  tsn::ChunkCarry carry = tsn::carryForward(b, loc, o.norm, scan, s.geo);
  Cx ends = localEnds(b, loc, s, o, scan, carry);
  auto [incoming, final] = carryEma(b, loc, s, o, ends);
  bool withTsn = !op.getTsn().use_empty();
  SmallVector<Value> tiles4 =
      finalTiles(b, loc, s, o, scan, carry, incoming, withTsn);
  ArrayRef<int64_t> shape3 =
      cast<RankedTensorType>(op.getY().getType()).getShape();
  Value y = reshapeStatic(b, loc, tiles4[0], shape3);
  Value tsnOut = withTsn ? reshapeStatic(b, loc, tiles4[1], shape3) : Value();
  Type stateType =
      cast<RankedTensorType>(op.getNewMean().getType()).getElementType();
  Value newMean = tsn::tensorFromF32(b, loc, carry.finalMean, stateType);
  Value newVar = tsn::tensorFromF32(b, loc, carry.finalVar, stateType);
  rewriter.replaceOp(op, ValueRange{y, tsnOut, carry.finalCount, newMean,
                                    newVar, joinComplex(b, loc, final)});
  return success();
}

} // namespace

LogicalResult lowerFusedNormEmaOp(RewriterBase &rewriter, Operation *op,
                                  const GeckoTileSizes &tiles) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  if (auto fused = dyn_cast<FusedNormEmaOp>(op))
    return lowerFused(rewriter, fused, tiles);
  return op->emitOpError() << "is not a gecko.fused_norm_ema op";
}

} // namespace mlir::gecko
