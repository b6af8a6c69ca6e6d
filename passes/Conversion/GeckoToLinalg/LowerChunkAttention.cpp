//===- LowerChunkAttention.cpp - Sliding chunk attention to linalg --------===//
//
// spec §5, flash-attention style. Keys are addressed as two sources: the
// call's own keys `k` (positions in call coordinates) and the cache `prev_k`.
//
// Forward: an scf.forall over (batch, head, chunk, query tile); the short
// path is one "chunk" of all L queries. Each tile walks the key tiles of its
// window with scf.for loops carrying the online-softmax state in f32 (running
// row max m, row sum l, accumulator acc): the previous chunk (chunk c - 1 of
// `k`, or the cache for chunk 0 / the short path), then the current chunk up
// to the tile's last query when causal (key tiles entirely in the future are
// never visited). Per key tile: S = Q Kᵀ (f32 linalg.generic contraction),
// masked scores -> -inf (causal, segments), m' = max(m, rowmax S),
// alpha = exp(m - m'), P = exp(S - m'), l' = alpha l + rowsum P,
// acc' = alpha acc + P V. Rows that see no key keep m = -inf (the exponent
// then uses 0) and l = 0, and output 0.
//
// Backward (flash-attention 2 with a separate dQ pass, no atomics):
//  1. forall over query tiles: recompute the statistics (same walk as the
//     forward), LSE = m + log l (+inf for empty rows), O, D = rowsum(dO ∘ O),
//     then a second walk over the same key tiles accumulating
//     dQ += dS K with P = exp(S - LSE), dS = P ∘ (dO Vᵀ - D).
//  2. forall over key tiles of `k` (and one over the cache): walk the query
//     tiles that see the key tile (causal: from the key tile's first
//     position; up to the end of the next chunk) accumulating dV += Pᵀ dO and
//     dK += dSᵀ Q.
// Scores and probabilities exist only as (query tile x key tile) f32 blocks.
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace mlir::gecko {

namespace {

using utils::IteratorType;

/// The operands and static sizes of a chunk_attention(_grad) op or of a
/// fused_chunk_attention.
struct Attention {
  Value q, k, v, prevK, prevV, seg, prevSeg;
  // fused_chunk_attention with a z split prologue: q/k rows are formed from
  // z (B, L, H, dk) per tile (`q` then holds z, `k` is null); `start` (i64)
  // and `inverseFrequency` are set with a rope, which rotates the heads
  // below `ropeHeads`.
  Value z, gamma, beta, start, inverseFrequency;
  double eps = 0.0;
  int64_t ropeHeads = 0;
  // Computed once per call before the attention forall (null: per tile):
  // rsqrt(mean(z²) + eps) per (b, h, l), (B, H, L) f32, and the rope's
  // cos / sin of (start + l)·f_j, (1, L, 1, dk/2) f32.
  Value rowScale, cosTable, sinTable;
  // Epilogue: out = attention·gate + addend (gate optional).
  Value addend, gate;
  bool chunked = false, causal = false;
  int64_t batch = 0, length = 0, heads = 0, keyDim = 0, valueDim = 0;
  int64_t cacheLength = 0;
  int64_t chunkLength = 0; // queries per window: C, or L on the short path
  int64_t numChunks = 0;
  int64_t queryTile = 0, keyTile = 0;
};

template <typename OpTy>
FailureOr<Attention> analyse(OpTy op, const GeckoTileSizes &tiles) {
  for (Value operand : op->getOperands()) {
    if (!isa<ShapedType>(operand.getType()))
      continue; // the rope start
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!type || !type.hasStaticShape()) {
      op.emitOpError() << "gecko-convert-to-linalg supports only statically "
                          "shaped tensors";
      return failure();
    }
  }
  Attention a;
  a.q = op.getQ();
  a.k = op.getK();
  if constexpr (std::is_same_v<OpTy, FusedChunkAttentionOp>) {
    a.addend = op.getAddend();
    a.gate = op.getGate();
    if (!a.q) {
      a.q = a.z = op.getZ();
      a.gamma = op.getGamma();
      a.beta = op.getBeta();
      a.eps = op.getEps()->convertToDouble();
      a.start = op.getStart();
    }
  }
  a.v = op.getV();
  a.prevK = op.getPrevK();
  a.prevV = op.getPrevV();
  a.seg = op.getSeg();
  a.prevSeg = op.getPrevSeg();
  a.chunked = op.getPath() == ChunkPath::Chunked;
  a.causal = op.getCausal();
  ArrayRef<int64_t> qShape = cast<RankedTensorType>(a.q.getType()).getShape();
  a.batch = qShape[0];
  a.length = qShape[1];
  a.heads = qShape[2];
  a.keyDim = qShape[3];
  a.valueDim = cast<RankedTensorType>(a.v.getType()).getShape()[3];
  if (a.prevK)
    a.cacheLength = cast<RankedTensorType>(a.prevK.getType()).getShape()[1];
  int64_t chunk = static_cast<int64_t>(op.getChunkSize());
  a.chunkLength = a.chunked ? chunk : a.length;
  a.numChunks = a.chunked ? a.length / chunk : 1;
  a.queryTile = tiles.attentionQueries;
  a.keyTile = tiles.attentionKeys;
  return a;
}

OpFoldResult constIndex(OpBuilder &b, int64_t value) {
  return b.getIndexAttr(value);
}

Value indexValue(OpBuilder &b, Location loc, OpFoldResult value) {
  return getValueOrCreateConstantIndexOp(b, loc, value);
}

/// min(tile, end - offset).
OpFoldResult clampedSize(OpBuilder &b, Location loc, OpFoldResult offset,
                         OpFoldResult end, int64_t tile) {
  AffineExpr d0, d1;
  bindDims(b.getContext(), d0, d1);
  AffineMap map = AffineMap::get(2, 0, {b.getAffineConstantExpr(tile), d1 - d0},
                                 b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset, end});
}

/// d0 * scale + offset.
OpFoldResult scaled(OpBuilder &b, Location loc, OpFoldResult value,
                    int64_t scale, int64_t offset) {
  AffineExpr d0 = b.getAffineDimExpr(0);
  return affine::makeComposedFoldedAffineApply(b, loc, d0 * scale + offset,
                                               {value});
}

