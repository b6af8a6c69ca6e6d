//===- ModelBuilder.cpp - gecko IR of the Gecko block and model -----------===//
//
// One call = one function with static shapes. The block follows spec §8
// literally (gecko ops for every special op, gecko.linear / gecko.silu /
// gecko.gated_add for the dense parts, tensor reshapes for the head split);
// the §9 cache update is tensor.extract_slice / tensor.concat /
// linalg.transpose (the AWM key cache is (B, H, T, dz)). The model adds the
// embedding, the multi-document bos / segment ids (linalg.generic), the
// output TSN and projection, and the model-level segment cache.
//
//===----------------------------------------------------------------------===//

#include "BuilderSupport.h"

#include "gecko/Model/ModelBuilder.h"
#include "gecko/Reference/Model.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;
using namespace mlir;

namespace gecko::model {

using namespace detail;

namespace detail {

Error buildError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Names and shapes of one layer's state (spec §9) after `tokens` tokens.
std::vector<ArgInfo> layerState(const ref::GeckoConfig &c, int64_t batch,
                                int64_t tokens, const std::string &prefix) {
  int64_t t = cacheLength(tokens, c.chunk_size), h = c.num_heads,
          dz = c.zHeadDim(), dv = c.vHeadDim(), g = c.timenorm_num_groups;
  std::vector<ArgInfo> state;
  if (t > 0) {
    state.push_back({prefix + "sca_k", {batch, t, h, dz}, ArgKind::F32});
    state.push_back({prefix + "v", {batch, t, h, dv}, ArgKind::F32});
    state.push_back({prefix + "awm_k", {batch, h, t, dz}, ArgKind::F32});
  }
  if (tokens >= c.chunk_size) {
    state.push_back({prefix + "memory", {batch, h, dz, dv}, ArgKind::F32});
    state.push_back({prefix + "lnt", {batch, h, dz}, ArgKind::F32});
  }
  state.push_back({prefix + "norm_count", {batch}, ArgKind::I64});
  state.push_back({prefix + "norm_mean", {batch, g}, ArgKind::F32});
  state.push_back({prefix + "norm_var", {batch, g}, ArgKind::F32});
  state.push_back(
      {prefix + "hx", {batch, c.model_dim, c.cema_ndim}, ArgKind::ComplexF32});
  return state;
}

LayerFront emitLayerFront(Emitter &e, const ref::GeckoConfig &c,
                          const LayerIO &io, Value count, Value mean, Value var,
                          Value hx) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t bsz = shapeOf(io.x)[0], h = c.num_heads, g = c.timenorm_num_groups;
  auto p = [&](StringRef name) { return io.params.get(name); };
  auto xType = cast<RankedTensorType>(io.x.getType());

  // TSN with the carried (or prior, zero) statistics.
  auto tsn = mlir::gecko::TimestepNormOp::create(
      b, loc, xType, count.getType(), mean.getType(), var.getType(), io.x,
      p("mega.timenorm.weight"), p("mega.timenorm.bias"), count, mean, var,
      io.bos, Value(), b.getI64IntegerAttr(g),
      b.getF64FloatAttr(c.timenorm_beta1), b.getF64FloatAttr(c.timenorm_beta2),
      b.getF64FloatAttr(c.norm_eps));

  // CEMA (residual included).
  int64_t d = c.model_dim, n = c.cema_ndim;
  auto complexType = ComplexType::get(e.f32);
  auto coeffs = mlir::gecko::CemaCoeffsOp::create(
      b, loc, tensorOf({d, n}, e.f32), tensorOf({d, n}, complexType),
      tensorOf({d, n}, complexType), p("mega.cema.alpha"), p("mega.cema.delta"),
      p("mega.cema.theta"), p("mega.cema.gamma"));
  auto cema = mlir::gecko::CemaOp::create(
      b, loc, xType, tensorOf({bsz, d, n}, complexType), tsn.getY(),
      coeffs.getP(), coeffs.getQ(), coeffs.getGammaC(), hx, io.bos);
  LayerFront f;
  f.mx = mlir::gecko::RmsNormOp::create(
      b, loc, xType, cema.getY(), p("mega.rmsnorm.weight"),
      b.getI64IntegerAttr(c.layernorm_num_groups),
      b.getF64FloatAttr(c.norm_eps));
  f.newCount = tsn.getNewCount();
  f.newMean = tsn.getNewMean();
  f.newVar = tsn.getNewVar();
  f.newHx = cema.getNewH();

