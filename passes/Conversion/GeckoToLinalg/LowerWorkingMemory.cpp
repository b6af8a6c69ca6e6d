//===- LowerWorkingMemory.cpp - Adaptive working memory to linalg ---------===//
//
// spec §6. gecko.working_memory and gecko.working_memory_grad become an
// scf.forall over (batch, head); every (b, h) runs the chunk recurrence on
// small f32 matrices:
//
//   keys / values in the concatenated sequence [prev_k ; ak] (T + L rows),
//   for chunk c (an scf.for): read out_c = softmax(aq_c)·M (linalg.matmul),
//   rows whose segment differs from the memory's zeroed; reset M, Z when the
//   pending chunk's last segment differs from the memory's (arith.select,
//   no control flow); write the pending chunk (rows [T + (c-1)C, T + cC)):
//   a = logsumexp_t k~, Z' = logaddexp(Z, a), rho = exp(a - Z'),
//   E = V - psi(K)·M, U = W·E, M' = M + rho (U - M).
//
// Without a cache the chunk loop starts at c = 1 from the empty memory
// (M = 0, Z = -inf): chunk 0 reads nothing, chunk 1 reads zeros. The segment
// bookkeeping (read mask, reset) is runtime data: the memory's segment is an
// i64 loop-carried value. The short path is one step of the same recurrence
// (read L rows; write rows [0, C) of the concatenation when T + L = 2C).
//
// The backward replays the forward once to record the memory before every
// step, then runs the chunk loop in reverse carrying dL/dM and dL/dZ.
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>
#include <optional>
#include <tuple>
#include <type_traits>

namespace mlir::gecko {

namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Small-tensor linalg helpers on static f32 tensors of rank 1 and 2.
class Emitter {
public:
  Emitter(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  OpBuilder &b;
  Location loc;

  Type f32() { return b.getF32Type(); }
  Value cst(double v) { return f32Constant(b, loc, v); }
  Value index(int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  }
  AffineMap map(unsigned dims, ArrayRef<unsigned> results) {
    SmallVector<AffineExpr> exprs;
    for (unsigned r : results)
      exprs.push_back(b.getAffineDimExpr(r));
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  Value empty(ArrayRef<int64_t> shape, Type type = {}) {
    return tensor::EmptyOp::create(b, loc, shape, type ? type : f32());
  }
  Value filled(ArrayRef<int64_t> shape, double v) {
    return linalg::FillOp::create(b, loc, cst(v), empty(shape)).getResult(0);
  }
  static ArrayRef<int64_t> shapeOf(Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  }

  /// Elementwise generic producing a new tensor of `shape` and `type`.
  Value map(ValueRange ins, ArrayRef<AffineMap> maps, ArrayRef<int64_t> shape,
            BodyFn body, Type type = {}) {
    Value init = empty(shape, type);
    return elementwise(b, loc, ins, maps, init,
                       [&](OpBuilder &nb, Location nl, ValueRange args) {
                         return SmallVector<Value>{
                             body(nb, nl, args.drop_back())};
                       })
        .front();
  }
  /// Elementwise over 2-D tensors of the same shape as ins[0].
  Value map2(ValueRange ins, BodyFn body) {
    SmallVector<AffineMap> maps(ins.size(), map(2, {0, 1}));
    return map(ins, maps, shapeOf(ins[0]), body);
  }
  Value map1(ValueRange ins, BodyFn body) {
    SmallVector<AffineMap> maps(ins.size(), map(1, {0}));
    return map(ins, maps, shapeOf(ins[0]), body);
  }
  /// x (R,S) combined with a per-row (R) or per-column (S) vector.
  Value withVector(Value x, Value vec, bool perRow, BodyFn body) {
    return map({x, vec}, {map(2, {0, 1}), map(2, {perRow ? 0u : 1u})},
               shapeOf(x), body);
  }

  /// Reduces 2-D inputs (all shaped like ins[0]) over `dim` of
  /// term(elements) with sum or max, starting from `init`.
  Value reduce(ValueRange ins, unsigned dim, bool isMax, BodyFn term) {
    ArrayRef<int64_t> shape = shapeOf(ins[0]);
    unsigned kept = 1 - dim;
    Value acc = filled({shape[kept]}, isMax ? -INFINITY : 0.0);
    SmallVector<AffineMap> maps(ins.size(), map(2, {0, 1}));
    maps.push_back(map(2, {kept}));
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    iterators[dim] = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        b, loc, acc.getType(), ins, acc, maps, iterators,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value t = term(nb, nl, args.drop_back());
          Value r =
              isMax ? arith::MaximumFOp::create(nb, nl, args.back(), t)
                          .getResult()
                    : arith::AddFOp::create(nb, nl, args.back(), t).getResult();
          linalg::YieldOp::create(nb, nl, r);
        });
    return generic.getResult(0);
  }
  Value sum(ValueRange ins, unsigned dim, BodyFn term) {
    return reduce(ins, dim, false, term);
  }

  /// a (m,k) · b (k,n) [+ acc].
  Value matmul(Value lhs, Value rhs, Value acc = {}) {
    if (!acc)
      acc = filled({shapeOf(lhs)[0], shapeOf(rhs)[1]}, 0.0);
    return linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                    ValueRange{lhs, rhs}, ValueRange{acc})
        .getResult(0);
  }
  /// `src` copied into `dest`: loop-carried tensors are yielded through
  /// their iter_arg so that bufferization updates the state in place.
  Value copyInto(Value src, Value dest) {
    return linalg::CopyOp::create(b, loc, TypeRange{dest.getType()},
                                  ValueRange{src}, ValueRange{dest})
        .getResult(0);
  }
  Value transpose(Value x) {
    ArrayRef<int64_t> s = shapeOf(x);
    Value init = empty({s[1], s[0]});
    return linalg::TransposeOp::create(b, loc, x, init, ArrayRef<int64_t>{1, 0})
        ->getResult(0);
  }

