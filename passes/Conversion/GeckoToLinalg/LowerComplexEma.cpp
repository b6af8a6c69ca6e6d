//===- LowerComplexEma.cpp - Complex EMA to linalg ------------------------===//
//
// spec §2. gecko.cema_coeffs / cema_coeffs_grad are elementwise generics over
// (D, N) (plus a reduction over N for dtheta). gecko.cema / cema_grad lower
// the recurrence h_t = a_t·h_{t−1} + p·x_t (a_t = 0 at a bos, else q) as a
// CHUNKED PARALLEL SCAN; complex values are carried as (re, im) pairs of f32
// tensors inside the generics, complex<f32> tensors only at the op interface
// (split/joined with complex.re/im/create).
//
// Forward:
//  0. powers q^(k+1), k < C (C = the chunk length), one parallel generic
//     (square-and-multiply, no loop), and the first bos of every chunk
//     fb (B, nC) (C when the chunk has none), a reduction over the chunk;
//  1. scf.forall over (batch, channel block, chunk): the chunk's local scan
//     from a zero state (scf.for over its tokens, one (Db, N) generic per
//     step), its local output yloc_t = x_t + Σ_n Re(γ h^loc_t) and its end
//     state;
//  2. the carry pass, an scf.for over chunks (a (B, D, N) generic per chunk):
//     carry_{c+1} = A_c·carry_c + hend_c, A_c = q^len (0 if the chunk has a
//     bos), from carry_0 = hx; the last carry is the new state;
//  3. scf.forall over (batch, channel block, chunk): the fix-up
//     y_t = yloc_t + [t − t0 < fb_c]·Σ_n Re(γ·q^(t−t0+1)·carry_c).
// Backward: the same forward phases 1-2 give every chunk's incoming state;
// a reverse local scan per chunk and a reverse carry pass give every chunk's
// incoming G from the right (R_{c−1} = conj(A_c)·R_c + conj(a_{t0})·G^loc_t0,
// starting at d_new_h; the last one is dhx); then per chunk, in parallel, the
// states are rescanned from the carry and G is rescanned backwards from R,
// giving dx and per-(batch, chunk) partial sums of dp, dq, dgamma, which one
// reduction generic sums over (batch, chunk).
//
//===----------------------------------------------------------------------===//

#include "ComplexScanUtils.h"
#include "TileUtils.h"

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

constexpr double kTwoPi = 6.283185307179586476925286766559;

using utils::IteratorType;

Value negf(OpBuilder &b, Location loc, Value x) {
  return arith::NegFOp::create(b, loc, x);
}
Cx cadd(OpBuilder &b, Location loc, Cx x, Cx y) {
  return {addf(b, loc, x.re, y.re), addf(b, loc, x.im, y.im)};
}
Cx conj(OpBuilder &b, Location loc, Cx x) { return {x.re, negf(b, loc, x.im)}; }
Cx cselect(OpBuilder &b, Location loc, Value c, Cx x, Cx y) {
  return {select(b, loc, c, x.re, y.re), select(b, loc, c, x.im, y.im)};
}
Value f64Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(value));
}
/// `value` extended to f64 (the coefficient ops compute in f64: they are
/// tiny, and the scan amplifies coefficient errors by up to 1/(1 − |q|)).
Value toF64(OpBuilder &b, Location loc, Value value) {
  if (value.getType().isF64())
    return value;
  return arith::ExtFOp::create(b, loc, b.getF64Type(), value);
}
/// f64 `value` rounded to `type`.
Value narrow(OpBuilder &b, Location loc, Value value, Type type) {
  if (type == value.getType())
    return value;
  return arith::TruncFOp::create(b, loc, type, value);
}
Value sigmoid(OpBuilder &b, Location loc, Value v) {
  Value one =
      arith::ConstantOp::create(b, loc, b.getFloatAttr(v.getType(), 1.0));
  Value e = math::ExpOp::create(b, loc, negf(b, loc, v));
  return arith::DivFOp::create(b, loc, one, addf(b, loc, one, e));
}

/// A linalg.generic with explicit maps and iterators.
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

/// Affine map of `numDims` dims selecting `dims`.
AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             Value value) {
  Value init = empty(b, loc, sizes, value.getType());
  return linalg::FillOp::create(b, loc, value, init).getResult(0);
}
Value zeros(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  return filled(b, loc, sizes, f32Constant(b, loc, 0.0));
}

/// Static facts of one cema / cema_grad op.
struct ScanShape {
  int64_t batch, length, channels, order;
  int64_t chunk, numChunks, channelBlock;
};

/// Everything the scan phases read.
struct ScanOperands {
  Value x;     // (B, L, D), any float type
  Value p;     // (D, N) f32
  Cx q, gamma; // (D, N)
  Cx hx;       // (B, D, N)
  Value bos;   // (B, L) i1 or null
  Value first; // (B, nC) i64: first bos of each chunk (local index) or C
  Cx powers;   // (C, D, N): q^(k+1)
};

/// q^(k+1) for k < C as a (C, D, N) pair, by square-and-multiply.
Cx powerTable(OpBuilder &b, Location loc, const ScanShape &s, Cx q) {
  MLIRContext *ctx = b.getContext();
  Value init = empty(b, loc, staticSizes(b, {s.chunk, s.channels, s.order}),
                     b.getF32Type());
  int64_t bits = 1;
  while ((int64_t(1) << bits) <= s.chunk)
    ++bits;
  AffineMap full = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap coeff = dimsMap(ctx, 3, {1, 2});
  SmallVector<IteratorType> par(3, IteratorType::parallel);
  SmallVector<Value> r = generic(
      b, loc, ValueRange{q.re, q.im}, ValueRange{init, init},
      {coeff, coeff, full, full}, par,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value k = linalg::IndexOp::create(nb, nloc, 0);
        Value e = arith::AddIOp::create(
            nb, nloc, arith::IndexCastOp::create(nb, nloc, nb.getI64Type(), k),
            arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), 1));
        Cx base{args[0], args[1]};
        Cx result{f32Constant(nb, nloc, 1.0), f32Constant(nb, nloc, 0.0)};
        Value one = arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), 1);
        for (int64_t j = 0; j < bits; ++j) {
          Value shift =
              arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), j);
          Value bit = arith::AndIOp::create(
              nb, nloc, arith::ShRUIOp::create(nb, nloc, e, shift), one);
          Value set = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                            bit, one);
          result = cselect(nb, nloc, set, cmul(nb, nloc, result, base), result);
          if (j + 1 < bits)
            base = cmul(nb, nloc, base, base);
        }
        return SmallVector<Value>{result.re, result.im};
      });
  return {r[0], r[1]};
}

