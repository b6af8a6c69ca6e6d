//===- DecodeBuilder.cpp - gecko IR of the fixed-capacity decode step -----===//
//
// One function decodes one token per row at any stream position
// p = kv_count (a runtime scalar), r = p % C tokens after the last chunk
// boundary, with the existing ops (docs/model/builder.md, "Decode step"):
//
//  - SCA: the short path with a cache of T = 2C-1 keys, [boundary keys (C) ;
//    partial keys (C-1)], and L = 1. The query sees every cached key (the
//    cache precedes it; spec §5 short path), so the not yet filled slots are
//    masked through the segment masks: key segment -1 (never a real id) for
//    partial slots >= r and for the boundary keys before the first full
//    chunk (p < C), the real id (multi-document) or 0 elsewhere, the query's
//    own id (or 0). Nothing else depends on T.
//  - AWM: the short path with the boundary awm_k / v cache (T = C, so
//    T + L = C + 1: no chunk completes, nothing is written), i.e.
//    out = φ(aq)·M with the read mask against prev_segment_count; its memory
//    results are discarded. Before the first full chunk M is the zero
//    boundary memory, so the output is 0 as spec §6 requires.
//  - TSN / CEMA / output TSN: L = 1 steps from the partial state, or from the
//    boundary state when r = 0 (chosen in the IR).
//  - The new rotated key / value (and segment id) go to slot min(r, C-2) of
//    the partial buffers (tensor.insert_slice at a dynamic offset).
//
//===----------------------------------------------------------------------===//

#include "BuilderSupport.h"

#include "gecko/Reference/Model.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;
using namespace mlir;

namespace gecko::model {

using namespace detail;

namespace {

/// Scalar helpers and whole-tensor choices at one insertion point.
struct DecodeEmitter : Emitter {
  using Emitter::Emitter;

  Value i64(int64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), value);
  }
  Value index(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }

  /// cond ? a : c for whole tensors (an elementwise linalg.generic that
  /// reads the scalar condition).
  Value choose(Value cond, Value a, Value c) {
    auto type = cast<RankedTensorType>(a.getType());
    AffineMap id = b.getMultiDimIdentityMap(type.getRank());
    SmallVector<utils::IteratorType> par(type.getRank(),
                                         utils::IteratorType::parallel);
    Value init =
        tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
    return linalg::GenericOp::create(
               b, loc, type, ValueRange{a, c}, ValueRange{init},
               ArrayRef<AffineMap>{id, id, id}, par,
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(nb, nl,
                                         Value(arith::SelectOp::create(
                                             nb, nl, cond, args[0], args[1])));
               })
        .getResult(0);
  }

  /// `src` (size 1 along dim 1) written into `dest` at dim-1 offset `at`.
  Value insertDim1(Value src, Value dest, Value at) {
    ArrayRef<int64_t> s = shapeOf(src);
    SmallVector<OpFoldResult> offsets(s.size(), b.getIndexAttr(0)), sizes,
        strides(s.size(), b.getIndexAttr(1));
    offsets[1] = at;
    for (int64_t size : s)
      sizes.push_back(b.getIndexAttr(size));
    return tensor::InsertSliceOp::create(b, loc, src, dest, offsets, sizes,
                                         strides);
  }

  /// v[:, at] of a (B, T) tensor as (B).
  Value columnAt(Value v, Value at) {
    ArrayRef<int64_t> s = shapeOf(v);
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), at};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(s[0]), b.getIndexAttr(1)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    auto type = tensorOf({s[0], 1},
                         cast<RankedTensorType>(v.getType()).getElementType());
    Value slice = tensor::ExtractSliceOp::create(b, loc, type, v, offsets,
                                                 sizes, strides);
    return collapse(slice, {{0, 1}});
  }
};

} // namespace