OpFoldResult add(OpBuilder &b, Location loc, OpFoldResult x, OpFoldResult y) {
  AffineExpr d0, d1;
  bindDims(b.getContext(), d0, d1);
  return affine::makeComposedFoldedAffineApply(b, loc, d0 + d1, {x, y});
}

/// Rows [offset, offset + size) of head `head` of batch row `batch` of a
/// (B, T, H, d) tensor, as a (size, d) tensor.
Value headRows(OpBuilder &b, Location loc, Value source, Value batch,
               OpFoldResult offset, OpFoldResult size, Value head) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> offsets = {batch, offset, head, constIndex(b, 0)};
  SmallVector<OpFoldResult> sizes = {constIndex(b, 1), size, constIndex(b, 1),
                                     constIndex(b, type.getDimSize(3))};
  SmallVector<OpFoldResult> strides(4, constIndex(b, 1));
  auto resultType = tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
      2, type, sizes);
  return tensor::ExtractSliceOp::create(b, loc, resultType, source, offsets,
                                        sizes, strides);
}

/// Entries [offset, offset + size) of row `batch` of a (B, T) tensor, or of
/// row (batch, head) of a (B, H, T) tensor, as a (size) tensor.
Value rowEntries(OpBuilder &b, Location loc, Value source, ValueRange lead,
                 OpFoldResult offset, OpFoldResult size) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> offsets(lead.begin(), lead.end());
  offsets.push_back(offset);
  SmallVector<OpFoldResult> sizes(lead.size(), constIndex(b, 1));
  sizes.push_back(size);
  SmallVector<OpFoldResult> strides(type.getRank(), constIndex(b, 1));
  auto resultType = tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
      1, type, sizes);
  return tensor::ExtractSliceOp::create(b, loc, resultType, source, offsets,
                                        sizes, strides);
}

/// An f32 tensor of the given sizes filled with `value`.
Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             double value) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, value), init)
      .getResult(0);
}

/// acc[d0, d1] += ext(lhs) * ext(rhs) over the iteration space (d0, d1, d2),
/// d2 the reduction: a linalg.generic contraction with f32 accumulation.
Value contract(OpBuilder &b, Location loc, Value lhs, AffineMap lhsMap,
               Value rhs, AffineMap rhsMap, Value acc) {
  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1;
  bindDims(ctx, d0, d1);
  AffineMap accMap = AffineMap::get(3, 0, {d0, d1}, ctx);
  SmallVector<IteratorType> iterators = {
      IteratorType::parallel, IteratorType::parallel, IteratorType::reduction};
  auto generic = linalg::GenericOp::create(
      b, loc, acc.getType(), ValueRange{lhs, rhs}, acc,
      ArrayRef<AffineMap>{lhsMap, rhsMap, accMap}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value product = arith::MulFOp::create(
            nb, nloc, toF32(nb, nloc, args[0]), toF32(nb, nloc, args[1]));
        linalg::YieldOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, args[2], product).getResult());
      });
  return generic.getResult(0);
}

/// The affine map (d0, d1, d2) -> (dA, dB).
AffineMap pick(MLIRContext *ctx, unsigned first, unsigned second) {
  return AffineMap::get(
      3, 0, {getAffineDimExpr(first, ctx), getAffineDimExpr(second, ctx)}, ctx);
}

/// A linalg.generic over rank-2 (i, j) whose inputs are indexed by the
/// given maps and whose one output (identity) is `init`.
Value generic2d(OpBuilder &b, Location loc, ValueRange inputs,
                ArrayRef<AffineMap> maps, Value init,
                ArrayRef<IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<AffineMap> allMaps(maps);
  allMaps.push_back(b.getMultiDimIdentityMap(2));
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, allMaps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return generic.getResult(0);
}

AffineMap rowMap(OpBuilder &b) {
  return AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, b.getContext());
}
AffineMap columnMap(OpBuilder &b) {
  return AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext());
}

/// rsqrt(mean(z²) + eps) of each row of `zRows` (size, dk): (size) f32.
Value rowStatistics(OpBuilder &b, Location loc, const Attention &a,
                    Value zRows) {
  Value squares = sumLastDim(
      b, loc, zRows, {},
      [](OpBuilder &nb, Location nloc, Value x, ValueRange) -> Value {
        return arith::MulFOp::create(nb, nloc, x, x);
      });
  double inverseSize = 1.0 / static_cast<double>(a.keyDim);
  return elementwise(
      b, loc, squares, b.getMultiDimIdentityMap(1),
      emptyLike(b, loc, squares, b.getF32Type()),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value mean = arith::MulFOp::create(nb, nloc, args[0],
                                           f32Constant(nb, nloc, inverseSize));
        Value shifted =
            arith::AddFOp::create(nb, nloc, mean, f32Constant(nb, nloc, a.eps));
        return SmallVector<Value>{math::RsqrtOp::create(nb, nloc, shifted)};
      })[0];
}

/// cos and sin (size, dk/2) f32 of the rope angles (start + offset + i)·f_j,
/// as gecko.rope forms them.
std::pair<Value, Value> angleRows(OpBuilder &b, Location loc,
                                  const Attention &a, OpFoldResult offset,
                                  OpFoldResult size) {
  int64_t half = a.keyDim / 2;
  Value first = arith::AddIOp::create(
      b, loc, a.start,
      arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                 indexValue(b, loc, offset)));
  SmallVector<OpFoldResult> sizes = {size, b.getIndexAttr(half)};
  Value cosInit = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value sinInit = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  SmallVector<Value> angles = elementwise(
      b, loc, a.inverseFrequency, columnMap(b), ValueRange{cosInit, sinInit},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value position = arith::AddIOp::create(
            nb, nloc, first,
            arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                       linalg::IndexOp::create(nb, nloc, 0)));
        Value angle = arith::MulFOp::create(
            nb, nloc,
            arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), position),
            args[0]);
        return SmallVector<Value>{math::CosOp::create(nb, nloc, angle),
                                  math::SinOp::create(nb, nloc, angle)};
      });
  return {angles[0], angles[1]};
}

