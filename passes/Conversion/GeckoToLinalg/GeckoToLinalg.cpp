//===- GeckoToLinalg.cpp - The gecko-convert-to-linalg pass ---------------===//
//
// Walks the gecko ops this pass knows and hands each to its op-family
// lowering (LowerNorms.cpp, LowerRope.cpp). Other gecko ops stay; an op that
// cannot be lowered (dynamic shapes) is reported and fails the pass.
//
//===----------------------------------------------------------------------===//

#include "gecko/Conversion/GeckoToLinalg.h"
#include "gecko/Conversion/Passes.h"
#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::gecko {

#define GEN_PASS_DEF_GECKOCONVERTTOLINALG
#include "GeckoConversionPasses.h.inc"

namespace {

struct GeckoConvertToLinalgPass
    : impl::GeckoConvertToLinalgBase<GeckoConvertToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    if (batchTileSize < 1 || tokenTileSize < 1) {
      getOperation()->emitError()
          << "gecko-convert-to-linalg: tile sizes must be positive, got "
          << "batch-tile-size=" << batchTileSize
          << " token-tile-size=" << tokenTileSize;
      return signalPassFailure();
    }
    GeckoTileSizes tiles{batchTileSize, tokenTileSize};
    tiles.scanChunk = tsnChunkSize < 0 ? 0 : tsnChunkSize;
    tiles.cemaChunk = cemaChunkSize, tiles.cemaChannelBlock = cemaChannelBlock;
    if (attentionQueryTile < 1 || attentionKeyTile < 1) {
      getOperation()->emitError() << "gecko-convert-to-linalg: attention tile "
                                     "sizes must be positive";
      return signalPassFailure();
    }
    tiles.attentionQueries = attentionQueryTile;
    tiles.attentionKeys = attentionKeyTile;
    tiles.linearColumns = linearColumnTile;
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<TimestepNormOp, TimestepNormGradOp, FusedNormEmaOp>(op))
        ops.push_back(op);
      if (isa<CemaCoeffsOp, CemaCoeffsGradOp, CemaOp, CemaGradOp>(op))
        ops.push_back(op);
      if (isa<RmsNormOp, LayerNormOp, ZSplitOp, RopeOp>(op))
        ops.push_back(op);
      if (isa<RmsNormGradOp, LayerNormGradOp, ZSplitGradOp, RopeGradOp>(op))
        ops.push_back(op);
      if (isa<EmbeddingOp, SwiGluOp, CrossEntropyOp>(op))
        ops.push_back(op);
      if (isa<WorkingMemoryOp, WorkingMemoryGradOp, FusedWorkingMemoryOp>(op))
        ops.push_back(op);
      if (isa<ChunkAttentionOp, ChunkAttentionGradOp, FusedChunkAttentionOp>(
              op))
        ops.push_back(op);
      if (isa<LinearOp, LinearGradOp, SiluOp, SiluGradOp, GatedAddOp,
              GatedAddGradOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    bool failed = false;
    for (Operation *op : ops) {
      if (isa<FusedNormEmaOp>(op)) {
        failed |= mlir::failed(lowerFusedNormEmaOp(rewriter, op, tiles));
        continue;
      }
      if (isa<TimestepNormOp, TimestepNormGradOp>(op)) {
        failed |= mlir::failed(lowerTimestepNormOp(rewriter, op, tiles));
        continue;
      }
      if (isa<CemaCoeffsOp, CemaCoeffsGradOp, CemaOp, CemaGradOp>(op)) {
        failed |= mlir::failed(lowerComplexEmaOp(rewriter, op, tiles));
        continue;
      }
      if (isa<ChunkAttentionOp, ChunkAttentionGradOp, FusedChunkAttentionOp>(
              op)) {
        failed |= mlir::failed(lowerChunkAttentionOp(rewriter, op, tiles));
        continue;
      }
      if (isa<LinearOp, LinearGradOp, SiluOp, SiluGradOp, GatedAddOp,
              GatedAddGradOp>(op)) {
        failed |= mlir::failed(lowerLinearOp(rewriter, op, tiles));
        continue;
      }
      if (isa<WorkingMemoryOp, WorkingMemoryGradOp, FusedWorkingMemoryOp>(op)) {
        failed |= mlir::failed(lowerWorkingMemoryOp(rewriter, op, tiles));
        continue;
      }
      LogicalResult lowered = isa<RopeOp, RopeGradOp>(op)
                                  ? lowerRopeOp(rewriter, op, tiles)
                              : isa<EmbeddingOp, SwiGluOp, CrossEntropyOp>(op)
                                  ? lowerModelOp(rewriter, op, tiles)
                                  : lowerGroupNormOp(rewriter, op, tiles);
      failed |= mlir::failed(lowered);
    }
    if (failed)
      signalPassFailure();
  }
};

} // namespace

} // namespace mlir::gecko