  /// Softmax over the last dim of x (R,S).
  Value softmaxRows(Value x) {
    Value hi = reduce(x, 1, true,
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    Value ex =
        withVector(x, hi, true, [](OpBuilder &nb, Location nl, ValueRange a) {
          Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
          return math::ExpOp::create(nb, nl, d).getResult();
        });
    Value total =
        sum(ex, 1, [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    return withVector(
        ex, total, true, [](OpBuilder &nb, Location nl, ValueRange a) {
          return arith::DivFOp::create(nb, nl, a[0], a[1]).getResult();
        });
  }
  /// Input gradient of a softmax over `dim` given its output p and the
  /// output gradient g: p (g - sum_dim(p g)).
  Value softmaxBackward(Value p, Value g, unsigned dim) {
    Value dot = sum({p, g}, dim, [](OpBuilder &nb, Location nl, ValueRange a) {
      return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
    });
    SmallVector<AffineMap> maps = {map(2, {0, 1}), map(2, {0, 1}),
                                   map(2, {1 - dim})};
    return map({p, g, dot}, maps, shapeOf(p),
               [](OpBuilder &nb, Location nl, ValueRange a) {
                 Value d = arith::SubFOp::create(nb, nl, a[1], a[2]);
                 return arith::MulFOp::create(nb, nl, a[0], d).getResult();
               });
  }

  /// `x` with every element replaced by `value` where `cond` (i1) holds.
  Value selectAll(Value cond, double value, Value x) {
    Value c = cst(value);
    auto body = [&](OpBuilder &nb, Location nl, ValueRange a) {
      return arith::SelectOp::create(nb, nl, cond, c, a[0]).getResult();
    };
    return shapeOf(x).size() == 2 ? map2(x, body) : map1(x, body);
  }
  /// Rows of x (R,S) set to `value` where segRows[r] (i64) != seg.
  Value maskRows(Value x, Value segRows, Value seg, double value) {
    Value c = cst(value);
    return withVector(
        x, segRows, true, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value ne = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne,
                                           a[1], seg);
          return arith::SelectOp::create(nb, nl, ne, c, a[0]).getResult();
        });
  }

  /// Rows [offset, offset + rows) of a 2-D (or 1-D) tensor.
  Value rows(Value x, OpFoldResult offset, int64_t count) {
    ArrayRef<int64_t> s = shapeOf(x);
    SmallVector<OpFoldResult> offsets = {offset},
                              sizes = {b.getIndexAttr(count)};
    SmallVector<int64_t> shape = {count};
    for (int64_t d = 1; d < static_cast<int64_t>(s.size()); ++d) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(s[d]));
      shape.push_back(s[d]);
    }
    SmallVector<OpFoldResult> strides(s.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  }
  Value insertRows(Value src, Value dest, OpFoldResult offset) {
    ArrayRef<int64_t> s = shapeOf(src);
    SmallVector<OpFoldResult> offsets = {offset}, sizes;
    for (int64_t d : s)
      sizes.push_back(b.getIndexAttr(d));
    for (size_t d = 1; d < s.size(); ++d)
      offsets.push_back(b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(s.size(), b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, src, dest, offsets, sizes,
                                         strides);
  }

  /// The rank-reduced slice of `source` at `offsets` whose non-unit sizes
  /// are `shape` (unit dims marked by size 1 in `sizes`), converted to f32
  /// when it is a float tensor.
  Value slice(Value source, ArrayRef<OpFoldResult> offsets,
              ArrayRef<int64_t> sizes, ArrayRef<int64_t> shape) {
    auto type = cast<RankedTensorType>(source.getType());
    SmallVector<OpFoldResult> sz, strides(sizes.size(), b.getIndexAttr(1));
    for (int64_t s : sizes)
      sz.push_back(b.getIndexAttr(s));
    auto resultType = RankedTensorType::get(shape, type.getElementType());
    Value v = tensor::ExtractSliceOp::create(b, loc, resultType, source,
                                             offsets, sz, strides);
    if (!isa<FloatType>(type.getElementType()) || type.getElementType().isF32())
      return v;
    auto ext = [](OpBuilder &nb, Location nl, ValueRange a) {
      return toF32(nb, nl, a[0]);
    };
    return shape.size() == 2 ? map2(v, ext) : map1(v, ext);
  }
  /// An f32 tensor rounded to `type`.
  Value castTo(Value x, Type type) {
    if (type.isF32())
      return x;
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(shapeOf(x).size(), b.getContext())};
    return map(
        x, maps, shapeOf(x),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          return fromF32(nb, nl, a[0], type);
        },
        type);
  }
};

/// Static facts of one working_memory(_grad) op.
struct Config {
  int64_t batch, length, heads, keyDim, valueDim, chunk, cacheLen;
  bool memory, cache, segments, chunked;
  int64_t chunks() const { return length / chunk; }
  /// First chunk that reads and writes (without a cache chunk 0 has no
  /// pending chunk and reads nothing).
  int64_t firstChunk() const { return cache ? 0 : 1; }
  /// Whether the short path writes the first chunk of [prev_k ; ak].
  bool shortWrites() const { return cacheLen + length == 2 * chunk; }
};

/// The f32 inputs of one (batch, head).
struct HeadInputs {
  Value q;        // (L, dz)
  Value keys;     // (T + L, dz)
  Value values;   // (T + L, dv)
  Value seg;      // (T + L) i64, or null
  Value memory;   // (dz, dv)
  Value lnt;      // (dz)
  Value memSeg;   // i64: segment of the memory's content, or null
  Value dout;     // (L, dv) (backward)
  Value callKeys; // (L, dz): ak of the call (the fused op's key cache rows)
};

struct OpOperands {
  Value aq, ak, v, memory, lnt, prevK, prevV, seg, prevSeg, prevCount;
  // gecko.fused_working_memory: aq, ak are formed from z (B, L, H, dz) with
  // rows 2, 3 of gamma, beta (4, H, dz) (aq, ak null).
  Value z, gamma, beta;
  double eps = 0.0;
};