  // z split, v, r.
  Value zLin = e.linear(f.mx, p("mega.wz.weight"), p("mega.wz.bias"));
  auto zType = cast<RankedTensorType>(zLin.getType());
  auto z = mlir::gecko::ZSplitOp::create(
      b, loc, zType, zType, zType, zType, zLin, p("mega.gamma"), p("mega.beta"),
      b.getI64IntegerAttr(h), b.getF64FloatAttr(c.norm_eps));
  Value vLin = e.linear(tsn.getY(), p("mega.wv.weight"), p("mega.wv.bias"));
  Value v = mlir::gecko::SiluOp::create(b, loc, vLin.getType(), vLin);
  Value rLin = e.linear(f.mx, p("mega.wr.weight"), p("mega.wr.bias"));
  f.r = mlir::gecko::SiluOp::create(b, loc, rLin.getType(), rLin);

  f.qh = e.splitHeads(z.getQ(), h);
  f.kh = e.splitHeads(z.getK(), h);
  f.aqh = e.splitHeads(z.getAq(), h);
  f.akh = e.splitHeads(z.getAk(), h);
  f.vh = e.splitHeads(v, h);
  if (c.ropeHeads() > 0) {
    IntegerAttr ropeHeads =
        c.ropeHeads() < h ? b.getI64IntegerAttr(c.ropeHeads()) : IntegerAttr();
    f.qh =
        mlir::gecko::RopeOp::create(b, loc, f.qh.getType(), f.qh, io.start,
                                    b.getF64FloatAttr(c.rope_base), ropeHeads);
    f.kh =
        mlir::gecko::RopeOp::create(b, loc, f.kh.getType(), f.kh, io.start,
                                    b.getF64FloatAttr(c.rope_base), ropeHeads);
  }
  return f;
}

Value emitLayerBack(Emitter &e, const ref::GeckoConfig &c, const LayerIO &io,
                    const LayerFront &front, Value sca, Value awm) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto p = [&](StringRef name) { return io.params.get(name); };
  auto xType = cast<RankedTensorType>(io.x.getType());
  Value attn = e.add(e.mergeHeads(sca), e.mergeHeads(awm), front.r);
  Value outMega =
      e.add(e.add(e.linear(front.mx, p("mega.wh1.weight"), p("mega.wh1.bias")),
                  e.linear(attn, p("mega.wh2.weight"))),
            io.x);

  // NFFN with residual = its input.
  Value normed = mlir::gecko::LayerNormOp::create(
      b, loc, xType, outMega, p("nffn.norm.weight"), p("nffn.norm.bias"),
      b.getI64IntegerAttr(c.layernorm_num_groups),
      b.getF64FloatAttr(c.norm_eps));
  Value h1 = e.linear(normed, p("nffn.fc1.weight"));
  Value h3 = e.linear(normed, p("nffn.fc3.weight"));
  Value hid = mlir::gecko::SwiGluOp::create(b, loc, h1.getType(), h1, h3);
  return e.add(e.linear(hid, p("nffn.fc2.weight")), outMega);
}

} // namespace detail

namespace {

struct LayerOut {
  Value y;
  SmallVector<std::pair<std::string, Value>> state; // in layerState order
};

LayerOut emitLayer(Emitter &e, const ref::GeckoConfig &c, const CallSpec &spec,
                   const LayerIO &io) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  MLIRContext *ctx = b.getContext();
  int64_t bsz = spec.batch, l = spec.length, ch = c.chunk_size, h = c.num_heads,
          g = c.timenorm_num_groups;
  int64_t t = cacheLength(spec.start, ch);
  bool hasState = spec.start > 0, hasMemory = spec.start >= ch;
  bool chunked = l >= ch;
  auto s = [&](StringRef name) { return io.state.get(name); };
  Type i64 = b.getI64Type();