/// First bos (local index) of every chunk, C when the chunk has none:
/// (B, nC) i64.
Value firstBos(OpBuilder &b, Location loc, const ScanShape &s, Value bos) {
  MLIRContext *ctx = b.getContext();
  Value chunkLength =
      arith::ConstantIntOp::create(b, loc, b.getI64Type(), s.chunk);
  Value init =
      filled(b, loc, staticSizes(b, {s.batch, s.numChunks}), chunkLength);
  if (!bos)
    return init;
  int64_t padded = s.numChunks * s.chunk;
  if (padded != s.length) {
    Value no = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    auto type = RankedTensorType::get({s.batch, padded}, b.getI1Type());
    SmallVector<OpFoldResult> low = {b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> high = {b.getIndexAttr(0),
                                      b.getIndexAttr(padded - s.length)};
    bos = tensor::PadOp::create(b, loc, type, bos, low, high, no);
  }
  auto chunked =
      RankedTensorType::get({s.batch, s.numChunks, s.chunk}, b.getI1Type());
  bos = tensor::ExpandShapeOp::create(
      b, loc, chunked, bos, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  return generic(
      b, loc, bos, init,
      {AffineMap::getMultiDimIdentityMap(3, ctx), dimsMap(ctx, 3, {0, 1})},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value k = arith::IndexCastOp::create(
            nb, nloc, nb.getI64Type(), linalg::IndexOp::create(nb, nloc, 2));
        Value smaller = arith::MinSIOp::create(nb, nloc, args[1], k);
        return SmallVector<Value>{select(nb, nloc, args[0], smaller, args[1])};
      })[0];
}

/// One (batch, channel block, chunk) tile of the scans.
struct ScanTile {
  Value batch, channel, token, chunk; // offsets; chunk = token / C
  OpFoldResult channels, tokens;      // sizes (Db, length of this chunk)
};

/// A value written back by a forall tile into shared output `output`.
struct TileWrite {
  Value value;
  unsigned output;
  SmallVector<OpFoldResult> offsets, sizes;
};

/// scf.forall over (batch, channel block, chunk) with shared `outputs`.
SmallVector<Value> buildScanForall(
    OpBuilder &b, Location loc, const ScanShape &s, ValueRange outputs,
    function_ref<SmallVector<TileWrite>(OpBuilder &, Location, const ScanTile &,
                                        ValueRange)>
        body) {
  SmallVector<OpFoldResult> lbs(3, b.getIndexAttr(0));
  SmallVector<OpFoldResult> ubs =
      staticSizes(b, {s.batch, s.channels, s.length});
  SmallVector<OpFoldResult> steps =
      staticSizes(b, {1, s.channelBlock, s.chunk});
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  ScanTile tile;
  tile.batch = ivs[0];
  tile.channel = ivs[1];
  tile.token = ivs[2];
  tile.chunk = arith::DivUIOp::create(
      b, loc, ivs[2], arith::ConstantIndexOp::create(b, loc, s.chunk));
  tile.channels = tileSize(b, loc, ivs[1], s.channelBlock, s.channels);
  tile.tokens = tileSize(b, loc, ivs[2], s.chunk, s.length);
  SmallVector<TileWrite> writes =
      body(b, loc, tile, forall.getRegionIterArgs());
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (TileWrite &w : writes) {
    SmallVector<OpFoldResult> strides(w.sizes.size(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, w.value,
                                          forall.getRegionIterArgs()[w.output],
                                          w.offsets, w.sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

/// Per-tile views of the (D, N) coefficients.
struct TileCoeffs {
  Value p;
  Cx q, gamma;
};

TileCoeffs tileCoeffs(OpBuilder &b, Location loc, const ScanShape &s,
                      const ScanOperands &ops, const ScanTile &t) {
  SmallVector<OpFoldResult> offsets = {t.channel, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {t.channels, b.getIndexAttr(s.order)};
  auto cut = [&](Value v) { return slice(b, loc, v, offsets, sizes); };
  return {cut(ops.p),
          {cut(ops.q.re), cut(ops.q.im)},
          {cut(ops.gamma.re), cut(ops.gamma.im)}};
}

/// The (Db) row of a (B, L, D) tensor at local token `t` of the tile.
Value tokenRow(OpBuilder &b, Location loc, Value source, const ScanTile &tile,
               Value t) {
  Value token = arith::AddIOp::create(b, loc, tile.token, t);
  return slice(b, loc, source, {tile.batch, token, tile.channel},
               {b.getIndexAttr(1), b.getIndexAttr(1), tile.channels}, {0, 1});
}

/// bos[b, t0 + t] (false without bos).
Value bosAt(OpBuilder &b, Location loc, const ScanOperands &ops,
            const ScanTile &tile, Value t) {
  if (!ops.bos)
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
  Value token = arith::AddIOp::create(b, loc, tile.token, t);
  return tensor::ExtractOp::create(b, loc, ops.bos,
                                   ValueRange{tile.batch, token});
}

/// Forward scan of one tile from `init` (Db, N); returns the states
/// (len + 1, Db, N) with states[0] = init, states[t + 1] = h_t.
Cx scanTileStates(OpBuilder &b, Location loc, const ScanShape &s,
                  const ScanOperands &ops, const ScanTile &tile,
                  const TileCoeffs &k, Cx init) {
  MLIRContext *ctx = b.getContext();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value len = getValueOrCreateConstantIndexOp(b, loc, tile.tokens);
  OpFoldResult lenPlusOne = affine::makeComposedFoldedAffineApply(
      b, loc, b.getAffineDimExpr(0) + 1, {tile.tokens});
  SmallVector<OpFoldResult> bufSizes = {lenPlusOne, tile.channels,
                                        b.getIndexAttr(s.order)};
  SmallVector<OpFoldResult> rowSizes = {b.getIndexAttr(1), tile.channels,
                                        b.getIndexAttr(s.order)};
  SmallVector<OpFoldResult> firstRow = {b.getIndexAttr(0), b.getIndexAttr(0),
                                        b.getIndexAttr(0)};
  Value bufRe = insert(b, loc, init.re, empty(b, loc, bufSizes, b.getF32Type()),
                       firstRow, rowSizes);
  Value bufIm = insert(b, loc, init.im, empty(b, loc, bufSizes, b.getF32Type()),
                       firstRow, rowSizes);
  AffineMap perChannel = dimsMap(ctx, 2, {0});
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  auto loop = scf::ForOp::create(
      b, loc, zero, len, one, ValueRange{init.re, init.im, bufRe, bufIm},
      [&](OpBuilder &lb, Location lloc, Value t, ValueRange iter) {
        Value x = tokenRow(lb, lloc, ops.x, tile, t);
        Value reset = bosAt(lb, lloc, ops, tile, t);
        SmallVector<Value> h = generic(
            lb, lloc, ValueRange{x, k.p, k.q.re, k.q.im},
            ValueRange{iter[0], iter[1]}, {perChannel, id, id, id, id, id},
            {IteratorType::parallel, IteratorType::parallel},
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value input = mulf(nb, nloc, a[1], toF32(nb, nloc, a[0]));
              Cx decayed = cmul(nb, nloc, {a[2], a[3]}, {a[4], a[5]});
              Value zeroF = f32Constant(nb, nloc, 0.0);
              Cx kept = cselect(nb, nloc, reset, {zeroF, zeroF}, decayed);
              return SmallVector<Value>{addf(nb, nloc, kept.re, input),
                                        kept.im};
            });
        Value row = arith::AddIOp::create(lb, lloc, t, one);
        SmallVector<OpFoldResult> offsets = {row, lb.getIndexAttr(0),
                                             lb.getIndexAttr(0)};
        Value re = insert(lb, lloc, h[0], iter[2], offsets, rowSizes);
        Value im = insert(lb, lloc, h[1], iter[3], offsets, rowSizes);
        scf::YieldOp::create(lb, lloc, ValueRange{h[0], h[1], re, im});
      });
  return {loop.getResult(2), loop.getResult(3)};
}

/// states[1 : len + 1] (the h_t of the tile) and states[len] (its end).
Cx statesAfter(OpBuilder &b, Location loc, const ScanShape &s,
               const ScanTile &tile, Cx states) {
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(1), b.getIndexAttr(0),
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {tile.tokens, tile.channels,
                                     b.getIndexAttr(s.order)};
  return {slice(b, loc, states.re, offsets, sizes),
          slice(b, loc, states.im, offsets, sizes)};
}
Cx lastState(OpBuilder &b, Location loc, const ScanShape &s,
             const ScanTile &tile, Cx states) {
  SmallVector<OpFoldResult> offsets = {tile.tokens, b.getIndexAttr(0),
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), tile.channels,
                                     b.getIndexAttr(s.order)};
  return {slice(b, loc, states.re, offsets, sizes, {0}),
          slice(b, loc, states.im, offsets, sizes, {0})};
}

/// The (Db, N) slice [b, c, d0, 0] of a (B, nC, D, N) tensor.
SmallVector<OpFoldResult> chunkStateOffsets(OpBuilder &b, const ScanTile &t) {
  return {t.batch, t.chunk, t.channel, b.getIndexAttr(0)};
}
SmallVector<OpFoldResult> chunkStateSizes(OpBuilder &b, const ScanShape &s,
                                          const ScanTile &t) {
  return {b.getIndexAttr(1), b.getIndexAttr(1), t.channels,
          b.getIndexAttr(s.order)};
}
Cx chunkState(OpBuilder &b, Location loc, const ScanShape &s, const ScanTile &t,
              Cx all) {
  SmallVector<OpFoldResult> offsets = chunkStateOffsets(b, t);
  SmallVector<OpFoldResult> sizes = chunkStateSizes(b, s, t);
  return {slice(b, loc, all.re, offsets, sizes, {0, 1}),
          slice(b, loc, all.im, offsets, sizes, {0, 1})};
}

/// The sequential pass over chunks. Forward: returns the state entering
/// every chunk (B, nC, D, N) and the final state; carry' = A_c·carry +
/// local_c with A_c = q^len_c, or 0 when the chunk has a bos. Reverse
/// (conjugated decay, chunks from the last): the G entering every chunk
/// from the right and the final one (dhx).
std::pair<Cx, Cx> carryPass(OpBuilder &b, Location loc, const ScanShape &s,
                            const ScanOperands &ops, Cx local, Cx init,
                            bool reverse) {
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> allSizes =
      staticSizes(b, {s.batch, s.numChunks, s.channels, s.order});
  Value allInit = empty(b, loc, allSizes, b.getF32Type());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value count = arith::ConstantIndexOp::create(b, loc, s.numChunks);
  SmallVector<OpFoldResult> sliceSizes =
      staticSizes(b, {s.batch, 1, s.channels, s.order});
  AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap perBatch = dimsMap(ctx, 3, {0});
  AffineMap perCoeff = dimsMap(ctx, 3, {1, 2});
  auto loop = scf::ForOp::create(
      b, loc, zero, count, one, ValueRange{init.re, init.im, allInit, allInit},
      [&](OpBuilder &lb, Location lloc, Value i, ValueRange iter) {
        Value c = i;
        if (reverse)
          c = arith::SubIOp::create(
              lb, lloc,
              arith::ConstantIndexOp::create(lb, lloc, s.numChunks - 1), i);
        SmallVector<OpFoldResult> offsets = {
            lb.getIndexAttr(0), c, lb.getIndexAttr(0), lb.getIndexAttr(0)};
        Value allRe = insert(lb, lloc, iter[0], iter[2], offsets, sliceSizes);
        Value allIm = insert(lb, lloc, iter[1], iter[3], offsets, sliceSizes);
        Value localRe = slice(lb, lloc, local.re, offsets, sliceSizes, {1});
        Value localIm = slice(lb, lloc, local.im, offsets, sliceSizes, {1});
        Value first =
            slice(lb, lloc, ops.first, {lb.getIndexAttr(0), c},
                  {lb.getIndexAttr(s.batch), lb.getIndexAttr(1)}, {1});
        // len_c = min(C, L - c*C); the power table holds q^(k+1).
        AffineExpr d0 = lb.getAffineDimExpr(0);
        Value len = affine::AffineMinOp::create(
            lb, lloc,
            AffineMap::get(
                1, 0,
                {lb.getAffineConstantExpr(s.chunk), s.length - d0 * s.chunk},
                ctx),
            ValueRange{c});
        Value k = arith::SubIOp::create(lb, lloc, len, one);
        SmallVector<OpFoldResult> powOffsets = {k, lb.getIndexAttr(0),
                                                lb.getIndexAttr(0)};
        SmallVector<OpFoldResult> powSizes =
            staticSizes(lb, {1, s.channels, s.order});
        Value powRe = slice(lb, lloc, ops.powers.re, powOffsets, powSizes, {0});
        Value powIm = slice(lb, lloc, ops.powers.im, powOffsets, powSizes, {0});
        Value len64 =
            arith::IndexCastOp::create(lb, lloc, lb.getI64Type(), len);
        SmallVector<Value> next = generic(
            lb, lloc, ValueRange{localRe, localIm, first, powRe, powIm},
            ValueRange{iter[0], iter[1]},
            {id, id, perBatch, perCoeff, perCoeff, id, id},
            SmallVector<IteratorType>(3, IteratorType::parallel),
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Cx decay{a[3], a[4]};
              if (reverse)
                decay = conj(nb, nloc, decay);
              Value clean = arith::CmpIOp::create(
                  nb, nloc, arith::CmpIPredicate::sge, a[2], len64);
              Cx carried = cmul(nb, nloc, decay, {a[5], a[6]});
              Value zeroF = f32Constant(nb, nloc, 0.0);
              carried = cselect(nb, nloc, clean, carried, {zeroF, zeroF});
              Cx sum = cadd(nb, nloc, carried, {a[0], a[1]});
              return SmallVector<Value>{sum.re, sum.im};
            });
        scf::YieldOp::create(lb, lloc,
                             ValueRange{next[0], next[1], allRe, allIm});
      });
  return {{loop.getResult(2), loop.getResult(3)},
          {loop.getResult(0), loop.getResult(1)}};
}

/// Phases 0-2 of the forward scan: the operands with the power table and
/// first-bos table filled in, the local outputs yloc (B, L, D) f32 (when
/// `withOutput`), the state entering every chunk and the final state.
struct ForwardScan {
  Value localOutput;
  Cx incoming, final;
};

ForwardScan forwardScan(OpBuilder &b, Location loc, const ScanShape &s,
                        ScanOperands &ops, bool withOutput) {
  MLIRContext *ctx = b.getContext();
  ops.powers = powerTable(b, loc, s, ops.q);
  ops.first = firstBos(b, loc, s, ops.bos);
  SmallVector<OpFoldResult> chunkSizes =
      staticSizes(b, {s.batch, s.numChunks, s.channels, s.order});
  Value endInit = empty(b, loc, chunkSizes, b.getF32Type());
  SmallVector<Value> outputs = {endInit, endInit};
  if (withOutput)
    outputs.push_back(empty(b, loc,
                            staticSizes(b, {s.batch, s.length, s.channels}),
                            b.getF32Type()));
  SmallVector<Value> phase1 = buildScanForall(
      b, loc, s, outputs,
      [&](OpBuilder &tb, Location tloc, const ScanTile &tile, ValueRange) {
        TileCoeffs k = tileCoeffs(tb, tloc, s, ops, tile);
        SmallVector<OpFoldResult> stateSizes = {tile.channels,
                                                tb.getIndexAttr(s.order)};
        Value zero = zeros(tb, tloc, stateSizes);
        Cx states = scanTileStates(tb, tloc, s, ops, tile, k, {zero, zero});
        Cx end = lastState(tb, tloc, s, tile, states);
        SmallVector<TileWrite> writes = {
            {end.re, 0, chunkStateOffsets(tb, tile),
             chunkStateSizes(tb, s, tile)},
            {end.im, 1, chunkStateOffsets(tb, tile),
             chunkStateSizes(tb, s, tile)}};
        if (withOutput) {
          // yloc_t = x_t + Σ_n Re(γ_n h_t,n)
          SmallVector<OpFoldResult> offsets = {tile.batch, tile.token,
                                               tile.channel};
          SmallVector<OpFoldResult> sizes = {tb.getIndexAttr(1), tile.tokens,
                                             tile.channels};
          Value x = slice(tb, tloc, ops.x, offsets, sizes, {0});
          Value init = elementwise(
              tb, tloc, x, AffineMap::getMultiDimIdentityMap(2, ctx),
              empty(tb, tloc, {tile.tokens, tile.channels}, tb.getF32Type()),
              [](OpBuilder &nb, Location nloc, ValueRange a) {
                return SmallVector<Value>{toF32(nb, nloc, a[0])};
              })[0];
          Cx h = statesAfter(tb, tloc, s, tile, states);
          AffineMap full = AffineMap::getMultiDimIdentityMap(3, ctx);
          AffineMap coeff = dimsMap(ctx, 3, {1, 2});
          Value y = generic(
              tb, tloc, ValueRange{h.re, h.im, k.gamma.re, k.gamma.im}, init,
              {full, full, coeff, coeff, dimsMap(ctx, 3, {0, 1})},
              {IteratorType::parallel, IteratorType::parallel,
               IteratorType::reduction},
              [](OpBuilder &nb, Location nloc, ValueRange a) {
                Value re = cmul(nb, nloc, {a[2], a[3]}, {a[0], a[1]}).re;
                return SmallVector<Value>{addf(nb, nloc, a[4], re)};
              })[0];
          writes.push_back({y, 2, offsets, sizes});
        }
        return writes;
      });
  auto [incoming, final] =
      carryPass(b, loc, s, ops, {phase1[0], phase1[1]}, ops.hx, false);
  return {withOutput ? phase1[2] : Value(), incoming, final};
}

/// Checks shapes and options; fills the static shape.
FailureOr<ScanShape> scanShape(Operation *op, Value x, Value p,
                               const GeckoTileSizes &tiles) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto pType = cast<RankedTensorType>(p.getType());
  if (!xType.hasStaticShape() || !pType.hasStaticShape())
    return op->emitOpError()
           << "gecko-convert-to-linalg supports only static shapes, got "
           << xType;
  if (tiles.cemaChunk < 1 || tiles.cemaChannelBlock < 1)
    return op->emitOpError()
           << "cema-chunk-size and cema-channel-block must "
              "be positive, got "
           << tiles.cemaChunk << " and " << tiles.cemaChannelBlock;
  ScanShape s;
  s.batch = xType.getDimSize(0);
  s.length = xType.getDimSize(1);
  s.channels = xType.getDimSize(2);
  s.order = pType.getDimSize(1);
  s.chunk = std::max<int64_t>(1, std::min(tiles.cemaChunk, s.length));
  s.numChunks = (s.length + s.chunk - 1) / s.chunk;
  s.channelBlock =
      std::max<int64_t>(1, std::min(tiles.cemaChannelBlock, s.channels));
  return s;
}

ScanOperands scanOperands(OpBuilder &b, Location loc, const ScanShape &s,
                          Value x, Value p, Value q, Value gamma, Value hx,
                          Value bos) {
  ScanOperands ops;
  ops.x = x;
  ops.p = p;
  ops.q = splitComplex(b, loc, q);
  ops.gamma = splitComplex(b, loc, gamma);
  if (hx) {
    ops.hx = splitComplex(b, loc, hx);
  } else {
    Value z = zeros(b, loc, staticSizes(b, {s.batch, s.channels, s.order}));
    ops.hx = {z, z};
  }
  ops.bos = bos;
  return ops;
}

LogicalResult lowerCema(RewriterBase &rewriter, CemaOp op,
                        const GeckoTileSizes &tiles) {
  FailureOr<ScanShape> shape = scanShape(op, op.getX(), op.getP(), tiles);
  if (failed(shape))
    return failure();
  const ScanShape &s = *shape;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Type elementType = getElementTypeOrSelf(op.getY().getType());
  if (s.length == 0)
    return op.emitOpError() << "gecko-convert-to-linalg needs L >= 1";
  ScanOperands ops = scanOperands(b, loc, s, op.getX(), op.getP(), op.getQ(),
                                  op.getGammaC(), op.getHx(), op.getBos());
  ForwardScan fwd = forwardScan(b, loc, s, ops, /*withOutput=*/true);

  // Phase 3: y_t = yloc_t + [t − t0 < fb]·Σ_n Re(γ q^(t−t0+1) carry).
  Value yInit = empty(b, loc, staticSizes(b, {s.batch, s.length, s.channels}),
                      elementType);
  Value y = buildScanForall(
      b, loc, s, yInit,
      [&](OpBuilder &tb, Location tloc, const ScanTile &tile, ValueRange) {
        TileCoeffs k = tileCoeffs(tb, tloc, s, ops, tile);
        SmallVector<OpFoldResult> offsets = {tile.batch, tile.token,
                                             tile.channel};
        SmallVector<OpFoldResult> sizes = {tb.getIndexAttr(1), tile.tokens,
                                           tile.channels};
        Value yloc = slice(tb, tloc, fwd.localOutput, offsets, sizes, {0});
        Cx carry = chunkState(tb, tloc, s, tile, fwd.incoming);
        SmallVector<OpFoldResult> powOffsets = {
            tb.getIndexAttr(0), tile.channel, tb.getIndexAttr(0)};
        SmallVector<OpFoldResult> powSizes = {tile.tokens, tile.channels,
                                              tb.getIndexAttr(s.order)};
        Value powRe = slice(tb, tloc, ops.powers.re, powOffsets, powSizes);
        Value powIm = slice(tb, tloc, ops.powers.im, powOffsets, powSizes);
        Value first = tensor::ExtractOp::create(
            tb, tloc, ops.first, ValueRange{tile.batch, tile.chunk});
        AffineMap full = AffineMap::getMultiDimIdentityMap(3, ctx);
        AffineMap coeff = dimsMap(ctx, 3, {1, 2});
        Value fixed = generic(
            tb, tloc,
            ValueRange{powRe, powIm, carry.re, carry.im, k.gamma.re,
                       k.gamma.im},
            yloc,
            {full, full, coeff, coeff, coeff, coeff, dimsMap(ctx, 3, {0, 1})},
            {IteratorType::parallel, IteratorType::parallel,
             IteratorType::reduction},
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              Value t = arith::IndexCastOp::create(
                  nb, nloc, nb.getI64Type(),
                  linalg::IndexOp::create(nb, nloc, 0));
              Value before = arith::CmpIOp::create(
                  nb, nloc, arith::CmpIPredicate::slt, t, first);
              Cx h = cmul(nb, nloc, {a[0], a[1]}, {a[2], a[3]});
              Value re = cmul(nb, nloc, {a[4], a[5]}, h).re;
              Value add =
                  select(nb, nloc, before, re, f32Constant(nb, nloc, 0));
              return SmallVector<Value>{addf(nb, nloc, a[6], add)};
            })[0];
        Value cast = elementwise(
            tb, tloc, fixed, AffineMap::getMultiDimIdentityMap(2, ctx),
            empty(tb, tloc, {tile.tokens, tile.channels}, elementType),
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              return SmallVector<Value>{fromF32(nb, nloc, a[0], elementType)};
            })[0];
        return SmallVector<TileWrite>{{cast, 0, offsets, sizes}};
      })[0];
  rewriter.replaceOp(op, {y, joinComplex(b, loc, fwd.final)});
  return success();
}