/// The z split prologue of gecko.fused_working_memory: aq and ak (rows 2
/// and 3) of head (b, h), (L, dz) f32 each, formed from one read of the
/// head's z rows as gecko.z_split does: f32 sum of squares over dz,
/// zn = z·rsqrt(sum/dz + eps), zn·s + beta rounded to the activation type,
/// s = (gamma + 1)/sqrt(dz) rounded to the parameter type.
std::pair<Value, Value> splitRows(Emitter &e, const Config &cfg,
                                  const OpOperands &ops, Value bIdx,
                                  Value hIdx) {
  OpBuilder &b = e.b;
  OpFoldResult zero = b.getIndexAttr(0), bi = bIdx, hi = hIdx;
  Type type = cast<RankedTensorType>(ops.z.getType()).getElementType();
  Type paramType = cast<RankedTensorType>(ops.gamma.getType()).getElementType();
  Value z = e.slice(ops.z, {bi, zero, hi, zero}, {1, cfg.length, 1, cfg.keyDim},
                    {cfg.length, cfg.keyDim});
  auto param = [&](Value p, int64_t row) {
    return e.slice(p, {b.getIndexAttr(row), hi, zero}, {1, 1, cfg.keyDim},
                   {cfg.keyDim});
  };
  double inverseSize = 1.0 / static_cast<double>(cfg.keyDim);
  double rootDim = std::sqrt(static_cast<double>(cfg.keyDim));
  double eps = ops.eps;
  Value squares = e.sum(z, 1, [](OpBuilder &nb, Location nl, ValueRange a) {
    return arith::MulFOp::create(nb, nl, a[0], a[0]).getResult();
  });
  Value rstd = e.map1(squares, [&](OpBuilder &nb, Location nl, ValueRange a) {
    Value mean =
        arith::MulFOp::create(nb, nl, a[0], f32Constant(nb, nl, inverseSize));
    Value shifted =
        arith::AddFOp::create(nb, nl, mean, f32Constant(nb, nl, eps));
    return math::RsqrtOp::create(nb, nl, shifted).getResult();
  });
  auto split = [&](int64_t row) {
    return e.map(
        {z, rstd, param(ops.gamma, row), param(ops.beta, row)},
        {e.map(2, {0, 1}), e.map(2, {0}), e.map(2, {1}), e.map(2, {1})},
        {cfg.length, cfg.keyDim},
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          // a[2], a[3]: gamma, beta already extended to f32 (exact).
          Value scale = fromF32(
              nb, nl,
              arith::AddFOp::create(nb, nl, a[2], f32Constant(nb, nl, 1.0)),
              paramType);
          scale =
              toF32(nb, nl,
                    fromF32(nb, nl,
                            arith::DivFOp::create(nb, nl, toF32(nb, nl, scale),
                                                  f32Constant(nb, nl, rootDim)),
                            paramType));
          Value normed = arith::MulFOp::create(nb, nl, a[0], a[1]);
          Value scaled = arith::MulFOp::create(nb, nl, normed, scale);
          Value shifted = arith::AddFOp::create(nb, nl, scaled, a[3]);
          return toF32(nb, nl, fromF32(nb, nl, shifted, type));
        });
  };
  return {split(2), split(3)};
}

HeadInputs loadHead(Emitter &e, const Config &cfg, const OpOperands &ops,
                    Value bIdx, Value hIdx) {
  OpBuilder &b = e.b;
  OpFoldResult zero = b.getIndexAttr(0), bi = bIdx, hi = hIdx;
  int64_t total = cfg.cacheLen + cfg.length;
  auto rows4 = [&](Value src, int64_t n, int64_t d) {
    return e.slice(src, {bi, zero, hi, zero}, {1, n, 1, d}, {n, d});
  };
  HeadInputs in;
  Value k;
  if (ops.z) {
    std::tie(in.q, k) = splitRows(e, cfg, ops, bIdx, hIdx);
  } else {
    in.q = rows4(ops.aq, cfg.length, cfg.keyDim);
    k = rows4(ops.ak, cfg.length, cfg.keyDim);
  }
  in.callKeys = k;
  Value v = rows4(ops.v, cfg.length, cfg.valueDim);
  if (cfg.cache) {
    Value keys = e.empty({total, cfg.keyDim});
    keys = e.insertRows(rows4(ops.prevK, cfg.cacheLen, cfg.keyDim), keys, zero);
    in.keys = e.insertRows(k, keys, b.getIndexAttr(cfg.cacheLen));
    Value vals = e.empty({total, cfg.valueDim});
    vals =
        e.insertRows(rows4(ops.prevV, cfg.cacheLen, cfg.valueDim), vals, zero);
    in.values = e.insertRows(v, vals, b.getIndexAttr(cfg.cacheLen));
  } else {
    in.keys = k;
    in.values = v;
  }
  if (cfg.segments) {
    Value seg = e.slice(ops.seg, {bi, zero}, {1, cfg.length}, {cfg.length});
    if (cfg.cache) {
      Value all = e.empty({total}, b.getI64Type());
      Value prev =
          e.slice(ops.prevSeg, {bi, zero}, {1, cfg.cacheLen}, {cfg.cacheLen});
      all = e.insertRows(prev, all, zero);
      in.seg = e.insertRows(seg, all, b.getIndexAttr(cfg.cacheLen));
      in.memSeg = tensor::ExtractOp::create(b, e.loc, ops.prevCount, bIdx);
    } else if (cfg.chunked) {
      in.seg = seg;
      // No cache: the memory is empty until chunk 0 is written; its
      // segment is then last(chunk 0), so the first write never resets.
      in.memSeg = tensor::ExtractOp::create(b, e.loc, seg,
                                            ValueRange{e.index(cfg.chunk - 1)});
    }
  }
  if (cfg.memory) {
    in.memory =
        e.slice(ops.memory, {bi, hi, zero, zero},
                {1, 1, cfg.keyDim, cfg.valueDim}, {cfg.keyDim, cfg.valueDim});
    in.lnt = e.slice(ops.lnt, {bi, hi, zero}, {1, 1, cfg.keyDim}, {cfg.keyDim});
  } else {
    in.memory = e.filled({cfg.keyDim, cfg.valueDim}, 0.0);
    in.lnt = e.filled({cfg.keyDim}, -INFINITY);
  }
  return in;
}