  Value count = hasState ? s("norm_count") : e.zeros({bsz}, i64);
  Value mean = hasState ? s("norm_mean") : e.zeros({bsz, g}, e.f32);
  Value var = hasState ? s("norm_var") : e.zeros({bsz, g}, e.f32);
  LayerFront f =
      emitLayerFront(e, c, io, count, mean, var, hasState ? s("hx") : Value());
  Value qh = f.qh, kh = f.kh, aqh = f.aqh, akh = f.akh, vh = f.vh;

  // Sliding chunk attention and working memory share the value cache.
  auto path = mlir::gecko::ChunkPathAttr::get(
      ctx, chunked ? mlir::gecko::ChunkPath::Chunked
                   : mlir::gecko::ChunkPath::Short);
  Value prevK = t > 0 ? s("sca_k") : Value();
  Value prevV = t > 0 ? s("v") : Value();
  Value prevSeg = io.seg && t > 0 ? io.prevSeg : Value();
  Value sca = mlir::gecko::ChunkAttentionOp::create(
      b, loc, vh.getType(), path, qh, kh, vh, prevK, prevV, io.seg, prevSeg,
      b.getI64IntegerAttr(ch), b.getUnitAttr());
  Value awmPrevK = t > 0 ? e.transpose12(s("awm_k")) : Value();
  Value prevCount = io.seg && t > 0 ? io.prevCount : Value();
  int64_t dz = c.zHeadDim(), dv = c.vHeadDim();
  auto awm = mlir::gecko::WorkingMemoryOp::create(
      b, loc, vh.getType(), tensorOf({bsz, h, dz, dv}, e.f32),
      tensorOf({bsz, h, dz}, e.f32), path, aqh, akh, vh,
      hasMemory ? s("memory") : Value(), hasMemory ? s("lnt") : Value(),
      awmPrevK, prevV, io.seg, prevSeg, prevCount, b.getI64IntegerAttr(ch));

  LayerOut out;
  out.y = emitLayerBack(e, c, io, f, sca, awm.getOut());
  if (!spec.stream)
    return out;

  // §9 cache update: last C tokens (chunked) or [old ; new] (short), then
  // trimmed to the last C at a chunk boundary.
  Value newK, newV, newAk;
  if (chunked) {
    newK = e.sliceDim1(kh, l - ch, l);
    newV = e.sliceDim1(vh, l - ch, l);
    newAk = e.sliceDim1(akh, l - ch, l);
  } else if (t > 0) {
    newK = e.concatDim1(prevK, kh);
    newV = e.concatDim1(prevV, vh);
    newAk = e.concatDim1(awmPrevK, akh);
  } else {
    newK = kh, newV = vh, newAk = akh;
  }
  int64_t end = spec.start + l;
  if (end % ch == 0) {
    int64_t len = shapeOf(newK)[1];
    if (len != ch) {
      newK = e.sliceDim1(newK, len - ch, len);
      newV = e.sliceDim1(newV, len - ch, len);
      newAk = e.sliceDim1(newAk, len - ch, len);
    }
  }
  out.state.push_back({"sca_k", newK});
  out.state.push_back({"v", newV});
  out.state.push_back({"awm_k", e.transpose12(newAk)});
  if (end >= ch) {
    out.state.push_back({"memory", awm.getNewMemory()});
    out.state.push_back({"lnt", awm.getNewLnt()});
  }
  out.state.push_back({"norm_count", f.newCount});
  out.state.push_back({"norm_mean", f.newMean});
  out.state.push_back({"norm_var", f.newVar});
  out.state.push_back({"hx", f.newHx});
  return out;
}

} // namespace

namespace detail {

Expected<Named> nameArgs(const Signature &signature, ValueRange args,
                         OpBuilder &b) {
  if (args.size() != signature.args.size())
    return buildError(formatv("expected {0} arguments, got {1}",
                              signature.args.size(), args.size()));
  Named named;
  for (auto [info, value] : llvm::zip_equal(signature.args, args)) {
    if (value.getType() != argType(b, info))
      return buildError("argument '" + info.name + "' has the wrong type");
    named.values[info.name] = value;
  }
  return named;
}

/// Callers may only have loaded gecko and func.
void loadDialects(MLIRContext *ctx) {
  ctx->loadDialect<mlir::gecko::GeckoDialect, arith::ArithDialect,
                   tensor::TensorDialect, linalg::LinalgDialect,
                   complex::ComplexDialect, func::FuncDialect>();
}

} // namespace detail