std::vector<ArgInfo> decodeState(const ref::GeckoConfig &c, int64_t batch,
                                 bool segments, StringRef prefix) {
  int64_t cap = c.chunk_size - 1, h = c.num_heads, g = c.timenorm_num_groups;
  std::vector<ArgInfo> state;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string p = formatv("{0}layers.{1}.", prefix, i).str();
    state.push_back({p + "sca_k", {batch, cap, h, c.zHeadDim()}});
    state.push_back({p + "v", {batch, cap, h, c.vHeadDim()}});
    state.push_back({p + "norm_count", {batch}, ArgKind::I64});
    state.push_back({p + "norm_mean", {batch, g}});
    state.push_back({p + "norm_var", {batch, g}});
    state.push_back(
        {p + "hx", {batch, c.model_dim, c.cema_ndim}, ArgKind::ComplexF32});
  }
  state.push_back({(prefix + "out_norm_count").str(), {batch}, ArgKind::I64});
  state.push_back({(prefix + "out_norm_mean").str(), {batch, g}});
  state.push_back({(prefix + "out_norm_var").str(), {batch, g}});
  if (segments)
    state.push_back(
        {(prefix + "segment_idx").str(), {batch, cap}, ArgKind::I64});
  return state;
}

Expected<Signature> decodeSignature(const ref::GeckoConfig &c, int64_t batch,
                                    bool segments) {
  if (c.chunk_size < 2)
    return buildError(formatv("a decode step needs chunk_size >= 2 (got {0}): "
                              "every token completes a chunk",
                              c.chunk_size));
  CallSpec chunkSpec;
  chunkSpec.batch = batch;
  chunkSpec.length = c.chunk_size;
  chunkSpec.start = c.chunk_size;
  chunkSpec.stream = true;
  chunkSpec.segments = segments;
  Expected<Signature> chunk = modelSignature(c, chunkSpec);
  if (!chunk)
    return chunk.takeError();
  Signature sig;
  sig.args.push_back({"tokens", {batch, 1}, ArgKind::I64});
  // Parameters, kv_count and the boundary state: the chunk call's.
  sig.args.insert(sig.args.end(), chunk->args.begin() + 1, chunk->args.end());
  for (ArgInfo &a : decodeState(c, batch, segments, "partial."))
    sig.args.push_back(a);
  sig.results.push_back({"logits", {batch, 1, c.vocab_size}});
  for (ArgInfo &a : decodeState(c, batch, segments, "partial_out."))
    sig.results.push_back(a);
  return sig;
}