LogicalResult lowerCemaGrad(RewriterBase &rewriter, CemaGradOp op,
                            const GeckoTileSizes &tiles) {
  FailureOr<ScanShape> shape = scanShape(op, op.getX(), op.getP(), tiles);
  if (failed(shape))
    return failure();
  const ScanShape &s = *shape;
  if (s.length == 0)
    return op.emitOpError() << "gecko-convert-to-linalg needs L >= 1";
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Type elementType = getElementTypeOrSelf(op.getDx().getType());
  ScanOperands ops = scanOperands(b, loc, s, op.getX(), op.getP(), op.getQ(),
                                  op.getGammaC(), op.getHx(), op.getBos());
  ForwardScan fwd = forwardScan(b, loc, s, ops, /*withOutput=*/false);
  Value dy = op.getDy();
  AffineMap perChannel = dimsMap(ctx, 2, {0});
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<IteratorType> par2(2, IteratorType::parallel);

  // Reverse local scan of one tile from `init`: P ← conj(a_t)·(u_t + P),
  // u_t = conj(γ)·dy_t. With `full`, also accumulates dx, dp, dγ, dq from
  // the states (len + 1, Db, N).
  struct ReverseResult {
    Cx carry;
    Value dx, dp;
    Cx dgamma, dq;
  };
  auto reverseScan = [&](OpBuilder &tb, Location tloc, const ScanTile &tile,
                         const TileCoeffs &k, Cx init,
                         const Cx *states) -> ReverseResult {
    Value zero = arith::ConstantIndexOp::create(tb, tloc, 0);
    Value one = arith::ConstantIndexOp::create(tb, tloc, 1);
    Value len = getValueOrCreateConstantIndexOp(tb, tloc, tile.tokens);
    SmallVector<OpFoldResult> stateSizes = {tile.channels,
                                            tb.getIndexAttr(s.order)};
    SmallVector<Value> inits = {init.re, init.im};
    if (states) {
      Value z = zeros(tb, tloc, stateSizes);
      inits.append(
          {empty(tb, tloc, {tile.tokens, tile.channels}, tb.getF32Type()), z, z,
           z, z, z});
    }
    auto loop = scf::ForOp::create(
        tb, tloc, zero, len, one, inits,
        [&](OpBuilder &lb, Location lloc, Value i, ValueRange iter) {
          Value t = arith::SubIOp::create(
              lb, lloc, arith::SubIOp::create(lb, lloc, len, one), i);
          Value g = tokenRow(lb, lloc, dy, tile, t);
          Value reset = bosAt(lb, lloc, ops, tile, t);
          Value zeroF = f32Constant(lb, lloc, 0.0);
          if (!states) {
            SmallVector<Value> next = generic(
                lb, lloc, ValueRange{g, k.q.re, k.q.im, k.gamma.re, k.gamma.im},
                ValueRange{iter[0], iter[1]},
                {perChannel, id2, id2, id2, id2, id2, id2}, par2,
                [&](OpBuilder &nb, Location nloc, ValueRange a) {
                  Value dout = toF32(nb, nloc, a[0]);
                  Cx u = conj(nb, nloc, {a[3], a[4]});
                  u = {mulf(nb, nloc, u.re, dout), mulf(nb, nloc, u.im, dout)};
                  Cx grad = cadd(nb, nloc, u, {a[5], a[6]});
                  Cx p = cmul(nb, nloc, conj(nb, nloc, {a[1], a[2]}), grad);
                  p = cselect(nb, nloc, reset, {zeroF, zeroF}, p);
                  return SmallVector<Value>{p.re, p.im};
                });
            scf::YieldOp::create(lb, lloc, next);
            return;
          }
          // dx_t = dy_t + Σ_n p·Re(G_t), Re(G_t) = Re(γ)·dy_t + Re(P).
          Value dxInit =
              elementwise(lb, lloc, g, dimsMap(ctx, 1, {0}),
                          empty(lb, lloc, {tile.channels}, lb.getF32Type()),
                          [](OpBuilder &nb, Location nloc, ValueRange a) {
                            return SmallVector<Value>{toF32(nb, nloc, a[0])};
                          })[0];
          Value dxRow =
              generic(lb, lloc, ValueRange{g, k.p, k.gamma.re, iter[0]}, dxInit,
                      {perChannel, id2, id2, id2, perChannel},
                      {IteratorType::parallel, IteratorType::reduction},
                      [](OpBuilder &nb, Location nloc, ValueRange a) {
                        Value dout = toF32(nb, nloc, a[0]);
                        Value re =
                            addf(nb, nloc, mulf(nb, nloc, a[2], dout), a[3]);
                        return SmallVector<Value>{
                            addf(nb, nloc, a[4], mulf(nb, nloc, a[1], re))};
                      })[0];
          Value dx = insert(lb, lloc, dxRow, iter[2], {t, lb.getIndexAttr(0)},
                            {lb.getIndexAttr(1), tile.channels});
          Value x = tokenRow(lb, lloc, ops.x, tile, t);
          SmallVector<OpFoldResult> rowSizes = {
              lb.getIndexAttr(1), tile.channels, lb.getIndexAttr(s.order)};
          auto stateRow = [&](Value row) -> Cx {
            SmallVector<OpFoldResult> offsets = {row, lb.getIndexAttr(0),
                                                 lb.getIndexAttr(0)};
            return {slice(lb, lloc, states->re, offsets, rowSizes, {0}),
                    slice(lb, lloc, states->im, offsets, rowSizes, {0})};
          };
          Cx prev = stateRow(t);
          Cx cur = stateRow(arith::AddIOp::create(lb, lloc, t, one));
          SmallVector<Value> next = generic(
              lb, lloc,
              ValueRange{g, x, k.q.re, k.q.im, k.gamma.re, k.gamma.im, cur.re,
                         cur.im, prev.re, prev.im},
              ValueRange{iter[0], iter[1], iter[3], iter[4], iter[5], iter[6],
                         iter[7]},
              {perChannel, perChannel, id2, id2, id2, id2, id2, id2, id2, id2,
               id2, id2, id2, id2, id2, id2, id2},
              par2, [&](OpBuilder &nb, Location nloc, ValueRange a) {
                Value dout = toF32(nb, nloc, a[0]);
                Value xin = toF32(nb, nloc, a[1]);
                Cx q{a[2], a[3]};
                Cx u = conj(nb, nloc, {a[4], a[5]});
                u = {mulf(nb, nloc, u.re, dout), mulf(nb, nloc, u.im, dout)};
                Cx grad = cadd(nb, nloc, u, {a[10], a[11]});
                Value dp = addf(nb, nloc, a[12], mulf(nb, nloc, xin, grad.re));
                Cx h = conj(nb, nloc, {a[6], a[7]});
                Cx dg = cadd(
                    nb, nloc, {a[13], a[14]},
                    {mulf(nb, nloc, h.re, dout), mulf(nb, nloc, h.im, dout)});
                Cx hp = cmul(nb, nloc, conj(nb, nloc, {a[8], a[9]}), grad);
                hp = cselect(nb, nloc, reset, {zeroF, zeroF}, hp);
                Cx dq = cadd(nb, nloc, {a[15], a[16]}, hp);
                Cx p = cmul(nb, nloc, conj(nb, nloc, q), grad);
                p = cselect(nb, nloc, reset, {zeroF, zeroF}, p);
                return SmallVector<Value>{p.re,  p.im,  dp,   dg.re,
                                          dg.im, dq.re, dq.im};
              });
          scf::YieldOp::create(lb, lloc,
                               ValueRange{next[0], next[1], dx, next[2],
                                          next[3], next[4], next[5], next[6]});
        });
    ReverseResult r;
    r.carry = {loop.getResult(0), loop.getResult(1)};
    if (states) {
      r.dx = loop.getResult(2);
      r.dp = loop.getResult(3);
      r.dgamma = {loop.getResult(4), loop.getResult(5)};
      r.dq = {loop.getResult(6), loop.getResult(7)};
    }
    return r;
  };

  // Reverse phase 1: each chunk's contribution to the chunk on its left.
  SmallVector<OpFoldResult> chunkSizes =
      staticSizes(b, {s.batch, s.numChunks, s.channels, s.order});
  Value chunkInit = empty(b, loc, chunkSizes, b.getF32Type());
  SmallVector<Value> left = buildScanForall(
      b, loc, s, ValueRange{chunkInit, chunkInit},
      [&](OpBuilder &tb, Location tloc, const ScanTile &tile, ValueRange) {
        TileCoeffs k = tileCoeffs(tb, tloc, s, ops, tile);
        Value zero = zeros(tb, tloc, {tile.channels, tb.getIndexAttr(s.order)});
        ReverseResult r = reverseScan(tb, tloc, tile, k, {zero, zero}, nullptr);
        return SmallVector<TileWrite>{
            {r.carry.re, 0, chunkStateOffsets(tb, tile),
             chunkStateSizes(tb, s, tile)},
            {r.carry.im, 1, chunkStateOffsets(tb, tile),
             chunkStateSizes(tb, s, tile)}};
      });
  // Reverse phase 2: the G entering each chunk from the right, from d_new_h.
  Cx dh;
  if (op.getDNewH()) {
    dh = splitComplex(b, loc, op.getDNewH());
  } else {
    Value z = zeros(b, loc, staticSizes(b, {s.batch, s.channels, s.order}));
    dh = {z, z};
  }
  auto [fromRight, dhx] =
      carryPass(b, loc, s, ops, {left[0], left[1]}, dh, /*reverse=*/true);

  // Phase 3: rescan states and G per chunk; dx and partial sums.
  Value dxInit = empty(b, loc, staticSizes(b, {s.batch, s.length, s.channels}),
                       elementType);
  SmallVector<Value> outputs = {dxInit};
  outputs.append(5, chunkInit);
  SmallVector<Value> parts = buildScanForall(
      b, loc, s, outputs,
      [&](OpBuilder &tb, Location tloc, const ScanTile &tile, ValueRange) {
        TileCoeffs k = tileCoeffs(tb, tloc, s, ops, tile);
        Cx carry = chunkState(tb, tloc, s, tile, fwd.incoming);
        Cx states = scanTileStates(tb, tloc, s, ops, tile, k, carry);
        Cx right = chunkState(tb, tloc, s, tile, fromRight);
        ReverseResult r = reverseScan(tb, tloc, tile, k, right, &states);
        Value dx = elementwise(
            tb, tloc, r.dx, id2,
            empty(tb, tloc, {tile.tokens, tile.channels}, elementType),
            [&](OpBuilder &nb, Location nloc, ValueRange a) {
              return SmallVector<Value>{fromF32(nb, nloc, a[0], elementType)};
            })[0];
        SmallVector<OpFoldResult> offsets = chunkStateOffsets(tb, tile);
        SmallVector<OpFoldResult> sizes = chunkStateSizes(tb, s, tile);
        return SmallVector<TileWrite>{
            {dx,
             0,
             {tile.batch, tile.token, tile.channel},
             {tb.getIndexAttr(1), tile.tokens, tile.channels}},
            {r.dp, 1, offsets, sizes},
            {r.dgamma.re, 2, offsets, sizes},
            {r.dgamma.im, 3, offsets, sizes},
            {r.dq.re, 4, offsets, sizes},
            {r.dq.im, 5, offsets, sizes}};
      });

  // Sum the partials over (batch, chunk).
  Value sumInit = zeros(b, loc, staticSizes(b, {s.channels, s.order}));
  AffineMap partMap = dimsMap(ctx, 4, {2, 3, 0, 1});
  AffineMap outMap = dimsMap(ctx, 4, {0, 1});
  SmallVector<AffineMap> maps(5, partMap);
  maps.append(5, outMap);
  SmallVector<Value> sums =
      generic(b, loc, ArrayRef<Value>(parts).drop_front(),
              SmallVector<Value>(5, sumInit), maps,
              {IteratorType::parallel, IteratorType::parallel,
               IteratorType::reduction, IteratorType::reduction},
              [](OpBuilder &nb, Location nloc, ValueRange a) {
                SmallVector<Value> r;
                for (int i = 0; i < 5; ++i)
                  r.push_back(addf(nb, nloc, a[5 + i], a[i]));
                return r;
              });
  SmallVector<Value> results = {parts[0], sums[0],
                                joinComplex(b, loc, {sums[3], sums[4]}),
                                joinComplex(b, loc, {sums[1], sums[2]})};
  if (op.getHx())
    results.push_back(joinComplex(b, loc, dhx));
  rewriter.replaceOp(op, results);
  return success();
}