namespace {

/// The rope start of a call: the kv_count argument or a constant 0.
Value startValue(OpBuilder &b, Location loc, const Named &args) {
  if (Value start = args.get("kv_count"))
    return start;
  return arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
}

} // namespace

int64_t cacheLength(int64_t tokens, int64_t chunk) {
  if (tokens <= 0)
    return 0;
  if (tokens % chunk == 0)
    return chunk;
  return tokens > chunk ? chunk + tokens % chunk : tokens;
}

Error checkCall(const ref::GeckoConfig &c, const CallSpec &spec) {
  if (std::optional<std::string> err = ref::validateConfig(c))
    return buildError(*err);
  if (spec.batch < 1 || spec.length < 1 || spec.start < 0)
    return buildError("batch and length must be positive, start >= 0");
  int64_t ch = c.chunk_size, l = spec.length;
  if (l >= ch && (spec.start % ch != 0 || l % ch != 0))
    return buildError(formatv("a call of {0} >= chunk_size {1} tokens needs "
                              "start % C == 0 and L % C == 0 (start {2})",
                              l, ch, spec.start));
  if (l > 1 && l < ch && spec.start % ch != 0)
    return buildError(formatv("a call of 1 < {0} < chunk_size {1} tokens "
                              "needs start % C == 0 (start {2})",
                              l, ch, spec.start));
  if (spec.start > 0 && !spec.stream)
    return buildError("a call continuing a stream (start > 0) must return "
                      "its state (stream)");
  return Error::success();
}

Type argType(OpBuilder &b, const ArgInfo &arg) {
  switch (arg.kind) {
  case ArgKind::F32:
    return tensorOf(arg.shape, b.getF32Type());
  case ArgKind::I64:
    return tensorOf(arg.shape, b.getI64Type());
  case ArgKind::I1:
    return tensorOf(arg.shape, b.getI1Type());
  case ArgKind::ComplexF32:
    return tensorOf(arg.shape, ComplexType::get(b.getF32Type()));
  case ArgKind::ScalarI64:
    return b.getI64Type();
  }
  llvm_unreachable("unknown ArgKind");
}

Expected<Signature> blockSignature(const ref::GeckoConfig &c,
                                   const CallSpec &spec) {
  if (Error err = checkCall(c, spec))
    return std::move(err);
  int64_t bsz = spec.batch, l = spec.length;
  int64_t t = cacheLength(spec.start, c.chunk_size);
  Signature sig;
  sig.args.push_back({"x", {bsz, l, c.model_dim}, ArgKind::F32});
  if (spec.segments) {
    sig.args.push_back({"bos_mask", {bsz, l}, ArgKind::I1});
    sig.args.push_back({"segment_idx", {bsz, l}, ArgKind::I64});
  }
  for (auto &[name, shape] : ref::blockParamShapes(c, ""))
    sig.args.push_back({name, shape, ArgKind::F32});
  if (spec.start > 0) {
    sig.args.push_back({"kv_count", {}, ArgKind::ScalarI64});
    for (ArgInfo &a : layerState(c, bsz, spec.start, "cache."))
      sig.args.push_back(a);
    if (spec.segments) {
      sig.args.push_back({"prev_segment_idx", {bsz, t}, ArgKind::I64});
      sig.args.push_back({"prev_segment_count", {bsz}, ArgKind::I64});
    }
  }
  sig.results.push_back({"y", {bsz, l, c.model_dim}, ArgKind::F32});
  if (spec.stream)
    for (ArgInfo &a : layerState(c, bsz, spec.start + l, "cache_out."))
      sig.results.push_back(a);
  return sig;
}