/// Everything a write computes from the memory before it (§6).
struct WriteTerms {
  Value weightsT; // W^T (C, dz): softmax over time of the kept keys
  Value rho;      // (dz)
  Value newLnt;   // (dz)
  Value psi;      // (C, dz): softmax over features
  Value residual; // E (C, dv)
  Value update;   // U (dz, dv)
};

/// The pending chunk of one step and the memory's bookkeeping before it.
struct Pending {
  Value keys, values; // (C, dz), (C, dv)
  Value seg;          // (C) i64 or null
  Value reset;        // i1 or null: whether the write resets first
  Value last;         // i64 or null: segment of the chunk's last token
};

Pending loadPending(Emitter &e, const Config &cfg, const HeadInputs &in,
                    OpFoldResult offset, Value memSeg) {
  Pending p;
  p.keys = e.rows(in.keys, offset, cfg.chunk);
  p.values = e.rows(in.values, offset, cfg.chunk);
  if (in.seg) {
    p.seg = e.rows(in.seg, offset, cfg.chunk);
    p.last = tensor::ExtractOp::create(e.b, e.loc, p.seg,
                                       ValueRange{e.index(cfg.chunk - 1)});
    p.reset = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::ne,
                                    p.last, memSeg);
  }
  return p;
}

WriteTerms writeTerms(Emitter &e, const Pending &p, Value memory, Value lnt) {
  WriteTerms t;
  auto first = [](OpBuilder &, Location, ValueRange a) { return a[0]; };
  // k~: keys whose segment differs from the chunk's last token are -inf.
  Value masked = p.keys;
  if (p.seg)
    masked = e.maskRows(p.keys, p.seg, p.last, -INFINITY);
  Value hi = e.reduce(masked, 0, true, first);
  Value ex = e.withVector(masked, hi, false,
                          [](OpBuilder &nb, Location nl, ValueRange a) {
                            Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
                            return math::ExpOp::create(nb, nl, d).getResult();
                          });
  Value mass = e.sum(ex, 0, first);
  t.weightsT = e.withVector(
      ex, mass, false, [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::DivFOp::create(nb, nl, a[0], a[1]).getResult();
      });
  // a = hi + log(mass); Z' = logaddexp(Z, a) (a is finite: the last key is
  // always kept, so Z = -inf gives Z' = a, rho = 1 without NaNs).
  Value logMass =
      e.map1({hi, mass}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value l = math::LogOp::create(nb, nl, a[1]);
        return arith::AddFOp::create(nb, nl, a[0], l).getResult();
      });
  t.newLnt =
      e.map1({lnt, logMass}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value mx = arith::MaximumFOp::create(nb, nl, a[0], a[1]);
        Value mn = arith::MinimumFOp::create(nb, nl, a[0], a[1]);
        Value d = arith::SubFOp::create(nb, nl, mn, mx);
        Value ex = math::ExpOp::create(nb, nl, d);
        Value l = math::Log1pOp::create(nb, nl, ex);
        return arith::AddFOp::create(nb, nl, mx, l).getResult();
      });
  t.rho =
      e.map1({logMass, t.newLnt}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
        return math::ExpOp::create(nb, nl, d).getResult();
      });
  t.psi = e.softmaxRows(p.keys);
  Value predicted = e.matmul(t.psi, memory);
  t.residual = e.map2(
      {p.values, predicted}, [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::SubFOp::create(nb, nl, a[0], a[1]).getResult();
      });
  t.update = e.matmul(e.transpose(t.weightsT), t.residual);
  return t;
}

/// M' = M + rho (U - M).
Value writtenMemory(Emitter &e, const WriteTerms &t, Value memory) {
  return e.withVector(
      e.map2({memory, t.update},
             [](OpBuilder &nb, Location nl, ValueRange a) {
               return arith::SubFOp::create(nb, nl, a[1], a[0]).getResult();
             }),
      t.rho, true, [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
      });
}

struct State {
  Value memory, lnt, memSeg;
};

/// Applies the optional reset and the write of `p` to `s`.
State writeStep(Emitter &e, const Pending &p, State s) {
  if (p.reset) {
    s.memory = e.selectAll(p.reset, 0.0, s.memory);
    s.lnt = e.selectAll(p.reset, -INFINITY, s.lnt);
  }
  WriteTerms t = writeTerms(e, p, s.memory, s.lnt);
  Value delta = writtenMemory(e, t, s.memory);
  s.memory =
      e.map2({s.memory, delta}, [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::AddFOp::create(nb, nl, a[0], a[1]).getResult();
      });
  s.lnt = t.newLnt;
  if (p.last)
    s.memSeg = p.last;
  return s;
}

/// out = softmax(q)·M with rows of another segment zeroed.
Value readStep(Emitter &e, Value q, Value segRows, Value memory, Value memSeg) {
  Value out = e.matmul(e.softmaxRows(q), memory);
  if (segRows)
    out = e.maskRows(out, segRows, memSeg, 0.0);
  return out;
}

/// Offset of chunk c's pending chunk in [prev_k ; ak]: T + (c - 1) C.
Value pendingOffset(Emitter &e, const Config &cfg, Value c) {
  Value start = arith::MulIOp::create(e.b, e.loc, c, e.index(cfg.chunk));
  return arith::AddIOp::create(e.b, e.loc, start,
                               e.index(cfg.cacheLen - cfg.chunk));
}
Value chunkOffset(Emitter &e, const Config &cfg, Value c) {
  return arith::MulIOp::create(e.b, e.loc, c, e.index(cfg.chunk));
}