LogicalResult lowerCoeffs(RewriterBase &rewriter, CemaCoeffsOp op) {
  auto alphaType = cast<RankedTensorType>(op.getAlpha().getType());
  if (!alphaType.hasStaticShape())
    return op.emitOpError()
           << "gecko-convert-to-linalg supports only static shapes, got "
           << alphaType;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  int64_t channels = alphaType.getDimSize(0), order = alphaType.getDimSize(1);
  SmallVector<OpFoldResult> sizes = staticSizes(b, {channels, order});
  auto complexType = ComplexType::get(b.getF32Type());
  Value gamma = op.getGamma();
  SmallVector<OpFoldResult> gSizes = staticSizes(b, {channels, order, 1});
  Value gRe = slice(b, loc, gamma, staticSizes(b, {0, 0, 0}), gSizes, {2});
  Value gIm = slice(b, loc, gamma, staticSizes(b, {0, 0, 1}), gSizes, {2});
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perChannel = dimsMap(ctx, 2, {0});
  double angleScale = kTwoPi / static_cast<double>(order);
  SmallVector<Value> r = generic(
      b, loc, ValueRange{op.getAlpha(), op.getDelta(), op.getTheta(), gRe, gIm},
      ValueRange{empty(b, loc, sizes, b.getF32Type()),
                 empty(b, loc, sizes, complexType),
                 empty(b, loc, sizes, complexType)},
      {id, id, perChannel, id, id, id, id, id},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value sa = sigmoid(nb, nloc, toF64(nb, nloc, a[0]));
        Value sd = sigmoid(nb, nloc, toF64(nb, nloc, a[1]));
        Value st = sigmoid(nb, nloc, toF64(nb, nloc, a[2]));
        Value n = arith::IndexCastOp::create(
            nb, nloc, nb.getI64Type(), linalg::IndexOp::create(nb, nloc, 1));
        Value n1 = arith::SIToFPOp::create(
            nb, nloc, nb.getF64Type(),
            arith::AddIOp::create(
                nb, nloc, n,
                arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), 1)));
        Value angle = mulf(nb, nloc, mulf(nb, nloc, n1, st),
                           f64Constant(nb, nloc, angleScale));
        Value magnitude =
            subf(nb, nloc, f64Constant(nb, nloc, 1.0), mulf(nb, nloc, sa, sd));
        Value qRe =
            mulf(nb, nloc, magnitude, math::CosOp::create(nb, nloc, angle));
        Value qIm =
            mulf(nb, nloc, magnitude, math::SinOp::create(nb, nloc, angle));
        return SmallVector<Value>{
            narrow(nb, nloc, sa, nb.getF32Type()),
            complex::CreateOp::create(nb, nloc, complexType,
                                      narrow(nb, nloc, qRe, nb.getF32Type()),
                                      narrow(nb, nloc, qIm, nb.getF32Type())),
            complex::CreateOp::create(nb, nloc, complexType,
                                      toF32(nb, nloc, a[3]),
                                      toF32(nb, nloc, a[4]))};
      });
  rewriter.replaceOp(op, r);
  return success();
}