Expected<Signature> modelSignature(const ref::GeckoConfig &c,
                                   const CallSpec &spec) {
  if (Error err = checkCall(c, spec))
    return std::move(err);
  if (c.vocab_size <= 0)
    return buildError("invalid config: vocab_size must be positive");
  int64_t bsz = spec.batch, l = spec.length, g = c.timenorm_num_groups;
  int64_t t = cacheLength(spec.start, c.chunk_size);
  Signature sig;
  sig.args.push_back({"tokens", {bsz, l}, ArgKind::I64});
  for (auto &[name, shape] : ref::modelParamShapes(c))
    sig.args.push_back({name, shape, ArgKind::F32});
  auto modelState = [&](int64_t tokens, std::vector<ArgInfo> &out) {
    for (int64_t i = 0; i < c.num_layers; ++i)
      for (ArgInfo &a :
           layerState(c, bsz, tokens, formatv("cache.layers.{0}.", i).str()))
        out.push_back(a);
    out.push_back({"cache.out_norm_count", {bsz}, ArgKind::I64});
    out.push_back({"cache.out_norm_mean", {bsz, g}, ArgKind::F32});
    out.push_back({"cache.out_norm_var", {bsz, g}, ArgKind::F32});
    if (spec.segments) {
      out.push_back({"cache.prev_segment_idx",
                     {bsz, cacheLength(tokens, c.chunk_size)},
                     ArgKind::I64});
      out.push_back({"cache.prev_segment_count", {bsz}, ArgKind::I64});
    }
  };
  (void)t;
  if (spec.start > 0) {
    sig.args.push_back({"kv_count", {}, ArgKind::ScalarI64});
    modelState(spec.start, sig.args);
  }
  sig.results.push_back({"logits", {bsz, l, c.vocab_size}, ArgKind::F32});
  if (spec.stream)
    modelState(spec.start + l, sig.results);
  return sig;
}

Expected<SmallVector<Value>> buildBlockBody(OpBuilder &b, Location loc,
                                            const ref::GeckoConfig &c,
                                            const CallSpec &spec,
                                            ValueRange args) {
  Expected<Signature> sig = blockSignature(c, spec);
  if (!sig)
    return sig.takeError();
  loadDialects(b.getContext());
  Expected<Named> named = nameArgs(*sig, args, b);
  if (!named)
    return named.takeError();
  Emitter e(b, loc);
  LayerIO io;
  io.x = named->get("x");
  io.bos = named->get("bos_mask");
  io.seg = named->get("segment_idx");
  io.prevSeg = named->get("prev_segment_idx");
  io.prevCount = named->get("prev_segment_count");
  io.start = startValue(b, loc, *named);
  for (auto &entry : named->values) {
    StringRef key = entry.getKey();
    if (key.starts_with("mega.") || key.starts_with("nffn."))
      io.params.values[key] = entry.getValue();
    if (key.consume_front("cache."))
      io.state.values[key] = entry.getValue();
  }
  LayerOut out = emitLayer(e, c, spec, io);
  SmallVector<Value> results = {out.y};
  for (auto &[name, value] : out.state)
    results.push_back(value);
  return results;
}

