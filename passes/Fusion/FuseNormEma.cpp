//===- FuseNormEma.cpp - timestep norm -> cema -> rms norm fusion ---------===//
//
// gecko-fuse-norm-ema: finds gecko.rms_norm(gecko.cema(gecko.timestep_norm))
// chains (the MEGA block's tsn -> ce -> mx, spec §8) and replaces them with
// one gecko.fused_norm_ema. The lowering of the fused op
// (passes/Conversion/GeckoToLinalg/LowerFusedNormEma.cpp) never writes ce.
//
// The fused op is inserted after the last of its operands' definitions (the
// cema coefficients are usually made after the timestep norm), which must
// still dominate every other use of the values it replaces (tsn for wv, the
// carried state); otherwise the chain is left unfused.
//
//===----------------------------------------------------------------------===//

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Fusion/Passes.h"

#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "gecko-fuse-norm-ema"

namespace mlir::gecko {

#define GEN_PASS_DEF_GECKOFUSENORMEMA
#include "GeckoFusionPasses.h.inc"

namespace {

struct NormEmaChain {
  TimestepNormOp tsn;
  CemaOp cema;
  RmsNormOp rms;
};

/// Why `rms` does not end a fusable chain (empty when it does).
std::string matchChain(RmsNormOp rms, NormEmaChain &chain) {
  auto cema = rms.getX().getDefiningOp<CemaOp>();
  if (!cema)
    return "the rms_norm input is not a gecko.cema result";
  auto tsn = cema.getX().getDefiningOp<TimestepNormOp>();
  if (!tsn)
    return "the cema input is not a gecko.timestep_norm result";
  if (!cema.getY().hasOneUse())
    return "the cema output has other uses than the rms_norm";
  if (tsn.getPadding())
    return "the timestep_norm has a padding mask";
  if (tsn.getBos() != cema.getBos())
    return "the timestep_norm and the cema see different bos masks";
  auto type = dyn_cast<RankedTensorType>(rms.getX().getType());
  if (!type || type.getRank() != 3 ||
      type != dyn_cast<RankedTensorType>(tsn.getX().getType()))
    return "the activations are not one ranked (B, L, D) type";
  Block *block = rms->getBlock();
  if (tsn->getBlock() != block || cema->getBlock() != block)
    return "the ops are not in one block";
  chain = {tsn, cema, rms};
  return "";
}

/// The op after which the fused op goes: the latest of the timestep norm and
/// the in-block definitions of every operand of the chain.
Operation *insertionAnchor(NormEmaChain chain) {
  Operation *anchor = chain.tsn;
  Block *block = anchor->getBlock();
  auto consider = [&](Value value) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return;
    def = block->findAncestorOpInBlock(*def);
    if (def && anchor->isBeforeInBlock(def))
      anchor = def;
  };
  for (Value v : chain.cema->getOperands())
    if (v != chain.cema.getX())
      consider(v);
  for (Value v : chain.rms->getOperands())
    if (v != chain.rms.getX())
      consider(v);
  return anchor;
}

struct GeckoFuseNormEmaPass : impl::GeckoFuseNormEmaBase<GeckoFuseNormEmaPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<RmsNormOp> candidates;
    getOperation()->walk([&](RmsNormOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    DominanceInfo dominance(getOperation());
    for (RmsNormOp rms : candidates) {
      NormEmaChain chain;
      std::string why = matchChain(rms, chain);
      if (!why.empty()) {
        LLVM_DEBUG(llvm::dbgs()
                   << "not fused (" << why << "): " << rms << "\n");
        continue;
      }
      Operation *anchor = insertionAnchor(chain);
      // Every use of a replaced value except the chain's own must come
      // after the anchor (properly dominated by it).
      auto usesFollow = [&](Value value) {
        for (OpOperand &use : value.getUses()) {
          Operation *user = use.getOwner();
          if (user == chain.cema.getOperation() ||
              user == chain.rms.getOperation())
            continue;
          if (!dominance.properlyDominates(anchor, user))
            return false;
        }
        return true;
      };
      if (!llvm::all_of(chain.tsn->getResults(), usesFollow) ||
          !usesFollow(chain.cema.getNewH())) {
        LLVM_DEBUG(llvm::dbgs() << "not fused (a use of the timestep norm or "
                                   "cema state precedes an operand): "
                                << rms << "\n");
        continue;
      }

      TimestepNormOp tsn = chain.tsn;
      CemaOp cema = chain.cema;
      rewriter.setInsertionPointAfter(anchor);
      Location loc =
          rewriter.getFusedLoc({tsn.getLoc(), cema.getLoc(), rms.getLoc()});
      auto fused = FusedNormEmaOp::create(
          rewriter, loc, rms.getY().getType(), tsn.getY().getType(),
          tsn.getNewCount().getType(), tsn.getNewMean().getType(),
          tsn.getNewVar().getType(), cema.getNewH().getType(), tsn.getX(),
          tsn.getWeight(), tsn.getBias(), tsn.getCount(), tsn.getMean(),
          tsn.getVar(), cema.getP(), cema.getQ(), cema.getGammaC(),
          cema.getHx(), tsn.getBos(), rms.getWeight(), tsn.getNumGroupsAttr(),
          tsn.getBeta1Attr(), tsn.getBeta2Attr(), tsn.getEpsAttr(),
          rms.getNumGroupsAttr(), rms.getEpsAttr());
      rewriter.replaceOp(rms, fused.getY());
      rewriter.replaceAllUsesWith(cema.getNewH(), fused.getNewH());
      rewriter.eraseOp(cema);
      rewriter.replaceOp(tsn, {fused.getTsn(), fused.getNewCount(),
                               fused.getNewMean(), fused.getNewVar()});
    }
  }
};

} // namespace

} // namespace mlir::gecko