Expected<SmallVector<Value>> buildDecodeBody(OpBuilder &b, Location loc,
                                             const ref::GeckoConfig &c,
                                             int64_t batch, bool segments,
                                             ValueRange args) {
  Expected<Signature> sig = decodeSignature(c, batch, segments);
  if (!sig)
    return sig.takeError();
  loadDialects(b.getContext());
  Expected<Named> named = nameArgs(*sig, args, b);
  if (!named)
    return named.takeError();
  MLIRContext *ctx = b.getContext();
  DecodeEmitter e(b, loc);
  Type i64 = b.getI64Type(), i1 = b.getI1Type();
  int64_t ch = c.chunk_size, window = 2 * ch - 1;
  auto arg = [&](const Twine &name) { return named->get(name.str()); };

  // Position: r = kv % C, r == 0 (state from the boundary), kv >= C (the
  // boundary caches exist), slot min(r, C-2) for the new token.
  Value kv = arg("kv_count");
  Value r = arith::RemSIOp::create(b, loc, kv, e.i64(ch));
  Value atBoundary =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, r, e.i64(0));
  Value hasBoundary =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, kv, e.i64(ch));
  Value slot = e.index(arith::MinSIOp::create(b, loc, r, e.i64(ch - 2)));

  // Segment ids: the query's (B, 1) and the keys' (B, 2C-1), -1 = masked.
  Value tokens = arg("tokens");
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<utils::IteratorType> par2(2, utils::IteratorType::parallel);
  Value bos, querySeg, ids; // ids: [boundary ; partial] segment ids
  if (segments) {
    Value bosInit = tensor::EmptyOp::create(b, loc, shapeOf(tokens), i1);
    bos =
        linalg::GenericOp::create(
            b, loc, bosInit.getType(), ValueRange{tokens}, ValueRange{bosInit},
            ArrayRef<AffineMap>{id2, id2}, par2,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value bosId = arith::ConstantIntOp::create(nb, nl, i64, c.bos_id);
              linalg::YieldOp::create(
                  nb, nl,
                  Value(arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                              a[0], bosId)));
            })
            .getResult(0);
    ids =
        e.concatDim1(arg("cache.prev_segment_idx"), arg("partial.segment_idx"));
    // The previous token's id: ids[:, C-1+r] (the boundary's last token at
    // r = 0, partial slot r-1 otherwise), 0 for the first token.
    Value prevIdx = e.index(arith::AddIOp::create(b, loc, r, e.i64(ch - 1)));
    Value last = e.columnAt(ids, prevIdx);
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, kv, e.i64(0));
    last = e.choose(first, e.zeros({batch}, i64), last);
    Value segInit = tensor::EmptyOp::create(b, loc, shapeOf(tokens), i64);
    querySeg =
        linalg::GenericOp::create(
            b, loc, segInit.getType(), ValueRange{last, bos},
            ValueRange{segInit},
            ArrayRef<AffineMap>{
                AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, ctx), id2, id2},
            par2,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value inc = arith::ExtUIOp::create(nb, nl, i64, a[1]);
              linalg::YieldOp::create(
                  nb, nl, Value(arith::AddIOp::create(nb, nl, a[0], inc)));
            })
            .getResult(0);
  } else {
    querySeg = e.zeros({batch, 1}, i64);
  }
  Value keySegInit =
      tensor::EmptyOp::create(b, loc, SmallVector<int64_t>{batch, window}, i64);
  SmallVector<Value> keySegInputs;
  SmallVector<AffineMap> keySegMaps;
  if (ids) {
    keySegInputs.push_back(ids);
    keySegMaps.push_back(id2);
  }
  keySegMaps.push_back(id2);
  Value keySeg =
      linalg::GenericOp::create(
          b, loc, keySegInit.getType(), keySegInputs, ValueRange{keySegInit},
          keySegMaps, par2,
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            Value j = arith::IndexCastOp::create(
                nb, nl, i64, linalg::IndexOp::create(nb, nl, 1));
            Value cC = arith::ConstantIntOp::create(nb, nl, i64, ch);
            Value inBoundary =
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt, j, cC);
            Value partialSlot = arith::SubIOp::create(nb, nl, j, cC);
            Value filled = arith::CmpIOp::create(
                nb, nl, arith::CmpIPredicate::slt, partialSlot, r);
            Value valid = arith::SelectOp::create(nb, nl, inBoundary,
                                                  hasBoundary, filled);
            Value real =
                ids ? a[0]
                    : Value(arith::ConstantIntOp::create(nb, nl, i64, 0));
            Value masked = arith::ConstantIntOp::create(nb, nl, i64, -1);
            linalg::YieldOp::create(
                nb, nl,
                Value(arith::SelectOp::create(nb, nl, valid, real, masked)));
          })
          .getResult(0);

  auto xType = tensorOf({batch, 1, c.model_dim}, e.f32);
  Value x = mlir::gecko::EmbeddingOp::create(b, loc, xType, arg("embed.weight"),
                                             tokens);
  auto shortPath =
      mlir::gecko::ChunkPathAttr::get(ctx, mlir::gecko::ChunkPath::Short);
  int64_t h = c.num_heads, dz = c.zHeadDim(), dv = c.vHeadDim();
  SmallVector<Value> state;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string prefix = formatv("layers.{0}.", i).str();
    std::string boundary = "cache." + prefix, partial = "partial." + prefix;
    LayerIO io;
    io.x = x, io.bos = bos, io.start = kv;
    for (auto &entry : named->values) {
      StringRef key = entry.getKey();
      if (key.consume_front(prefix))
        io.params.values[key] = entry.getValue();
    }
    auto carried = [&](StringRef name) {
      return e.choose(atBoundary, arg(boundary + name), arg(partial + name));
    };
    LayerFront f =
        emitLayerFront(e, c, io, carried("norm_count"), carried("norm_mean"),
                       carried("norm_var"), carried("hx"));

    Value prevK = e.concatDim1(arg(boundary + "sca_k"), arg(partial + "sca_k"));
    Value prevV = e.concatDim1(arg(boundary + "v"), arg(partial + "v"));
    Value sca = mlir::gecko::ChunkAttentionOp::create(
        b, loc, f.vh.getType(), shortPath, f.qh, f.kh, f.vh, prevK, prevV,
        querySeg, keySeg, b.getI64IntegerAttr(ch), b.getUnitAttr());
    auto awm = mlir::gecko::WorkingMemoryOp::create(
        b, loc, f.vh.getType(), tensorOf({batch, h, dz, dv}, e.f32),
        tensorOf({batch, h, dz}, e.f32), shortPath, f.aqh, f.akh, f.vh,
        arg(boundary + "memory"), arg(boundary + "lnt"),
        e.transpose12(arg(boundary + "awm_k")), arg(boundary + "v"),
        segments ? querySeg : Value(),
        segments ? arg("cache.prev_segment_idx") : Value(),
        segments ? arg("cache.prev_segment_count") : Value(),
        b.getI64IntegerAttr(ch));
    x = emitLayerBack(e, c, io, f, sca, awm.getOut());

    state.push_back(e.insertDim1(f.kh, arg(partial + "sca_k"), slot));
    state.push_back(e.insertDim1(f.vh, arg(partial + "v"), slot));
    state.push_back(f.newCount);
    state.push_back(f.newMean);
    state.push_back(f.newVar);
    state.push_back(f.newHx);
  }

  auto carried = [&](StringRef name) {
    return e.choose(atBoundary, arg("cache." + name), arg("partial." + name));
  };
  Value count = carried("out_norm_count"), mean = carried("out_norm_mean"),
        var = carried("out_norm_var");
  auto norm = mlir::gecko::TimestepNormOp::create(
      b, loc, xType, count.getType(), mean.getType(), var.getType(), x,
      arg("output.final_norm.weight"), arg("output.final_norm.bias"), count,
      mean, var, bos, Value(), b.getI64IntegerAttr(c.timenorm_num_groups),
      b.getF64FloatAttr(c.timenorm_beta1), b.getF64FloatAttr(c.timenorm_beta2),
      b.getF64FloatAttr(c.norm_eps));
  SmallVector<Value> results = {
      e.linear(norm.getY(), arg("output.output.weight"))};
  llvm::append_range(results, state);
  results.push_back(norm.getNewCount());
  results.push_back(norm.getNewMean());
  results.push_back(norm.getNewVar());
  if (segments)
    results.push_back(e.insertDim1(querySeg, arg("partial.segment_idx"), slot));
  return results;
}

Expected<func::FuncOp> buildDecodeFunction(ModuleOp module, StringRef name,
                                           const ref::GeckoConfig &c,
                                           int64_t batch, bool segments) {
  Expected<Signature> sig = decodeSignature(c, batch, segments);
  if (!sig)
    return sig.takeError();
  loadDialects(module.getContext());
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  SmallVector<Type> argTypes, resultTypes;
  for (const ArgInfo &a : sig->args)
    argTypes.push_back(argType(b, a));
  for (const ArgInfo &a : sig->results)
    resultTypes.push_back(argType(b, a));
  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(argTypes, resultTypes));
  for (auto [i, a] : llvm::enumerate(sig->args))
    func.setArgAttr(i, "gecko.name", b.getStringAttr(a.name));
  for (auto [i, a] : llvm::enumerate(sig->results))
    func.setResultAttr(i, "gecko.name", b.getStringAttr(a.name));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Expected<SmallVector<Value>> results =
      buildDecodeBody(b, loc, c, batch, segments, entry->getArguments());
  if (!results) {
    func.erase();
    return results.takeError();
  }
  func::ReturnOp::create(b, loc, *results);
  return func;
}

} // namespace gecko::model