namespace {

/// bos = tokens == bos_id (i1) and seg = cumsum(bos) + offset[b] (i64) with
/// offset the last cached segment id (or none).
std::pair<Value, Value> segmentIds(OpBuilder &b, Location loc, Value tokens,
                                   int64_t bosId, Value prevSeg) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> s = shapeOf(tokens);
  Type i64 = b.getI64Type(), i1 = b.getI1Type();
  AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<utils::IteratorType> par2(2, utils::IteratorType::parallel);
  Value bosInit = tensor::EmptyOp::create(b, loc, s, i1);
  Value bos = linalg::GenericOp::create(
                  b, loc, bosInit.getType(), ValueRange{tokens},
                  ValueRange{bosInit}, ArrayRef<AffineMap>{id2, id2}, par2,
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    Value id = arith::ConstantIntOp::create(nb, nl, i64, bosId);
                    Value eq = arith::CmpIOp::create(
                        nb, nl, arith::CmpIPredicate::eq, a[0], id);
                    linalg::YieldOp::create(nb, nl, eq);
                  })
                  .getResult(0);
  // offset (B) = prevSeg[:, T-1] or 0.
  Value offset;
  if (prevSeg) {
    ArrayRef<int64_t> ps = shapeOf(prevSeg);
    Value last = tensor::ExtractSliceOp::create(
        b, loc, tensorOf({ps[0]}, i64), prevSeg, ValueRange{}, ValueRange{},
        ValueRange{}, b.getDenseI64ArrayAttr({0, ps[1] - 1}),
        b.getDenseI64ArrayAttr({ps[0], 1}), b.getDenseI64ArrayAttr({1, 1}));
    offset = last;
  } else {
    auto type = tensorOf({s[0]}, i64);
    offset = arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getI64IntegerAttr(0)));
  }
  // seg[b, t] = offset[b] + Σ_{u <= t} bos[b, u]: (b, t, u) with u reduced.
  Value segInit = tensor::EmptyOp::create(b, loc, s, i64);
  Value init =
      linalg::GenericOp::create(
          b, loc, segInit.getType(), ValueRange{offset}, ValueRange{segInit},
          ArrayRef<AffineMap>{
              AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, ctx), id2},
          par2,
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            linalg::YieldOp::create(nb, nl, a[0]);
          })
          .getResult(0);
  AffineExpr d0, d1, d2;
  bindDims(ctx, d0, d1, d2);
  Value seg =
      linalg::GenericOp::create(
          b, loc, segInit.getType(), ValueRange{bos}, ValueRange{init},
          ArrayRef<AffineMap>{AffineMap::get(3, 0, {d0, d2}, ctx),
                              AffineMap::get(3, 0, {d0, d1}, ctx)},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::parallel,
                                        utils::IteratorType::reduction},
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            Value t = linalg::IndexOp::create(nb, nl, 1);
            Value u = linalg::IndexOp::create(nb, nl, 2);
            Value inRange =
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ule, u, t);
            Value take = arith::AndIOp::create(nb, nl, inRange, a[0]);
            Value inc = arith::ExtUIOp::create(nb, nl, i64, take);
            linalg::YieldOp::create(
                nb, nl, Value(arith::AddIOp::create(nb, nl, a[1], inc)));
          })
          .getResult(0);
  return {bos, seg};
}

} // namespace

Expected<SmallVector<Value>> buildModelBody(OpBuilder &b, Location loc,
                                            const ref::GeckoConfig &c,
                                            const CallSpec &spec,
                                            ValueRange args) {
  Expected<Signature> sig = modelSignature(c, spec);
  if (!sig)
    return sig.takeError();
  loadDialects(b.getContext());
  Expected<Named> named = nameArgs(*sig, args, b);
  if (!named)
    return named.takeError();
  Emitter e(b, loc);
  int64_t bsz = spec.batch, l = spec.length, ch = c.chunk_size,
          g = c.timenorm_num_groups;
  bool hasState = spec.start > 0;
  Value tokens = named->get("tokens");
  Value prevSeg = named->get("cache.prev_segment_idx");
  Value prevCount = named->get("cache.prev_segment_count");
  Value bos, seg;
  if (spec.segments)
    std::tie(bos, seg) = segmentIds(b, loc, tokens, c.bos_id, prevSeg);
  Value start = startValue(b, loc, *named);

  auto xType = tensorOf({bsz, l, c.model_dim}, e.f32);
  Value x = mlir::gecko::EmbeddingOp::create(
      b, loc, xType, named->get("embed.weight"), tokens);
  SmallVector<Value> stateResults;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string prefix = formatv("layers.{0}.", i).str();
    std::string cachePrefix = formatv("cache.layers.{0}.", i).str();
    LayerIO io;
    io.x = x, io.bos = bos, io.seg = seg, io.prevSeg = prevSeg,
    io.prevCount = prevCount, io.start = start;
    for (auto &entry : named->values) {
      StringRef key = entry.getKey();
      if (key.consume_front(prefix))
        io.params.values[key] = entry.getValue();
      else if (key.consume_front(cachePrefix))
        io.state.values[key] = entry.getValue();
    }
    LayerOut out = emitLayer(e, c, spec, io);
    x = out.y;
    for (auto &[name, value] : out.state)
      stateResults.push_back(value);
  }
  Value count = hasState ? named->get("cache.out_norm_count")
                         : e.zeros({bsz}, b.getI64Type());
  Value mean =
      hasState ? named->get("cache.out_norm_mean") : e.zeros({bsz, g}, e.f32);
  Value var =
      hasState ? named->get("cache.out_norm_var") : e.zeros({bsz, g}, e.f32);
  auto norm = mlir::gecko::TimestepNormOp::create(
      b, loc, xType, count.getType(), mean.getType(), var.getType(), x,
      named->get("output.final_norm.weight"),
      named->get("output.final_norm.bias"), count, mean, var, bos, Value(),
      b.getI64IntegerAttr(g), b.getF64FloatAttr(c.timenorm_beta1),
      b.getF64FloatAttr(c.timenorm_beta2), b.getF64FloatAttr(c.norm_eps));
  SmallVector<Value> results = {
      e.linear(norm.getY(), named->get("output.output.weight"))};
  if (!spec.stream)
    return results;
  llvm::append_range(results, stateResults);
  results.push_back(norm.getNewCount());
  results.push_back(norm.getNewMean());
  results.push_back(norm.getNewVar());
  if (spec.segments) {
    Value ps, pc;
    if (!prevSeg) {
      ps = seg;
      pc = e.collapse(e.sliceDim1(seg, 0, 1), {{0, 1}});
    } else {
      ps = e.concatDim1(prevSeg, seg);
      pc = prevCount;
    }
    if ((spec.start + l) % ch == 0) {
      int64_t len = shapeOf(ps)[1];
      int64_t keep = std::max<int64_t>(len - ch - 1, 0);
      pc = e.collapse(e.sliceDim1(ps, keep, keep + 1), {{0, 1}});
      if (len != ch)
        ps = e.sliceDim1(ps, len - ch, len);
    }
    results.push_back(ps);
    results.push_back(pc);
  }
  return results;
}

