//===- GeckoAdjoints.cpp - Adjoints of the gecko ops with a _grad op ------===//
//
// Each forward op becomes its `<op>_grad` twin, fed with the recomputed
// forward operands and the adjoints of its results (zeros for a missing
// `dy`; optional state gradients are passed only when one of them has an
// adjoint, the other then being zeros). The grad op's results are
// accumulated onto the forward operands they belong to.
//
//===----------------------------------------------------------------------===//

#include "AdjointRules.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

using namespace mlir;

namespace mlir::gecko::autodiff {

namespace {

/// The recomputed value of an optional forward operand (null when absent).
Value opt(AdjointContext &ctx, Value v) {
  return v ? ctx.primalOf(v) : Value();
}

/// Type of an optional operand (null when absent).
Type typeOf(Value v) { return v ? v.getType() : Type(); }

/// Adjoints of a pair of optional state results: both null when neither has
/// one, else each adjoint or zeros.
std::pair<Value, Value> statePair(AdjointContext &ctx, Location loc, Value a,
                                  Value b) {
  if (!ctx.adjointOf(a) && !ctx.adjointOf(b))
    return {Value(), Value()};
  return {ctx.adjointOrZeros(a, loc), ctx.adjointOrZeros(b, loc)};
}

LogicalResult timestepNorm(AdjointContext &ctx, TimestepNormOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  auto [dMean, dVar] = statePair(ctx, loc, op.getNewMean(), op.getNewVar());
  auto grad = TimestepNormGradOp::create(
      b, loc, op.getX().getType(), op.getWeight().getType(),
      op.getBias().getType(), op.getMean().getType(), op.getVar().getType(),
      ctx.primalOf(op.getX()), ctx.primalOf(op.getWeight()),
      ctx.primalOf(op.getBias()), ctx.primalOf(op.getCount()),
      ctx.primalOf(op.getMean()), ctx.primalOf(op.getVar()),
      opt(ctx, op.getBos()), opt(ctx, op.getPadding()),
      ctx.adjointOrZeros(op.getY(), loc), dMean, dVar, op.getNumGroupsAttr(),
      op.getBeta1Attr(), op.getBeta2Attr(), op.getEpsAttr());
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  ctx.accumulate(op.getWeight(), grad.getDweight(), loc);
  ctx.accumulate(op.getBias(), grad.getDbias(), loc);
  ctx.accumulate(op.getMean(), grad.getDmean(), loc);
  ctx.accumulate(op.getVar(), grad.getDvar(), loc);
  return success();
}

LogicalResult cemaCoeffs(AdjointContext &ctx, CemaCoeffsOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  auto grad = CemaCoeffsGradOp::create(
      b, loc, op.getAlpha().getType(), op.getDelta().getType(),
      op.getTheta().getType(), op.getGamma().getType(),
      ctx.primalOf(op.getAlpha()), ctx.primalOf(op.getDelta()),
      ctx.primalOf(op.getTheta()), ctx.primalOf(op.getGamma()),
      ctx.adjointOrZeros(op.getP(), loc), ctx.adjointOrZeros(op.getQ(), loc),
      ctx.adjointOrZeros(op.getGammaC(), loc));
  ctx.accumulate(op.getAlpha(), grad.getDalpha(), loc);
  ctx.accumulate(op.getDelta(), grad.getDdelta(), loc);
  ctx.accumulate(op.getTheta(), grad.getDtheta(), loc);
  ctx.accumulate(op.getGamma(), grad.getDgamma(), loc);
  return success();
}

LogicalResult cema(AdjointContext &ctx, CemaOp op) {
  OpBuilder &b = ctx.builder;
  Location loc = op.getLoc();
  Value dNewH = ctx.adjointOf(op.getNewH());
  auto grad = CemaGradOp::create(
      b, loc, op.getX().getType(), op.getP().getType(), op.getQ().getType(),
      op.getGammaC().getType(), typeOf(op.getHx()), ctx.primalOf(op.getX()),
      ctx.primalOf(op.getP()), ctx.primalOf(op.getQ()),
      ctx.primalOf(op.getGammaC()), opt(ctx, op.getHx()), opt(ctx, op.getBos()),
      ctx.adjointOrZeros(op.getY(), loc), dNewH);
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  ctx.accumulate(op.getP(), grad.getDp(), loc);
  ctx.accumulate(op.getQ(), grad.getDq(), loc);
  ctx.accumulate(op.getGammaC(), grad.getDgammaC(), loc);
  if (op.getHx())
    ctx.accumulate(op.getHx(), grad.getDhx(), loc);
  return success();
}

LogicalResult rmsNorm(AdjointContext &ctx, RmsNormOp op) {
  Location loc = op.getLoc();
  auto grad = RmsNormGradOp::create(
      ctx.builder, loc, op.getX().getType(), typeOf(op.getWeight()),
      ctx.primalOf(op.getX()), opt(ctx, op.getWeight()),
      ctx.adjointOrZeros(op.getY(), loc), op.getNumGroupsAttr(),
      op.getEpsAttr());
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  if (op.getWeight())
    ctx.accumulate(op.getWeight(), grad.getDweight(), loc);
  return success();
}

LogicalResult layerNorm(AdjointContext &ctx, LayerNormOp op) {
  Location loc = op.getLoc();
  auto grad = LayerNormGradOp::create(
      ctx.builder, loc, op.getX().getType(), typeOf(op.getWeight()),
      typeOf(op.getBias()), ctx.primalOf(op.getX()), opt(ctx, op.getWeight()),
      opt(ctx, op.getBias()), ctx.adjointOrZeros(op.getY(), loc),
      op.getNumGroupsAttr(), op.getEpsAttr());
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  if (op.getWeight())
    ctx.accumulate(op.getWeight(), grad.getDweight(), loc);
  if (op.getBias())
    ctx.accumulate(op.getBias(), grad.getDbias(), loc);
  return success();
}

LogicalResult zSplit(AdjointContext &ctx, ZSplitOp op) {
  Location loc = op.getLoc();
  auto grad = ZSplitGradOp::create(
      ctx.builder, loc, op.getZ().getType(), op.getGamma().getType(),
      op.getBeta().getType(), ctx.primalOf(op.getZ()),
      ctx.primalOf(op.getGamma()), ctx.primalOf(op.getBeta()),
      ctx.adjointOrZeros(op.getQ(), loc), ctx.adjointOrZeros(op.getK(), loc),
      ctx.adjointOrZeros(op.getAq(), loc), ctx.adjointOrZeros(op.getAk(), loc),
      op.getNumHeadsAttr(), op.getEpsAttr());
  ctx.accumulate(op.getZ(), grad.getDz(), loc);
  ctx.accumulate(op.getGamma(), grad.getDgamma(), loc);
  ctx.accumulate(op.getBeta(), grad.getDbeta(), loc);
  return success();
}

LogicalResult rope(AdjointContext &ctx, RopeOp op) {
  Location loc = op.getLoc();
  auto grad = RopeGradOp::create(
      ctx.builder, loc, op.getX().getType(), ctx.adjointOf(op.getY()),
      ctx.primalOf(op.getStart()), op.getBaseAttr(), op.getNumRopeHeadsAttr());
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  return success();
}

LogicalResult chunkAttention(AdjointContext &ctx, ChunkAttentionOp op) {
  Location loc = op.getLoc();
  auto grad = ChunkAttentionGradOp::create(
      ctx.builder, loc, op.getQ().getType(), op.getK().getType(),
      op.getV().getType(), typeOf(op.getPrevK()), typeOf(op.getPrevV()),
      op.getPathAttr(), ctx.primalOf(op.getQ()), ctx.primalOf(op.getK()),
      ctx.primalOf(op.getV()), opt(ctx, op.getPrevK()), opt(ctx, op.getPrevV()),
      opt(ctx, op.getSeg()), opt(ctx, op.getPrevSeg()),
      ctx.adjointOf(op.getOut()), op.getChunkSizeAttr(), op.getCausalAttr());
  ctx.accumulate(op.getQ(), grad.getDq(), loc);
  ctx.accumulate(op.getK(), grad.getDk(), loc);
  ctx.accumulate(op.getV(), grad.getDv(), loc);
  if (op.getPrevK()) {
    ctx.accumulate(op.getPrevK(), grad.getDprevK(), loc);
    ctx.accumulate(op.getPrevV(), grad.getDprevV(), loc);
  }
  return success();
}

LogicalResult workingMemory(AdjointContext &ctx, WorkingMemoryOp op) {
  Location loc = op.getLoc();
  Value dMemory, dLnt;
  // Without an input memory the returned pair is either empty or built from
  // this call's keys; its gradient flows back through the keys either way.
  std::tie(dMemory, dLnt) =
      statePair(ctx, loc, op.getNewMemory(), op.getNewLnt());
  auto grad = WorkingMemoryGradOp::create(
      ctx.builder, loc, op.getAq().getType(), op.getAk().getType(),
      op.getV().getType(), typeOf(op.getMemory()), typeOf(op.getLnt()),
      typeOf(op.getPrevK()), typeOf(op.getPrevV()), op.getPathAttr(),
      ctx.primalOf(op.getAq()), ctx.primalOf(op.getAk()),
      ctx.primalOf(op.getV()), opt(ctx, op.getMemory()), opt(ctx, op.getLnt()),
      opt(ctx, op.getPrevK()), opt(ctx, op.getPrevV()), opt(ctx, op.getSeg()),
      opt(ctx, op.getPrevSeg()), opt(ctx, op.getPrevCount()),
      ctx.adjointOrZeros(op.getOut(), loc), dMemory, dLnt,
      op.getChunkSizeAttr());
  ctx.accumulate(op.getAq(), grad.getDaq(), loc);
  ctx.accumulate(op.getAk(), grad.getDak(), loc);
  ctx.accumulate(op.getV(), grad.getDv(), loc);
  if (op.getMemory()) {
    ctx.accumulate(op.getMemory(), grad.getDmemory(), loc);
    ctx.accumulate(op.getLnt(), grad.getDlnt(), loc);
  }
  if (op.getPrevK()) {
    ctx.accumulate(op.getPrevK(), grad.getDprevK(), loc);
    ctx.accumulate(op.getPrevV(), grad.getDprevV(), loc);
  }
  return success();
}

LogicalResult linear(AdjointContext &ctx, LinearOp op) {
  Location loc = op.getLoc();
  auto grad = LinearGradOp::create(
      ctx.builder, loc, op.getX().getType(), op.getWeight().getType(),
      typeOf(op.getBias()), ctx.primalOf(op.getX()),
      ctx.primalOf(op.getWeight()), opt(ctx, op.getBias()),
      ctx.adjointOrZeros(op.getY(), loc));
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  ctx.accumulate(op.getWeight(), grad.getDweight(), loc);
  if (op.getBias())
    ctx.accumulate(op.getBias(), grad.getDbias(), loc);
  return success();
}

LogicalResult silu(AdjointContext &ctx, SiluOp op) {
  Location loc = op.getLoc();
  auto grad = SiluGradOp::create(ctx.builder, loc, op.getX().getType(),
                                 ctx.primalOf(op.getX()),
                                 ctx.adjointOrZeros(op.getY(), loc));
  ctx.accumulate(op.getX(), grad.getDx(), loc);
  return success();
}

LogicalResult gatedAdd(AdjointContext &ctx, GatedAddOp op) {
  Location loc = op.getLoc();
  auto grad = GatedAddGradOp::create(
      ctx.builder, loc, op.getA().getType(), op.getB().getType(),
      typeOf(op.getGate()), ctx.primalOf(op.getA()), ctx.primalOf(op.getB()),
      opt(ctx, op.getGate()), ctx.adjointOrZeros(op.getY(), loc));
  ctx.accumulate(op.getA(), grad.getDa(), loc);
  ctx.accumulate(op.getB(), grad.getDb(), loc);
  if (op.getGate())
    ctx.accumulate(op.getGate(), grad.getDgate(), loc);
  return success();
}

} // namespace

std::optional<LogicalResult> emitGeckoAdjoint(AdjointContext &ctx,
                                              Operation *op) {
  if (auto o = dyn_cast<TimestepNormOp>(op))
    return timestepNorm(ctx, o);
  if (auto o = dyn_cast<CemaCoeffsOp>(op))
    return cemaCoeffs(ctx, o);
  if (auto o = dyn_cast<CemaOp>(op))
    return cema(ctx, o);
  if (auto o = dyn_cast<RmsNormOp>(op))
    return rmsNorm(ctx, o);
  if (auto o = dyn_cast<LayerNormOp>(op))
    return layerNorm(ctx, o);
  if (auto o = dyn_cast<ZSplitOp>(op))
    return zSplit(ctx, o);
  if (auto o = dyn_cast<RopeOp>(op))
    return rope(ctx, o);
  if (auto o = dyn_cast<ChunkAttentionOp>(op))
    return chunkAttention(ctx, o);
  if (auto o = dyn_cast<WorkingMemoryOp>(op))
    return workingMemory(ctx, o);
  if (auto o = dyn_cast<LinearOp>(op))
    return linear(ctx, o);
  if (auto o = dyn_cast<SiluOp>(op))
    return silu(ctx, o);
  if (auto o = dyn_cast<GatedAddOp>(op))
    return gatedAdd(ctx, o);
  return std::nullopt;
}

} // namespace mlir::gecko::autodiff