/// Forward of one (b, h): out (L, dv) and the final state.
std::pair<Value, State> forwardHead(Emitter &e, const Config &cfg,
                                    const HeadInputs &in) {
  State init{in.memory, in.lnt, in.memSeg};
  Value out0 = e.filled({cfg.length, cfg.valueDim}, 0.0);
  if (!cfg.chunked) {
    if (!cfg.memory) // fresh stream: nothing to read or write
      return {out0, init};
    Value segRows;
    if (in.seg)
      segRows = e.rows(in.seg, e.b.getIndexAttr(cfg.cacheLen), cfg.length);
    Value out = readStep(e, in.q, segRows, init.memory, init.memSeg);
    if (!cfg.shortWrites())
      return {out, init};
    Pending p = loadPending(e, cfg, in, e.b.getIndexAttr(0), init.memSeg);
    return {out, writeStep(e, p, init)};
  }
  SmallVector<Value> iters = {out0, init.memory, init.lnt};
  if (init.memSeg)
    iters.push_back(init.memSeg);
  auto loop = scf::ForOp::create(
      e.b, e.loc, e.index(cfg.firstChunk()), e.index(cfg.chunks()), e.index(1),
      iters, [&](OpBuilder &nb, Location nl, Value c, ValueRange args) {
        Emitter le(nb, nl);
        State s{args[1], args[2], init.memSeg ? args[3] : Value()};
        Value rowOffset = chunkOffset(le, cfg, c);
        Value q = le.rows(in.q, rowOffset, cfg.chunk);
        Value segRows;
        if (in.seg)
          segRows = le.rows(
              in.seg,
              arith::AddIOp::create(nb, nl, rowOffset, le.index(cfg.cacheLen))
                  .getResult(),
              cfg.chunk);
        Value read = readStep(le, q, segRows, s.memory, s.memSeg);
        Value out = le.insertRows(read, args[0], rowOffset);
        Pending p =
            loadPending(le, cfg, in, pendingOffset(le, cfg, c), s.memSeg);
        State next = writeStep(le, p, s);
        SmallVector<Value> yields = {out, le.copyInto(next.memory, args[1]),
                                     le.copyInto(next.lnt, args[2])};
        if (next.memSeg)
          yields.push_back(next.memSeg);
        scf::YieldOp::create(nb, nl, yields);
      });
  State fin{loop.getResult(1), loop.getResult(2),
            init.memSeg ? loop.getResult(3) : Value()};
  return {loop.getResult(0), fin};
}

/// Gradients of one step (read of `q` rows, optional write of `p`).
struct StepGrads {
  Value gradMemory, gradLnt; // dL/dM, dL/dZ before the step
  Value dq;                  // (R, dz)
  Value dKeys, dValues;      // (C, dz), (C, dv) or null without a write
};

StepGrads backwardStep(Emitter &e, Value q, Value dout, Value segRows,
                       const State &before, const Pending *p, Value gradMemory,
                       Value gradLnt) {
  StepGrads g;
  auto mul = [](OpBuilder &nb, Location nl, ValueRange a) {
    return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
  };
  if (p) {
    Value memory = before.memory, lnt = before.lnt;
    if (p->reset) {
      memory = e.selectAll(p->reset, 0.0, memory);
      lnt = e.selectAll(p->reset, -INFINITY, lnt);
    }
    WriteTerms t = writeTerms(e, *p, memory, lnt);
    // d rho = sum_v G (U - M~), dU = rho G.
    Value dRho =
        e.sum({gradMemory, t.update, memory}, 1,
              [](OpBuilder &nb, Location nl, ValueRange a) {
                Value d = arith::SubFOp::create(nb, nl, a[1], a[2]);
                return arith::MulFOp::create(nb, nl, a[0], d).getResult();
              });
    Value dUpdate = e.withVector(gradMemory, t.rho, true, mul);
    // dE = W^T dU (C, dv); dW^T = E dU^T (C, dz).
    Value dResidual = e.matmul(t.weightsT, dUpdate);
    Value dWeightsT = e.matmul(t.residual, e.transpose(dUpdate));
    // d psi = -dE M~^T; dM~ = (1 - rho) G - psi^T dE.
    Value dPsi =
        e.map2(e.matmul(dResidual, e.transpose(memory)),
               [](OpBuilder &nb, Location nl, ValueRange a) {
                 return arith::NegFOp::create(nb, nl, a[0]).getResult();
               });
    Value back = e.matmul(e.transpose(t.psi), dResidual);
    Value dMemory =
        e.map({gradMemory, t.rho, back},
              {e.map(2, {0, 1}), e.map(2, {0}), e.map(2, {0, 1})},
              Emitter::shapeOf(gradMemory),
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                Value one = f32Constant(nb, nl, 1.0);
                Value keep = arith::SubFOp::create(nb, nl, one, a[1]);
                Value kept = arith::MulFOp::create(nb, nl, keep, a[0]);
                return arith::SubFOp::create(nb, nl, kept, a[2]).getResult();
              });
    // coupling = rho (1 - rho) d rho; da = rho z + coupling,
    // dZ~ = (1 - rho) z - coupling.
    auto coupling = [](OpBuilder &nb, Location nl, Value rho, Value dRho) {
      Value one = f32Constant(nb, nl, 1.0);
      Value keep = arith::SubFOp::create(nb, nl, one, rho);
      Value c = arith::MulFOp::create(nb, nl, rho, keep);
      return std::make_pair(keep,
                            arith::MulFOp::create(nb, nl, c, dRho).getResult());
    };
    Value dLogMass = e.map1(
        {t.rho, dRho, gradLnt}, [&](OpBuilder &nb, Location nl, ValueRange a) {
          auto [keep, c] = coupling(nb, nl, a[0], a[1]);
          (void)keep;
          Value r = arith::MulFOp::create(nb, nl, a[0], a[2]);
          return arith::AddFOp::create(nb, nl, r, c).getResult();
        });
    Value dLnt = e.map1(
        {t.rho, dRho, gradLnt}, [&](OpBuilder &nb, Location nl, ValueRange a) {
          auto [keep, c] = coupling(nb, nl, a[0], a[1]);
          Value r = arith::MulFOp::create(nb, nl, keep, a[2]);
          return arith::SubFOp::create(nb, nl, r, c).getResult();
        });
    // Keys: softmax-over-time backward of dW + da W + softmax-over-features
    // backward of d psi. Excluded keys have W = 0 and dE = 0: exactly 0.
    Value dTime = e.softmaxBackward(t.weightsT, dWeightsT, 0);
    Value dMass = e.withVector(t.weightsT, dLogMass, false, mul);
    Value dFeat = e.softmaxBackward(t.psi, dPsi, 1);
    g.dKeys = e.map2(
        {dTime, dMass, dFeat}, [](OpBuilder &nb, Location nl, ValueRange a) {
          Value s = arith::AddFOp::create(nb, nl, a[0], a[1]);
          return arith::AddFOp::create(nb, nl, s, a[2]).getResult();
        });
    g.dValues = dResidual;
    gradMemory = dMemory;
    gradLnt = dLnt;
    if (p->reset) {
      gradMemory = e.selectAll(p->reset, 0.0, gradMemory);
      gradLnt = e.selectAll(p->reset, 0.0, gradLnt);
    }
  }
  // Read: G += phi^T dout (masked rows zeroed); dq = softmax-backward of
  // dout M^T.
  Value phi = e.softmaxRows(q);
  if (segRows)
    dout = e.maskRows(dout, segRows, before.memSeg, 0.0);
  g.gradMemory = e.matmul(e.transpose(phi), dout, gradMemory);
  g.gradLnt = gradLnt;
  Value dPhi = e.matmul(dout, e.transpose(before.memory));
  g.dq = e.softmaxBackward(phi, dPhi, 1);
  return g;
}