/// The affine of z split row `row` for head `head`: s = (gamma + 1)/sqrt(dk)
/// (rounded to the parameter type at each step, as gecko.z_split) and beta,
/// both (dk) f32. Formed once per tile, outside the key loops.
struct SplitAffine {
  Value scale, shift;
};
SplitAffine splitAffine(OpBuilder &b, Location loc, const Attention &a,
                        int64_t row, Value head) {
  auto paramRow = [&](Value param) -> Value {
    auto paramType = cast<RankedTensorType>(param.getType());
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(row), head,
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(a.keyDim)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({a.keyDim}, paramType.getElementType()),
        param, offsets, sizes, strides);
  };
  Type paramType = cast<RankedTensorType>(a.gamma.getType()).getElementType();
  double rootDim = std::sqrt(static_cast<double>(a.keyDim));
  AffineMap identity = b.getMultiDimIdentityMap(1);
  auto f32Row = [&]() {
    return tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{a.keyDim},
                                   b.getF32Type())
        .getResult();
  };
  SmallVector<Value> rows = elementwise(
      b, loc, ValueRange{paramRow(a.gamma), paramRow(a.beta)},
      {identity, identity}, ValueRange{f32Row(), f32Row()},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value scale =
            fromF32(nb, nloc,
                    arith::AddFOp::create(nb, nloc, toF32(nb, nloc, args[0]),
                                          f32Constant(nb, nloc, 1.0)),
                    paramType);
        scale = toF32(
            nb, nloc,
            fromF32(nb, nloc,
                    arith::DivFOp::create(nb, nloc, toF32(nb, nloc, scale),
                                          f32Constant(nb, nloc, rootDim)),
                    paramType));
        return SmallVector<Value>{scale, toF32(nb, nloc, args[1])};
      });
  return {rows[0], rows[1]};
}

/// The z split prologue of gecko.fused_chunk_attention: rows
/// [offset, offset + size) of head `head` of q (`row` 0) or k (`row` 1),
/// formed from z as gecko.z_split does (f32 sum of squares over dk,
/// zn = z·rsqrt(sum/dk + eps), zn·s + beta rounded to the activation type
/// with s = (gamma + 1)/sqrt(dk) rounded to the parameter type), then
/// rotated as gecko.rope does when the op has a rope (heads below
/// ropeHeads). The row statistics and the cos / sin come from the per-call
/// tables when they exist. A (size, dk) tile in the activation type.
Value splitRows(OpBuilder &b, Location loc, const Attention &a,
                const SplitAffine &affine, Value batch, OpFoldResult offset,
                OpFoldResult size, Value head) {
  Type type = cast<RankedTensorType>(a.z.getType()).getElementType();
  Value zRows = headRows(b, loc, a.z, batch, offset, size, head);
  Value rstd = a.rowScale ? rowEntries(b, loc, a.rowScale,
                                       ValueRange{batch, head}, offset, size)
                          : rowStatistics(b, loc, a, zRows);
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  AffineMap identity = b.getMultiDimIdentityMap(2);
  Value split = generic2d(
      b, loc, {zRows, rstd, affine.scale, affine.shift},
      {identity, rowMap(b), columnMap(b), columnMap(b)},
      emptyLike(b, loc, zRows, type), parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value scale = args[2];
        Value normed =
            arith::MulFOp::create(nb, nloc, toF32(nb, nloc, args[0]), args[1]);
        Value scaled = arith::MulFOp::create(nb, nloc, normed, scale);
        Value shifted = arith::AddFOp::create(nb, nloc, scaled, args[3]);
        return fromF32(nb, nloc, shifted, type);
      });
  if (!a.start || a.ropeHeads == 0)
    return split;

  // Rope: cos/sin (size, dk/2) of pos·f_j, pos = start + offset + i, then
  // the even/odd pairs (stride-2 slices) rotated into (size, dk/2, 2).
  int64_t half = a.keyDim / 2;
  std::pair<Value, Value> angles;
  if (a.cosTable) {
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    angles = {headRows(b, loc, a.cosTable, zero, offset, size, zero),
              headRows(b, loc, a.sinTable, zero, offset, size, zero)};
  } else {
    angles = angleRows(b, loc, a, offset, size);
  }
  auto pairs = [&](int64_t parity) -> Value {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                         b.getIndexAttr(parity)};
    SmallVector<OpFoldResult> sizes = {size, b.getIndexAttr(half)};
    SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(2)};
    return tensor::ExtractSliceOp::create(b, loc, split, offsets, sizes,
                                          strides);
  };
  Value rotates;
  if (a.ropeHeads < a.heads) {
    Value limit = arith::ConstantIndexOp::create(b, loc, a.ropeHeads);
    rotates =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, head, limit);
  }
  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1;
  bindDims(ctx, d0, d1);
  AffineMap perPair = AffineMap::get(3, 0, {d0, d1}, ctx);
  Value pairInit = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{size, b.getIndexAttr(half), b.getIndexAttr(2)},
      type);
  Value rotated = elementwise(
      b, loc, ValueRange{pairs(0), pairs(1), angles.first, angles.second},
      {perPair, perPair, perPair, perPair}, pairInit,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value x0 = toF32(nb, nloc, args[0]);
        Value x1 = toF32(nb, nloc, args[1]);
        Value c = args[2], sn = args[3];
        // (x0 + i x1) * (c + i s)
        Value re = arith::SubFOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, x0, c),
            arith::MulFOp::create(nb, nloc, x1, sn));
        Value im = arith::AddFOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, x0, sn),
            arith::MulFOp::create(nb, nloc, x1, c));
        Value isReal =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                  linalg::IndexOp::create(nb, nloc, 2),
                                  arith::ConstantIndexOp::create(nb, nloc, 0));
        Value value = fromF32(
            nb, nloc, arith::SelectOp::create(nb, nloc, isReal, re, im), type);
        if (rotates) {
          Value kept =
              arith::SelectOp::create(nb, nloc, isReal, args[0], args[1]);
          value = arith::SelectOp::create(nb, nloc, rotates, value, kept);
        }
        return SmallVector<Value>{value};
      })[0];
  return tensor::CollapseShapeOp::create(
      b, loc, rotated, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

/// A block of queries: rows [start, start + size) of the call.
struct QueryTile {
  Value batch, head;
  OpFoldResult start, size;
  Value q, seg;          // (size, dk) in the operand type; (size) i64 or null
  SplitAffine keyAffine; // z split prologue: row 1 of the tile's head
};

/// A block of keys of one source.
struct KeyTile {
  OpFoldResult start, size; // positions in the source
  Value keys, values, seg;  // (size, dk), (size, dv), (size) i64 or null
  bool causalMask = false;  // key positions are call positions: mask j > i
};

/// Where keys come from: the call's k/v or the cache. `causalMask`: key
/// positions are call positions that a query may precede (the current chunk).
struct KeySource {
  Value keys, values, seg;
  bool causalMask;
  /// The keys are formed from z by the z split prologue (splitRows).
  bool fromSplit = false;
};

/// S = Q Kᵀ (f32, (queries, keys)) with masked entries set to -inf.
Value maskedScores(OpBuilder &b, Location loc, const Attention &a,
                   const QueryTile &qt, const KeyTile &kt) {
  MLIRContext *ctx = b.getContext();
  Value scores = filled(b, loc, {qt.size, kt.size}, 0.0);
  scores =
      contract(b, loc, qt.q, pick(ctx, 0, 2), kt.keys, pick(ctx, 1, 2), scores);
  bool causal = a.causal && kt.causalMask;
  if (!causal && !qt.seg)
    return scores;
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  if (qt.seg) {
    inputs = {qt.seg, kt.seg};
    maps = {rowMap(b), columnMap(b)};
  }
  Value queryStart = indexValue(b, loc, qt.start);
  Value keyStart = indexValue(b, loc, kt.start);
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  return generic2d(
      b, loc, inputs, maps, scores, parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value allowed;
        if (causal) {
          Value i = arith::AddIOp::create(nb, nloc, queryStart,
                                          linalg::IndexOp::create(nb, nloc, 0));
          Value j = arith::AddIOp::create(nb, nloc, keyStart,
                                          linalg::IndexOp::create(nb, nloc, 1));
          allowed =
              arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, j, i);
        }
        if (qt.seg) {
          Value same = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                             args[0], args[1]);
          allowed =
              allowed
                  ? arith::AndIOp::create(nb, nloc, allowed, same).getResult()
                  : same;
        }
        Value minusInf =
            f32Constant(nb, nloc, -std::numeric_limits<double>::infinity());
        return arith::SelectOp::create(nb, nloc, allowed, args.back(),
                                       minusInf);
      });
}

