//===- GeckoToLinalg.h - Lowering gecko ops to linalg ------------*- C++
//-*-===//
//
// Entry points of the gecko-convert-to-linalg lowering, one per op family,
// for passes and pipelines that want to lower single ops.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_GECKOTOLINALG_H
#define GECKO_CONVERSION_GECKOTOLINALG_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>

namespace mlir::gecko {

/// Tile sizes of the outer scf.forall over (batch, tokens).
struct GeckoTileSizes {
  int64_t batch = 1;
  int64_t tokens = 16;
  int64_t scanChunk = 0; // timestep norm scan chunk (0: use `tokens`)
  int64_t cemaChunk = 16, cemaChannelBlock = 16;    // complex EMA scan tiles
  int64_t attentionQueries = 16, attentionKeys = 8; // chunk attention tiles
  int64_t linearColumns = 32; // output columns per gecko.linear forall tile
};

/// Lowers gecko.rms_norm, gecko.layer_norm and gecko.z_split. Fails (with
/// an error on the op) when the op cannot be lowered, e.g. dynamic shapes.
LogicalResult lowerGroupNormOp(RewriterBase &rewriter, Operation *op,
                               const GeckoTileSizes &tiles);

/// Lowers gecko.rope.
LogicalResult lowerRopeOp(RewriterBase &rewriter, Operation *op,
                          const GeckoTileSizes &tiles);

/// Lowers gecko.embedding, gecko.swiglu and gecko.cross_entropy.
LogicalResult lowerModelOp(RewriterBase &rewriter, Operation *op,
                           const GeckoTileSizes &tiles);

/// Lowers gecko.working_memory and gecko.working_memory_grad (spec §6).
LogicalResult lowerWorkingMemoryOp(RewriterBase &rewriter, Operation *op,
                                   const GeckoTileSizes &tiles);

/// Lowers gecko.chunk_attention and gecko.chunk_attention_grad (spec §5).
LogicalResult lowerChunkAttentionOp(RewriterBase &rewriter, Operation *op,
                                    const GeckoTileSizes &tiles);

/// Lowers gecko.cema_coeffs(_grad) and gecko.cema(_grad) (spec §2).
LogicalResult lowerComplexEmaOp(RewriterBase &rewriter, Operation *op,
                                const GeckoTileSizes &tiles);

/// Lowers gecko.linear(_grad), gecko.silu(_grad), gecko.gated_add(_grad).
LogicalResult lowerLinearOp(RewriterBase &rewriter, Operation *op,
                            const GeckoTileSizes &tiles);

/// Lowers gecko.timestep_norm and gecko.timestep_norm_grad (spec §1).
LogicalResult lowerTimestepNormOp(RewriterBase &rewriter, Operation *op,
                                  const GeckoTileSizes &tiles);

/// Lowers gecko.fused_norm_ema (timestep norm -> cema -> rms norm).
LogicalResult lowerFusedNormEmaOp(RewriterBase &rewriter, Operation *op,
                                  const GeckoTileSizes &tiles);

} // namespace mlir::gecko

#endif // GECKO_CONVERSION_GECKOTOLINALG_H