struct HeadGrads {
  Value dq;             // (L, dz)
  Value dKeys, dValues; // (T + L, ·)
  Value dMemory, dLnt;  // (dz, dv), (dz)
};

HeadGrads backwardHead(Emitter &e, const Config &cfg, const HeadInputs &in,
                       Value gradMemory, Value gradLnt) {
  OpBuilder &b = e.b;
  int64_t total = cfg.cacheLen + cfg.length;
  HeadGrads g;
  g.dq = e.filled({cfg.length, cfg.keyDim}, 0.0);
  g.dKeys = e.filled({total, cfg.keyDim}, 0.0);
  g.dValues = e.filled({total, cfg.valueDim}, 0.0);
  State init{in.memory, in.lnt, in.memSeg};
  if (!cfg.chunked) {
    g.dMemory = gradMemory;
    g.dLnt = gradLnt;
    if (!cfg.memory)
      return g; // nothing read or written
    Value segRows;
    if (in.seg)
      segRows = e.rows(in.seg, b.getIndexAttr(cfg.cacheLen), cfg.length);
    std::optional<Pending> p;
    if (cfg.shortWrites())
      p = loadPending(e, cfg, in, b.getIndexAttr(0), init.memSeg);
    StepGrads s = backwardStep(e, in.q, in.dout, segRows, init,
                               p ? &*p : nullptr, gradMemory, gradLnt);
    g.dq = s.dq;
    if (p) {
      g.dKeys = e.insertRows(s.dKeys, g.dKeys, b.getIndexAttr(0));
      g.dValues = e.insertRows(s.dValues, g.dValues, b.getIndexAttr(0));
    }
    g.dMemory = s.gradMemory;
    g.dLnt = s.gradLnt;
    return g;
  }
  // Replay: the state before every chunk's step.
  int64_t n = cfg.chunks();
  Type i64 = b.getI64Type();
  SmallVector<Value> iters = {e.empty({n, cfg.keyDim, cfg.valueDim}),
                              e.empty({n, cfg.keyDim}), e.empty({n}, i64),
                              init.memory, init.lnt};
  if (init.memSeg)
    iters.push_back(init.memSeg);
  auto replay = scf::ForOp::create(
      b, e.loc, e.index(cfg.firstChunk()), e.index(n), e.index(1), iters,
      [&](OpBuilder &nb, Location nl, Value c, ValueRange args) {
        Emitter le(nb, nl);
        State s{args[3], args[4], init.memSeg ? args[5] : Value()};
        OpFoldResult zero = nb.getIndexAttr(0), one = nb.getIndexAttr(1);
        OpFoldResult dz = nb.getIndexAttr(cfg.keyDim),
                     dv = nb.getIndexAttr(cfg.valueDim);
        Value memories = tensor::InsertSliceOp::create(
            nb, nl, s.memory, args[0], ArrayRef<OpFoldResult>{c, zero, zero},
            ArrayRef<OpFoldResult>{one, dz, dv},
            ArrayRef<OpFoldResult>{one, one, one});
        Value lnts = tensor::InsertSliceOp::create(
            nb, nl, s.lnt, args[1], ArrayRef<OpFoldResult>{c, zero},
            ArrayRef<OpFoldResult>{one, dz}, ArrayRef<OpFoldResult>{one, one});
        Value segs = args[2];
        if (s.memSeg)
          segs = tensor::InsertOp::create(nb, nl, s.memSeg, segs, c);
        Pending p =
            loadPending(le, cfg, in, pendingOffset(le, cfg, c), s.memSeg);
        State next = writeStep(le, p, s);
        SmallVector<Value> yields = {memories, lnts, segs,
                                     le.copyInto(next.memory, args[3]),
                                     le.copyInto(next.lnt, args[4])};
        if (next.memSeg)
          yields.push_back(next.memSeg);
        scf::YieldOp::create(nb, nl, yields);
      });
  Value memories = replay.getResult(0), lnts = replay.getResult(1),
        segs = replay.getResult(2);
  // Reverse chunk loop: i = 0 .. n - first - 1 visits c = n - 1 - i.
  SmallVector<Value> grads = {gradMemory, gradLnt, g.dq, g.dKeys, g.dValues};
  auto reverse = scf::ForOp::create(
      b, e.loc, e.index(0), e.index(n - cfg.firstChunk()), e.index(1), grads,
      [&](OpBuilder &nb, Location nl, Value i, ValueRange args) {
        Emitter le(nb, nl);
        Value c = arith::SubIOp::create(nb, nl, le.index(n - 1), i);
        OpFoldResult zero = nb.getIndexAttr(0), one = nb.getIndexAttr(1);
        OpFoldResult dz = nb.getIndexAttr(cfg.keyDim),
                     dv = nb.getIndexAttr(cfg.valueDim);
        State s;
        s.memory = tensor::ExtractSliceOp::create(
            nb, nl, RankedTensorType::get({cfg.keyDim, cfg.valueDim}, le.f32()),
            memories, ArrayRef<OpFoldResult>{c, zero, zero},
            ArrayRef<OpFoldResult>{one, dz, dv},
            ArrayRef<OpFoldResult>{one, one, one});
        s.lnt = tensor::ExtractSliceOp::create(
            nb, nl, RankedTensorType::get({cfg.keyDim}, le.f32()), lnts,
            ArrayRef<OpFoldResult>{c, zero}, ArrayRef<OpFoldResult>{one, dz},
            ArrayRef<OpFoldResult>{one, one});
        if (init.memSeg)
          s.memSeg = tensor::ExtractOp::create(nb, nl, segs, ValueRange{c});
        Value rowOffset = chunkOffset(le, cfg, c);
        Value q = le.rows(in.q, rowOffset, cfg.chunk);
        Value dout = le.rows(in.dout, rowOffset, cfg.chunk);
        Value segRows;
        if (in.seg)
          segRows = le.rows(
              in.seg,
              arith::AddIOp::create(nb, nl, rowOffset, le.index(cfg.cacheLen))
                  .getResult(),
              cfg.chunk);
        Value pendOffset = pendingOffset(le, cfg, c);
        Pending p = loadPending(le, cfg, in, pendOffset, s.memSeg);
        StepGrads sg =
            backwardStep(le, q, dout, segRows, s, &p, args[0], args[1]);
        Value dq = le.insertRows(sg.dq, args[2], rowOffset);
        Value dKeys = le.insertRows(sg.dKeys, args[3], pendOffset);
        Value dValues = le.insertRows(sg.dValues, args[4], pendOffset);
        scf::YieldOp::create(nb, nl,
                             ValueRange{le.copyInto(sg.gradMemory, args[0]),
                                        le.copyInto(sg.gradLnt, args[1]), dq,
                                        dKeys, dValues});
      });
  g.dMemory = reverse.getResult(0);
  g.dLnt = reverse.getResult(1);
  g.dq = reverse.getResult(2);
  g.dKeys = reverse.getResult(3);
  g.dValues = reverse.getResult(4);
  return g;
}