using KeyStepFn = function_ref<SmallVector<Value>(
    OpBuilder &, Location, const KeyTile &, ValueRange state)>;

/// scf.for over the key tiles of [begin, end) of `source`, threading
/// `state` through `step`.
SmallVector<Value> forKeyTiles(OpBuilder &b, Location loc, const Attention &a,
                               const KeySource &source, const QueryTile &qt,
                               OpFoldResult begin, OpFoldResult end,
                               ValueRange state, KeyStepFn step) {
  Value lower = indexValue(b, loc, begin);
  Value upper = indexValue(b, loc, end);
  Value stepSize = arith::ConstantIndexOp::create(b, loc, a.keyTile);
  auto loop = scf::ForOp::create(
      b, loc, lower, upper, stepSize, state,
      [&](OpBuilder &lb, Location lloc, Value j, ValueRange iter) {
        KeyTile kt;
        kt.start = j;
        kt.size = clampedSize(lb, lloc, j, upper, a.keyTile);
        kt.keys = source.fromSplit ? splitRows(lb, lloc, a, qt.keyAffine,
                                               qt.batch, j, kt.size, qt.head)
                                   : headRows(lb, lloc, source.keys, qt.batch,
                                              j, kt.size, qt.head);
        kt.values =
            headRows(lb, lloc, source.values, qt.batch, j, kt.size, qt.head);
        if (source.seg)
          kt.seg = rowEntries(lb, lloc, source.seg, qt.batch, j, kt.size);
        kt.causalMask = source.causalMask;
        scf::YieldOp::create(lb, lloc, step(lb, lloc, kt, iter));
      });
  return llvm::to_vector_of<Value>(loop.getResults());
}