LogicalResult lowerCoeffsGrad(RewriterBase &rewriter, CemaCoeffsGradOp op) {
  auto alphaType = cast<RankedTensorType>(op.getAlpha().getType());
  if (!alphaType.hasStaticShape())
    return op.emitOpError()
           << "gecko-convert-to-linalg supports only static shapes, got "
           << alphaType;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  int64_t channels = alphaType.getDimSize(0), order = alphaType.getDimSize(1);
  SmallVector<OpFoldResult> sizes = staticSizes(b, {channels, order});
  auto typeOf = [](Value v) { return getElementTypeOrSelf(v.getType()); };
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perChannel = dimsMap(ctx, 2, {0});
  double angleScale = kTwoPi / static_cast<double>(order);
  Type dAlphaType = typeOf(op.getDalpha()), dDeltaType = typeOf(op.getDdelta());
  // Per (d, n): dalpha, ddelta and (n + 1)·dφ (f64).
  auto terms = [&](OpBuilder &nb, Location nloc, ValueRange a) {
    Value one = f64Constant(nb, nloc, 1.0);
    Value sa = sigmoid(nb, nloc, toF64(nb, nloc, a[0]));
    Value sd = sigmoid(nb, nloc, toF64(nb, nloc, a[1]));
    Value st = sigmoid(nb, nloc, toF64(nb, nloc, a[2]));
    Value n = arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                         linalg::IndexOp::create(nb, nloc, 1));
    Value n1 = arith::SIToFPOp::create(
        nb, nloc, nb.getF64Type(),
        arith::AddIOp::create(
            nb, nloc, n,
            arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), 1)));
    Value angle = mulf(nb, nloc, mulf(nb, nloc, n1, st),
                       f64Constant(nb, nloc, angleScale));
    Value magnitude = subf(nb, nloc, one, mulf(nb, nloc, sa, sd));
    Cx dq{toF64(nb, nloc, complex::ReOp::create(nb, nloc, a[4])),
          toF64(nb, nloc, complex::ImOp::create(nb, nloc, a[4]))};
    // dq·e^{−iφ}: its real part is d|q|, its imaginary part times |q| is dφ.
    Cx rot = cmul(nb, nloc, dq,
                  {math::CosOp::create(nb, nloc, angle),
                   negf(nb, nloc, math::SinOp::create(nb, nloc, angle))});
    Value dAngle = mulf(nb, nloc, rot.im, magnitude);
    Value dsa = mulf(nb, nloc, sa, subf(nb, nloc, one, sa));
    Value dsd = mulf(nb, nloc, sd, subf(nb, nloc, one, sd));
    Value dAlpha = mulf(
        nb, nloc,
        subf(nb, nloc, toF64(nb, nloc, a[3]), mulf(nb, nloc, rot.re, sd)), dsa);
    Value dDelta =
        negf(nb, nloc, mulf(nb, nloc, mulf(nb, nloc, rot.re, sa), dsd));
    return SmallVector<Value>{dAlpha, dDelta, mulf(nb, nloc, dAngle, n1)};
  };
  SmallVector<Value> params = {op.getAlpha(), op.getDelta(), op.getTheta(),
                               op.getDp(), op.getDq()};
  SmallVector<AffineMap> paramMaps = {id, id, perChannel, id, id};
  SmallVector<AffineMap> pairMaps(paramMaps);
  pairMaps.append({id, id});
  SmallVector<Value> r =
      generic(b, loc, params,
              ValueRange{empty(b, loc, sizes, dAlphaType),
                         empty(b, loc, sizes, dDeltaType)},
              pairMaps, {IteratorType::parallel, IteratorType::parallel},
              [&](OpBuilder &nb, Location nloc, ValueRange a) {
                SmallVector<Value> t = terms(nb, nloc, a);
                return SmallVector<Value>{narrow(nb, nloc, t[0], dAlphaType),
                                          narrow(nb, nloc, t[1], dDeltaType)};
              });
  SmallVector<AffineMap> sumMaps(paramMaps);
  sumMaps.push_back(perChannel);
  Value angleSum = generic(
      b, loc, params,
      filled(b, loc, staticSizes(b, {channels}), f64Constant(b, loc, 0.0)),
      sumMaps, {IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        return SmallVector<Value>{addf(nb, nloc, a[5], terms(nb, nloc, a)[2])};
      })[0];
  Type dThetaType = typeOf(op.getDtheta());
  Value dTheta = elementwise(
      b, loc, ValueRange{angleSum, op.getTheta()},
      {dimsMap(ctx, 1, {0}), dimsMap(ctx, 1, {0})},
      empty(b, loc, staticSizes(b, {channels}), dThetaType),
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value st = sigmoid(nb, nloc, toF64(nb, nloc, a[1]));
        Value dst =
            mulf(nb, nloc, st, subf(nb, nloc, f64Constant(nb, nloc, 1.0), st));
        Value v =
            mulf(nb, nloc,
                 mulf(nb, nloc, a[0], f64Constant(nb, nloc, angleScale)), dst);
        return SmallVector<Value>{narrow(nb, nloc, v, dThetaType)};
      })[0];
  Type dGammaType = typeOf(op.getDgamma());
  Value dGamma = generic(
      b, loc, op.getDgammaC(),
      empty(b, loc, staticSizes(b, {channels, order, 2}), dGammaType),
      {dimsMap(ctx, 3, {0, 1}), AffineMap::getMultiDimIdentityMap(3, ctx)},
      SmallVector<IteratorType>(3, IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value isRe =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                  linalg::IndexOp::create(nb, nloc, 2),
                                  arith::ConstantIndexOp::create(nb, nloc, 0));
        Value v = select(nb, nloc, isRe, complex::ReOp::create(nb, nloc, a[0]),
                         complex::ImOp::create(nb, nloc, a[0]));
        return SmallVector<Value>{fromF32(nb, nloc, v, dGammaType)};
      })[0];
  rewriter.replaceOp(op, {r[0], r[1], dTheta, dGamma});
  return success();
}

} // namespace

LogicalResult lowerComplexEmaOp(RewriterBase &rewriter, Operation *op,
                                const GeckoTileSizes &tiles) {
  if (auto cema = dyn_cast<CemaOp>(op))
    return lowerCema(rewriter, cema, tiles);
  if (auto grad = dyn_cast<CemaGradOp>(op))
    return lowerCemaGrad(rewriter, grad, tiles);
  if (auto coeffs = dyn_cast<CemaCoeffsOp>(op))
    return lowerCoeffs(rewriter, coeffs);
  if (auto coeffsGrad = dyn_cast<CemaCoeffsGradOp>(op))
    return lowerCoeffsGrad(rewriter, coeffsGrad);
  return op->emitOpError() << "is not a complex EMA op";
}

} // namespace mlir::gecko