/// Inserts `value` (f32) of head (b, h) into `dest`: (B, n, H, d) for a 2-D
/// value (n, d) with `rowsLayout`, else (B, H, <value dims>).
void insertHead(OpBuilder &b, Location loc, Value value, Value dest, Value bIdx,
                Value hIdx, bool rowsLayout) {
  auto destType = cast<RankedTensorType>(dest.getType());
  Emitter e(b, loc);
  Value rounded = e.castTo(value, destType.getElementType());
  ArrayRef<int64_t> shape = Emitter::shapeOf(value);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  SmallVector<OpFoldResult> offsets, sizes;
  if (rowsLayout) {
    offsets = {bIdx, zero, hIdx, zero};
    sizes = {one, b.getIndexAttr(shape[0]), one, b.getIndexAttr(shape[1])};
  } else {
    offsets = {bIdx, hIdx};
    sizes = {one, one};
    for (int64_t d : shape) {
      offsets.push_back(zero);
      sizes.push_back(b.getIndexAttr(d));
    }
  }
  SmallVector<OpFoldResult> strides(offsets.size(), one);
  OpBuilder::InsertionGuard guard(b);
  auto forall = cast<scf::ForallOp>(dest.getParentBlock()->getParentOp());
  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, rounded, dest, offsets, sizes,
                                        strides);
}