/// Visits the key tiles the query tile `qt` of chunk `chunk` may see: the
/// previous chunk (or the cache), then the current chunk, causally bounded.
SmallVector<Value> visitWindow(OpBuilder &b, Location loc, const Attention &a,
                               const QueryTile &qt, Value chunk,
                               ValueRange state, KeyStepFn step) {
  bool fromSplit = static_cast<bool>(a.z);
  KeySource current{a.k, a.v, a.seg, true, fromSplit};
  KeySource previous{a.k, a.v, a.seg, false, fromSplit}; // in the past
  KeySource cache{a.prevK, a.prevV, a.prevSeg, false};
  OpFoldResult chunkStart = scaled(b, loc, chunk, a.chunkLength, 0);
  SmallVector<Value> s(state);
  bool hasCache = a.prevK && a.cacheLength > 0;
  if (a.chunked) {
    AffineExpr d0 = b.getAffineDimExpr(0);
    AffineMap startMap = AffineMap::get(
        1, 0, {d0 * a.chunkLength - a.chunkLength, b.getAffineConstantExpr(0)},
        b.getContext());
    OpFoldResult previousStart =
        affine::makeComposedFoldedAffineMax(b, loc, startMap, {chunk});
    if (hasCache) {
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value first =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, chunk, zero);
      auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(state)), first,
                                    /*addThenBlock=*/true,
                                    /*addElseBlock=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        scf::YieldOp::create(b, loc,
                             forKeyTiles(b, loc, a, cache, qt, constIndex(b, 0),
                                         constIndex(b, a.cacheLength), s,
                                         step));
        b.setInsertionPointToStart(ifOp.elseBlock());
        scf::YieldOp::create(b, loc,
                             forKeyTiles(b, loc, a, previous, qt, previousStart,
                                         chunkStart, s, step));
      }
      s = llvm::to_vector_of<Value>(ifOp.getResults());
    } else {
      s = forKeyTiles(b, loc, a, previous, qt, previousStart, chunkStart, s,
                      step);
    }
  } else if (hasCache) {
    s = forKeyTiles(b, loc, a, cache, qt, constIndex(b, 0),
                    constIndex(b, a.cacheLength), s, step);
  }
  OpFoldResult currentEnd =
      a.causal ? add(b, loc, qt.start, qt.size)
               : scaled(b, loc, chunk, a.chunkLength, a.chunkLength);
  return forKeyTiles(b, loc, a, current, qt, chunkStart, currentEnd, s, step);
}

/// One online-softmax step: state (m, l, acc) -> (m', l', acc').
SmallVector<Value> onlineSoftmaxStep(OpBuilder &b, Location loc,
                                     const Attention &a, const QueryTile &qt,
                                     const KeyTile &kt, ValueRange state) {
  MLIRContext *ctx = b.getContext();
  Value m = state[0], l = state[1], acc = state[2];
  Value s = maskedScores(b, loc, a, qt, kt);
  AffineMap identity = b.getMultiDimIdentityMap(2);
  SmallVector<IteratorType> rowReduction = {IteratorType::parallel,
                                            IteratorType::reduction};
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  // Row max of the block, then (one elementwise generic that updates m and
  // l in place) m' = max(m, block max), the exponent base (0 while a row has
  // seen no key), the rescale factor alpha = exp(m - base) and alpha * l.
  auto maxOp = linalg::GenericOp::create(
      b, loc, m.getType(), s,
      filled(b, loc, {qt.size}, -std::numeric_limits<double>::infinity()),
      ArrayRef<AffineMap>{identity, rowMap(b)}, rowReduction,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(
            nb, nloc,
            arith::MaximumFOp::create(nb, nloc, args[1], args[0]).getResult());
      });
  Value init = emptyLike(b, loc, m, b.getF32Type());
  auto rescale = linalg::GenericOp::create(
      b, loc, TypeRange{m.getType(), m.getType(), m.getType(), l.getType()},
      ValueRange{maxOp.getResult(0)}, ValueRange{m, init, init, l},
      SmallVector<AffineMap>(5, b.getMultiDimIdentityMap(1)),
      ArrayRef<IteratorType>{IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value mOld = args[1];
        Value mNew = arith::MaximumFOp::create(nb, nloc, mOld, args[0]);
        Value minusInf =
            f32Constant(nb, nloc, -std::numeric_limits<double>::infinity());
        Value empty = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ,
                                            mNew, minusInf);
        Value base = arith::SelectOp::create(nb, nloc, empty,
                                             f32Constant(nb, nloc, 0.0), mNew);
        Value alpha = math::ExpOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, mOld, base));
        Value sum = arith::MulFOp::create(nb, nloc, alpha, args[4]);
        linalg::YieldOp::create(nb, nloc, ValueRange{mNew, base, alpha, sum});
      });
  Value mNew = rescale.getResult(0), base = rescale.getResult(1);
  Value alpha = rescale.getResult(2), lScaled = rescale.getResult(3);
  // P = exp(S - m').
  Value p = generic2d(
      b, loc, {s, base}, {identity, rowMap(b)},
      emptyLike(b, loc, s, b.getF32Type()), parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return math::ExpOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, args[0], args[1]));
      });
  auto sumOp = linalg::GenericOp::create(
      b, loc, l.getType(), p, lScaled, ArrayRef<AffineMap>{identity, rowMap(b)},
      rowReduction, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, args[1], args[0]).getResult());
      });
  // acc' = alpha acc + P V.
  Value accScaled =
      generic2d(b, loc, alpha, rowMap(b), acc, parallel,
                [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                  return arith::MulFOp::create(nb, nloc, args[1], args[0]);
                });
  Value accNew = contract(b, loc, p, pick(ctx, 0, 2), kt.values,
                          pick(ctx, 2, 1), accScaled);
  return {mNew, sumOp.getResult(0), accNew};
}

/// The final statistics of a query tile: the output acc / l (f32, 0 for
/// rows without keys) and LSE = m + log l (+inf for rows without keys).
std::pair<Value, Value> finishSoftmax(OpBuilder &b, Location loc,
                                      ValueRange state, bool wantLse) {
  Value m = state[0], l = state[1], acc = state[2];
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  Value out = generic2d(
      b, loc, {l, acc}, {rowMap(b), b.getMultiDimIdentityMap(2)},
      emptyLike(b, loc, acc, b.getF32Type()), parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value empty =
            arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ, args[0],
                                  f32Constant(nb, nloc, 0.0));
        Value ratio = arith::DivFOp::create(nb, nloc, args[1], args[0]);
        return arith::SelectOp::create(nb, nloc, empty,
                                       f32Constant(nb, nloc, 0.0), ratio);
      });
  if (!wantLse)
    return {out, Value()};
  Value lse = elementwise(
      b, loc, ValueRange{m, l},
      {b.getMultiDimIdentityMap(1), b.getMultiDimIdentityMap(1)},
      emptyLike(b, loc, l, b.getF32Type()),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value empty =
            arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ, args[1],
                                  f32Constant(nb, nloc, 0.0));
        Value value = arith::AddFOp::create(
            nb, nloc, args[0], math::LogOp::create(nb, nloc, args[1]));
        Value inf =
            f32Constant(nb, nloc, std::numeric_limits<double>::infinity());
        return SmallVector<Value>{
            arith::SelectOp::create(nb, nloc, empty, inf, value)};
      })[0];
  return {out, lse};
}

/// One (batch, head, chunk, offset) tile of a window forall.
struct WindowTile {
  Value batch, head, chunk;
  OpFoldResult start, size; // call (or cache) positions of the tile
};

using WindowBodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, const WindowTile &)>;

/// scf.forall over (batch, head, chunk, offset in chunk) with `tile` rows per
/// step; each body result is a (size, d) tile written at [b, start, h, 0]
/// of a rank-4 output or a (size) tile written at [b, h, start] of a rank-3
/// output.
SmallVector<Value> buildWindowForall(OpBuilder &b, Location loc, int64_t batch,
                                     int64_t heads, int64_t chunks,
                                     int64_t chunkLength, int64_t tileRows,
                                     ValueRange outputs, WindowBodyFn body) {
  int64_t step = std::min(tileRows, chunkLength);
  SmallVector<OpFoldResult> lbs(4, constIndex(b, 0));
  SmallVector<OpFoldResult> ubs = {constIndex(b, batch), constIndex(b, heads),
                                   constIndex(b, chunks),
                                   constIndex(b, chunkLength)};
  SmallVector<OpFoldResult> steps = {constIndex(b, 1), constIndex(b, 1),
                                     constIndex(b, 1), constIndex(b, step)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  WindowTile tile{ivs[0], ivs[1], ivs[2], OpFoldResult(), OpFoldResult()};
  tile.size =
      chunkLength % step == 0 // every tile is full
          ? constIndex(b, step)
          : clampedSize(b, loc, ivs[3], constIndex(b, chunkLength), step);
  AffineExpr d0, d1;
  bindDims(b.getContext(), d0, d1);
  tile.start = affine::makeComposedFoldedAffineApply(
      b, loc, d0 * chunkLength + d1, {ivs[2], ivs[3]});
  SmallVector<Value> results = body(b, loc, tile);

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [result, shared] :
       llvm::zip_equal(results, forall.getRegionIterArgs())) {
    auto type = cast<RankedTensorType>(shared.getType());
    SmallVector<OpFoldResult> offsets, sizes;
    if (type.getRank() == 4) {
      offsets = {tile.batch, tile.start, tile.head, constIndex(b, 0)};
      sizes = {constIndex(b, 1), tile.size, constIndex(b, 1),
               constIndex(b, type.getDimSize(3))};
    } else {
      offsets = {tile.batch, tile.head, tile.start};
      sizes = {constIndex(b, 1), constIndex(b, 1), tile.size};
    }
    SmallVector<OpFoldResult> strides(type.getRank(), constIndex(b, 1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

QueryTile queryTile(OpBuilder &b, Location loc, const Attention &a,
                    const WindowTile &tile) {
  QueryTile qt;
  qt.batch = tile.batch;
  qt.head = tile.head;
  qt.start = tile.start;
  qt.size = tile.size;
  qt.q =
      a.z ? splitRows(b, loc, a, splitAffine(b, loc, a, 0, tile.head),
                      tile.batch, tile.start, tile.size, tile.head)
          : headRows(b, loc, a.q, tile.batch, tile.start, tile.size, tile.head);
  if (a.seg)
    qt.seg = rowEntries(b, loc, a.seg, tile.batch, tile.start, tile.size);
  if (a.z)
    qt.keyAffine = splitAffine(b, loc, a, 1, tile.head);
  return qt;
}

/// The initial online-softmax state of a query tile: m = -inf, l = 0,
/// acc = 0.
SmallVector<Value> initialState(OpBuilder &b, Location loc, const Attention &a,
                                const QueryTile &qt) {
  return {filled(b, loc, {qt.size}, -std::numeric_limits<double>::infinity()),
          filled(b, loc, {qt.size}, 0.0),
          filled(b, loc, {qt.size, constIndex(b, a.valueDim)}, 0.0)};
}

/// Rounds an f32 tile to `type`.
Value roundTo(OpBuilder &b, Location loc, Value tile, Type type) {
  if (type.isF32())
    return tile;
  Value init = emptyLike(b, loc, tile, type);
  int64_t rank = cast<RankedTensorType>(tile.getType()).getRank();
  return elementwise(b, loc, tile, b.getMultiDimIdentityMap(rank), init,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{
                           fromF32(nb, nloc, args[0], type)};
                     })[0];
}

Type elementTypeOfValue(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

/// The per-call tables of the z split prologue, each a forall of its own
/// over rows of `queryTile`: the row statistics rsqrt(mean(z²) + eps) as
/// (B, H, L) f32 and, with a rope, the cos / sin of the L positions as
/// (1, L, 1, dk/2) f32. Every key row is visited by 2C / queryTile query
/// tiles; with the tables a visit is elementwise work only (no reduction,
/// no transcendental), for 1/dk + 1/(B·H) of z's size in extra reads.
void precomputeSplitTables(OpBuilder &b, Location loc, Attention &a) {
  Value scaleInit = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{a.batch, a.heads, a.length}, b.getF32Type());
  a.rowScale = buildWindowForall(
      b, loc, a.batch, a.heads, 1, a.length, a.queryTile, scaleInit,
      [&](OpBuilder &tb, Location tloc, const WindowTile &tile) {
        Value zRows = headRows(tb, tloc, a.z, tile.batch, tile.start, tile.size,
                               tile.head);
        return SmallVector<Value>{rowStatistics(tb, tloc, a, zRows)};
      })[0];
  if (!a.start || a.ropeHeads == 0)
    return;
  SmallVector<int64_t> shape = {1, a.length, 1, a.keyDim / 2};
  Value cosInit = tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  Value sinInit = tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  SmallVector<Value> tables = buildWindowForall(
      b, loc, 1, 1, 1, a.length, a.queryTile, ValueRange{cosInit, sinInit},
      [&](OpBuilder &tb, Location tloc, const WindowTile &tile) {
        auto [cos, sin] = angleRows(tb, tloc, a, tile.start, tile.size);
        return SmallVector<Value>{cos, sin};
      });
  a.cosTable = tables[0];
  a.sinTable = tables[1];
}

/// The epilogue of gecko.fused_chunk_attention on an f32 output tile `out`:
/// round(out)·gate + addend (as gecko.chunk_attention followed by
/// gecko.gated_add computes it), in `type`.
Value epilogue(OpBuilder &b, Location loc, const Attention &a,
               const WindowTile &tile, Value out, Type type) {
  SmallVector<Value> inputs = {out, headRows(b, loc, a.addend, tile.batch,
                                             tile.start, tile.size, tile.head)};
  if (a.gate)
    inputs.push_back(
        headRows(b, loc, a.gate, tile.batch, tile.start, tile.size, tile.head));
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(2));
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  return generic2d(
      b, loc, inputs, maps, emptyLike(b, loc, out, type), parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value x = toF32(nb, nloc, fromF32(nb, nloc, args[0], type));
        if (a.gate)
          x = arith::MulFOp::create(nb, nloc, x, toF32(nb, nloc, args[2]));
        x = arith::AddFOp::create(nb, nloc, x, toF32(nb, nloc, args[1]));
        return fromF32(nb, nloc, x, type);
      });
}

template <typename OpTy>
LogicalResult lowerForward(RewriterBase &rewriter, OpTy op,
                           const GeckoTileSizes &tiles) {
  FailureOr<Attention> analysed = analyse(op, tiles);
  if (failed(analysed))
    return failure();
  Attention &a = *analysed;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value keyCache;
  if constexpr (std::is_same_v<OpTy, FusedChunkAttentionOp>) {
    keyCache = op.getKeyCache();
    if (a.start) {
      a.ropeHeads = op.getNumRopeHeads()
                        ? static_cast<int64_t>(*op.getNumRopeHeads())
                        : a.heads;
      if (a.start.getType().isIndex())
        a.start = arith::IndexCastOp::create(rewriter, loc,
                                             rewriter.getI64Type(), a.start);
      a.inverseFrequency = ropeInverseFrequencies(
          rewriter, loc, a.keyDim, op.getRopeBase()->convertToDouble());
    }
    if (a.z)
      precomputeSplitTables(rewriter, loc, a);
  }
  auto resultType = cast<RankedTensorType>(op.getOut().getType());
  Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                       resultType.getElementType());
  SmallVector<Value> results = buildWindowForall(
      rewriter, loc, a.batch, a.heads, a.numChunks, a.chunkLength, a.queryTile,
      init, [&](OpBuilder &b, Location tloc, const WindowTile &tile) {
        QueryTile qt = queryTile(b, tloc, a, tile);
        SmallVector<Value> state = visitWindow(
            b, tloc, a, qt, tile.chunk, initialState(b, tloc, a, qt),
            [&](OpBuilder &sb, Location sloc, const KeyTile &kt,
                ValueRange st) {
              return onlineSoftmaxStep(sb, sloc, a, qt, kt, st);
            });
        Value out = finishSoftmax(b, tloc, state, false).first;
        if (a.addend)
          return SmallVector<Value>{
              epilogue(b, tloc, a, tile, out, resultType.getElementType())};
        return SmallVector<Value>{
            roundTo(b, tloc, out, resultType.getElementType())};
      });
  if (keyCache) {
    // The rows the cache keeps: keys [L - kept, L), formed once more from z
    // by a forall of its own (B, H, kept / query tile).
    auto type = cast<RankedTensorType>(keyCache.getType());
    int64_t kept = type.getDimSize(1);
    Value cacheInit = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                              type.getElementType());
    results.push_back(buildWindowForall(
        rewriter, loc, a.batch, a.heads, 1, kept, a.queryTile, cacheInit,
        [&](OpBuilder &b, Location tloc, const WindowTile &tile) {
          OpFoldResult row = scaled(b, tloc, tile.start, 1, a.length - kept);
          return SmallVector<Value>{
              splitRows(b, tloc, a, splitAffine(b, tloc, a, 1, tile.head),
                        tile.batch, row, tile.size, tile.head)};
        })[0]);
  }
  rewriter.replaceOp(op, results);
  return success();
}

/// P = exp(S - LSE) and dS = P ∘ (dO Vᵀ - D) of one (query, key) block.
std::pair<Value, Value> gradBlock(OpBuilder &b, Location loc,
                                  const Attention &a, const QueryTile &qt,
                                  const KeyTile &kt, Value lse, Value delta,
                                  Value dout) {
  MLIRContext *ctx = b.getContext();
  Value s = maskedScores(b, loc, a, qt, kt);
  AffineMap identity = b.getMultiDimIdentityMap(2);
  SmallVector<IteratorType> parallel(2, IteratorType::parallel);
  Value p = generic2d(
      b, loc, {s, lse}, {identity, rowMap(b)},
      emptyLike(b, loc, s, b.getF32Type()), parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        return math::ExpOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, args[0], args[1]));
      });
  Value dp = filled(b, loc, {qt.size, kt.size}, 0.0);
  dp = contract(b, loc, dout, pick(ctx, 0, 2), kt.values, pick(ctx, 1, 2), dp);
  Value ds =
      generic2d(b, loc, {p, delta}, {identity, rowMap(b)}, dp, parallel,
                [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
                  return arith::MulFOp::create(
                      nb, nloc, args[0],
                      arith::SubFOp::create(nb, nloc, args[2], args[1]));
                });
  return {p, ds};
}

LogicalResult lowerBackward(RewriterBase &rewriter, ChunkAttentionGradOp op,
                            const GeckoTileSizes &tiles) {
  FailureOr<Attention> analysed = analyse(op, tiles);
  if (failed(analysed))
    return failure();
  const Attention &a = *analysed;
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(op);
  Value dout = op.getDout();
  auto emptyOf = [&](Value result) -> Value {
    auto type = cast<RankedTensorType>(result.getType());
    return tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                   type.getElementType());
  };
  auto statsType = RankedTensorType::get({a.batch, a.heads, a.length},
                                         rewriter.getF32Type());
  Value statsInit = tensor::EmptyOp::create(rewriter, loc, statsType.getShape(),
                                            rewriter.getF32Type());

  // 1. Statistics, D and dQ per query tile.
  Type dqType = elementTypeOfValue(op.getDq());
  SmallVector<Value> pass1 = buildWindowForall(
      rewriter, loc, a.batch, a.heads, a.numChunks, a.chunkLength, a.queryTile,
      ValueRange{emptyOf(op.getDq()), statsInit, statsInit},
      [&](OpBuilder &b, Location tloc, const WindowTile &tile) {
        QueryTile qt = queryTile(b, tloc, a, tile);
        SmallVector<Value> state = visitWindow(
            b, tloc, a, qt, tile.chunk, initialState(b, tloc, a, qt),
            [&](OpBuilder &sb, Location sloc, const KeyTile &kt,
                ValueRange st) {
              return onlineSoftmaxStep(sb, sloc, a, qt, kt, st);
            });
        std::pair<Value, Value> finished = finishSoftmax(b, tloc, state, true);
        Value out = finished.first, lse = finished.second;
        Value doutTile = headRows(b, tloc, dout, tile.batch, tile.start,
                                  tile.size, tile.head);
        SmallVector<IteratorType> rowReduction = {IteratorType::parallel,
                                                  IteratorType::reduction};
        AffineMap identity = b.getMultiDimIdentityMap(2);
        auto deltaOp = linalg::GenericOp::create(
            b, tloc, lse.getType(), ValueRange{doutTile, out},
            filled(b, tloc, {qt.size}, 0.0),
            ArrayRef<AffineMap>{identity, identity, rowMap(b)}, rowReduction,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value product = arith::MulFOp::create(
                  nb, nloc, toF32(nb, nloc, args[0]), args[1]);
              linalg::YieldOp::create(
                  nb, nloc,
                  arith::AddFOp::create(nb, nloc, args[2], product)
                      .getResult());
            });
        Value delta = deltaOp.getResult(0);
        SmallVector<Value> dq = visitWindow(
            b, tloc, a, qt, tile.chunk,
            ValueRange{
                filled(b, tloc, {qt.size, constIndex(b, a.keyDim)}, 0.0)},
            [&](OpBuilder &sb, Location sloc, const KeyTile &kt,
                ValueRange st) {
              Value ds =
                  gradBlock(sb, sloc, a, qt, kt, lse, delta, doutTile).second;
              return SmallVector<Value>{contract(sb, sloc, ds, pick(ctx, 0, 2),
                                                 kt.keys, pick(ctx, 2, 1),
                                                 st[0])};
            });
        return SmallVector<Value>{roundTo(b, tloc, dq[0], dqType), lse, delta};
      });
  Value lseAll = pass1[1], deltaAll = pass1[2];

  // 2. dK, dV per key tile of one source: walk the query tiles [begin, end)
  // (given per key tile) accumulating dV += Pᵀ dO and dK += dSᵀ Q.
  auto keyPass = [&](const KeySource &source, int64_t chunks,
                     int64_t chunkLength, Value dkResult, Value dvResult,
                     function_ref<std::pair<OpFoldResult, OpFoldResult>(
                         OpBuilder &, Location, const WindowTile &)>
                         queryRange) {
    Type dkType = elementTypeOfValue(dkResult),
         dvType = elementTypeOfValue(dvResult);
    return buildWindowForall(
        rewriter, loc, a.batch, a.heads, chunks, chunkLength, a.keyTile,
        ValueRange{emptyOf(dkResult), emptyOf(dvResult)},
        [&](OpBuilder &b, Location tloc, const WindowTile &tile) {
          KeyTile kt;
          kt.start = tile.start;
          kt.size = tile.size;
          kt.keys = headRows(b, tloc, source.keys, tile.batch, tile.start,
                             tile.size, tile.head);
          kt.values = headRows(b, tloc, source.values, tile.batch, tile.start,
                               tile.size, tile.head);
          if (source.seg)
            kt.seg = rowEntries(b, tloc, source.seg, tile.batch, tile.start,
                                tile.size);
          kt.causalMask = source.causalMask;
          std::pair<OpFoldResult, OpFoldResult> range =
              queryRange(b, tloc, tile);
          OpFoldResult begin = range.first, end = range.second;
          Value lower = indexValue(b, tloc, begin);
          Value upper = indexValue(b, tloc, end);
          Value step = arith::ConstantIndexOp::create(b, tloc, a.queryTile);
          SmallVector<Value> init = {
              filled(b, tloc, {tile.size, constIndex(b, a.keyDim)}, 0.0),
              filled(b, tloc, {tile.size, constIndex(b, a.valueDim)}, 0.0)};
          auto loop = scf::ForOp::create(
              b, tloc, lower, upper, step, init,
              [&](OpBuilder &lb, Location lloc, Value i, ValueRange iter) {
                WindowTile rows = tile;
                rows.start = i;
                rows.size = clampedSize(lb, lloc, i, upper, a.queryTile);
                QueryTile qt = queryTile(lb, lloc, a, rows);
                Value lse =
                    rowEntries(lb, lloc, lseAll,
                               ValueRange{tile.batch, tile.head}, i, rows.size);
                Value delta =
                    rowEntries(lb, lloc, deltaAll,
                               ValueRange{tile.batch, tile.head}, i, rows.size);
                Value doutTile = headRows(lb, lloc, dout, tile.batch, i,
                                          rows.size, tile.head);
                std::pair<Value, Value> block =
                    gradBlock(lb, lloc, a, qt, kt, lse, delta, doutTile);
                Value dk = contract(lb, lloc, block.second, pick(ctx, 2, 0),
                                    qt.q, pick(ctx, 2, 1), iter[0]);
                Value dv = contract(lb, lloc, block.first, pick(ctx, 2, 0),
                                    doutTile, pick(ctx, 2, 1), iter[1]);
                scf::YieldOp::create(lb, lloc, ValueRange{dk, dv});
              });
          return SmallVector<Value>{
              roundTo(b, tloc, loop.getResult(0), dkType),
              roundTo(b, tloc, loop.getResult(1), dvType)};
        });
  };

  KeySource current{a.k, a.v, a.seg, true};
  SmallVector<Value> keyGrads =
      keyPass(current, a.numChunks, a.chunkLength, op.getDk(), op.getDv(),
              [&](OpBuilder &b, Location tloc, const WindowTile &tile) {
                // Queries that may see the tile: causal from its first key, up
                // to the end of the next chunk (chunked) or of the call
                // (short).
                OpFoldResult begin =
                    a.causal ? tile.start
                             : scaled(b, tloc, tile.chunk, a.chunkLength, 0);
                OpFoldResult end = constIndex(b, a.length);
                if (a.chunked) {
                  AffineExpr d0 = b.getAffineDimExpr(0);
                  AffineMap endMap =
                      AffineMap::get(1, 0,
                                     {d0 * a.chunkLength + 2 * a.chunkLength,
                                      b.getAffineConstantExpr(a.length)},
                                     b.getContext());
                  end = affine::makeComposedFoldedAffineMin(b, tloc, endMap,
                                                            {tile.chunk});
                }
                return std::make_pair(begin, end);
              });
  SmallVector<Value> replacements = {pass1[0], keyGrads[0], keyGrads[1]};
  if (a.prevK) {
    if (a.cacheLength == 0) {
      replacements.push_back(emptyOf(op.getDprevK()));
      replacements.push_back(emptyOf(op.getDprevV()));
    } else {
      KeySource cache{a.prevK, a.prevV, a.prevSeg, false};
      int64_t seenBy = a.chunked ? a.chunkLength : a.length;
      SmallVector<Value> cacheGrads = keyPass(
          cache, 1, a.cacheLength, op.getDprevK(), op.getDprevV(),
          [&](OpBuilder &b, Location, const WindowTile &) {
            return std::make_pair(constIndex(b, 0), constIndex(b, seenBy));
          });
      llvm::append_range(replacements, cacheGrads);
    }
  }
  rewriter.replaceOp(op, replacements);
  return success();
}

} // namespace

LogicalResult lowerChunkAttentionOp(RewriterBase &rewriter, Operation *op,
                                    const GeckoTileSizes &tiles) {
  if (auto forward = dyn_cast<ChunkAttentionOp>(op))
    return lowerForward(rewriter, forward, tiles);
  if (auto fused = dyn_cast<FusedChunkAttentionOp>(op))
    return lowerForward(rewriter, fused, tiles);
  return lowerBackward(rewriter, cast<ChunkAttentionGradOp>(op), tiles);
}

} // namespace mlir::gecko