namespace {

using BodyFn = llvm::function_ref<Expected<SmallVector<Value>>(
    OpBuilder &, Location, const ref::GeckoConfig &, const CallSpec &,
    ValueRange)>;

Expected<func::FuncOp> buildFunction(ModuleOp module, StringRef name,
                                     const ref::GeckoConfig &c,
                                     const CallSpec &spec, const Signature &sig,
                                     BodyFn body) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  SmallVector<Type> argTypes, resultTypes;
  for (const ArgInfo &a : sig.args)
    argTypes.push_back(argType(b, a));
  for (const ArgInfo &a : sig.results)
    resultTypes.push_back(argType(b, a));
  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(argTypes, resultTypes));
  for (auto [i, a] : llvm::enumerate(sig.args))
    func.setArgAttr(i, "gecko.name", b.getStringAttr(a.name));
  for (auto [i, a] : llvm::enumerate(sig.results))
    func.setResultAttr(i, "gecko.name", b.getStringAttr(a.name));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Expected<SmallVector<Value>> results =
      body(b, loc, c, spec, entry->getArguments());
  if (!results) {
    func.erase();
    return results.takeError();
  }
  func::ReturnOp::create(b, loc, *results);
  return func;
}

BackwardBuilder &registeredBackward() {
  static BackwardBuilder builder;
  return builder;
}

} // namespace

Expected<func::FuncOp> buildBlockFunction(ModuleOp module, StringRef name,
                                          const ref::GeckoConfig &c,
                                          const CallSpec &spec) {
  Expected<Signature> sig = blockSignature(c, spec);
  if (!sig)
    return sig.takeError();
  return buildFunction(module, name, c, spec, *sig, buildBlockBody);
}

Expected<func::FuncOp> buildModelFunction(ModuleOp module, StringRef name,
                                          const ref::GeckoConfig &c,
                                          const CallSpec &spec) {
  Expected<Signature> sig = modelSignature(c, spec);
  if (!sig)
    return sig.takeError();
  return buildFunction(module, name, c, spec, *sig, buildModelBody);
}

void setBackwardBuilder(BackwardBuilder builder) {
  registeredBackward() = std::move(builder);
}

Expected<func::FuncOp> buildBackward(func::FuncOp forward) {
  if (!registeredBackward())
    return buildError("no backward builder is registered (the reverse-mode "
                      "pass is not linked in yet)");
  return registeredBackward()(forward);
}

} // namespace gecko::model