/// scf.forall over (batch, head) with `outputs` shared; `body` runs at the
/// start of the body with (b, h, shared outputs).
scf::ForallOp buildHeadForall(
    OpBuilder &b, Location loc, int64_t batch, int64_t heads,
    ValueRange outputs,
    function_ref<void(OpBuilder &, Value, Value, ValueRange)> body) {
  SmallVector<OpFoldResult> lbs = {b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ubs = {b.getIndexAttr(batch),
                                   b.getIndexAttr(heads)};
  SmallVector<OpFoldResult> steps = {b.getIndexAttr(1), b.getIndexAttr(1)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  body(b, ivs[0], ivs[1], forall.getRegionIterArgs());
  return forall;
}

template <typename OpTy> FailureOr<Config> configOf(OpTy op) {
  Value primary;
  if constexpr (std::is_same_v<OpTy, FusedWorkingMemoryOp>)
    primary = op.getZ();
  else
    primary = op.getAq();
  auto aq = cast<RankedTensorType>(primary.getType());
  auto v = cast<RankedTensorType>(op.getV().getType());
  for (Value operand : op->getOperands())
    if (!cast<ShapedType>(operand.getType()).hasStaticShape())
      return op.emitOpError()
             << "gecko-convert-to-linalg supports only static shapes";
  Config cfg;
  cfg.batch = aq.getDimSize(0);
  cfg.length = aq.getDimSize(1);
  cfg.heads = aq.getDimSize(2);
  cfg.keyDim = aq.getDimSize(3);
  cfg.valueDim = v.getDimSize(3);
  cfg.chunk = op.getChunkSize();
  cfg.memory = static_cast<bool>(op.getMemory());
  cfg.cache = static_cast<bool>(op.getPrevK());
  cfg.segments = static_cast<bool>(op.getSeg());
  cfg.chunked = op.getPath() == ChunkPath::Chunked;
  cfg.cacheLen =
      cfg.cache ? cast<RankedTensorType>(op.getPrevK().getType()).getDimSize(1)
                : 0;
  if (cfg.chunked && cfg.cache && !cfg.memory)
    return op.emitOpError() << "gecko-convert-to-linalg: the chunked path "
                               "needs a memory when a cache is given (§6)";
  if (cfg.segments && cfg.memory && !op.getPrevCount())
    return op.emitOpError() << "gecko-convert-to-linalg: segments with a "
                               "memory need prev_seg and prev_count";
  return cfg;
}

template <typename OpTy> OpOperands operandsOf(OpTy op) {
  OpOperands ops;
  if constexpr (std::is_same_v<OpTy, FusedWorkingMemoryOp>) {
    ops.z = op.getZ();
    ops.gamma = op.getGamma();
    ops.beta = op.getBeta();
    ops.eps = op.getEps().convertToDouble();
  } else {
    ops.aq = op.getAq();
    ops.ak = op.getAk();
  }
  ops.v = op.getV();
  ops.memory = op.getMemory();
  ops.lnt = op.getLnt();
  ops.prevK = op.getPrevK();
  ops.prevV = op.getPrevV();
  ops.seg = op.getSeg();
  ops.prevSeg = op.getPrevSeg();
  ops.prevCount = op.getPrevCount();
  return ops;
}

Value emptyOf(OpBuilder &b, Location loc, Type type) {
  auto t = cast<RankedTensorType>(type);
  return tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
}

template <typename OpTy>
LogicalResult lowerForward(RewriterBase &rewriter, OpTy op) {
  FailureOr<Config> cfg = configOf(op);
  if (failed(cfg))
    return failure();
  OpOperands ops = operandsOf(op);
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<Value> outputs = {
      emptyOf(rewriter, loc, op.getOut().getType()),
      emptyOf(rewriter, loc, op.getNewMemory().getType()),
      emptyOf(rewriter, loc, op.getNewLnt().getType())};
  // gecko.fused_working_memory's key cache: ak rows [L - kept, L).
  int64_t kept = 0;
  if constexpr (std::is_same_v<OpTy, FusedWorkingMemoryOp>) {
    if (Value keyCache = op.getKeyCache()) {
      kept = cast<RankedTensorType>(keyCache.getType()).getDimSize(1);
      outputs.push_back(emptyOf(rewriter, loc, keyCache.getType()));
    }
  }
  auto forall = buildHeadForall(
      rewriter, loc, cfg->batch, cfg->heads, outputs,
      [&](OpBuilder &b, Value bi, Value hi, ValueRange shared) {
        Emitter e(b, loc);
        HeadInputs in = loadHead(e, *cfg, ops, bi, hi);
        auto [out, state] = forwardHead(e, *cfg, in);
        insertHead(b, loc, out, shared[0], bi, hi, true);
        insertHead(b, loc, state.memory, shared[1], bi, hi, false);
        insertHead(b, loc, state.lnt, shared[2], bi, hi, false);
        if (kept > 0)
          insertHead(
              b, loc,
              e.rows(in.callKeys, b.getIndexAttr(cfg->length - kept), kept),
              shared[3], bi, hi, true);
      });
  rewriter.replaceOp(op, forall.getResults());
  return success();
}

LogicalResult lowerBackward(RewriterBase &rewriter, WorkingMemoryGradOp op) {
  FailureOr<Config> cfg = configOf(op);
  if (failed(cfg))
    return failure();
  OpOperands ops = operandsOf(op);
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<Value> outputs;
  for (Value result : op->getResults())
    outputs.push_back(emptyOf(rewriter, loc, result.getType()));
  Value dNewMemory = op.getDNewMemory(), dNewLnt = op.getDNewLnt();
  auto forall = buildHeadForall(
      rewriter, loc, cfg->batch, cfg->heads, outputs,
      [&](OpBuilder &b, Value bi, Value hi, ValueRange shared) {
        Emitter e(b, loc);
        OpFoldResult zero = b.getIndexAttr(0);
        HeadInputs in = loadHead(e, *cfg, ops, bi, hi);
        in.dout = e.slice(op.getDout(), {bi, zero, hi, zero},
                          {1, cfg->length, 1, cfg->valueDim},
                          {cfg->length, cfg->valueDim});
        Value gradMemory, gradLnt;
        if (dNewMemory) {
          gradMemory = e.slice(dNewMemory, {bi, hi, zero, zero},
                               {1, 1, cfg->keyDim, cfg->valueDim},
                               {cfg->keyDim, cfg->valueDim});
          gradLnt = e.slice(dNewLnt, {bi, hi, zero}, {1, 1, cfg->keyDim},
                            {cfg->keyDim});
        } else {
          gradMemory = e.filled({cfg->keyDim, cfg->valueDim}, 0.0);
          gradLnt = e.filled({cfg->keyDim}, 0.0);
        }
        HeadGrads g = backwardHead(e, *cfg, in, gradMemory, gradLnt);
        Value dk = e.rows(g.dKeys, b.getIndexAttr(cfg->cacheLen), cfg->length);
        Value dv =
            e.rows(g.dValues, b.getIndexAttr(cfg->cacheLen), cfg->length);
        unsigned next = 0;
        insertHead(b, loc, g.dq, shared[next++], bi, hi, true);
        insertHead(b, loc, dk, shared[next++], bi, hi, true);
        insertHead(b, loc, dv, shared[next++], bi, hi, true);
        if (cfg->memory) {
          insertHead(b, loc, g.dMemory, shared[next++], bi, hi, false);
          insertHead(b, loc, g.dLnt, shared[next++], bi, hi, false);
        }
        if (cfg->cache) {
          insertHead(b, loc, e.rows(g.dKeys, zero, cfg->cacheLen),
                     shared[next++], bi, hi, true);
          insertHead(b, loc, e.rows(g.dValues, zero, cfg->cacheLen),
                     shared[next++], bi, hi, true);
        }
      });
  rewriter.replaceOp(op, forall.getResults());
  return success();
}

} // namespace

LogicalResult lowerWorkingMemoryOp(RewriterBase &rewriter, Operation *op,
                                   const GeckoTileSizes &tiles) {
  (void)tiles; // one forall iteration per (batch, head); chunk from the op
  if (auto forward = dyn_cast<WorkingMemoryOp>(op))
    return lowerForward(rewriter, forward);
  if (auto fused = dyn_cast<FusedWorkingMemoryOp>(op))
    return lowerForward(rewriter, fused);
  return lowerBackward(rewriter, cast<WorkingMemoryGradOp>(op));
}

} // namespace mlir::gecko
