//===- TimestepNormScan.h - Phases of the timestep-norm chunked scan -*- C++
//-*-===//
//
// The pieces of the gecko.timestep_norm lowering (LowerTimestepNorm.cpp)
// that the fused gecko.fused_norm_ema lowering (LowerFusedNormEma.cpp)
// reuses: the per-chunk local scan of the statistics (phase A), the
// sequential carry over chunks (phase B) and the bias-corrected statistics
// of one (batch tile, chunk) tile. See LowerTimestepNorm.cpp for the math.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_PASSES_CONVERSION_GECKOTOLINALG_TIMESTEPNORMSCAN_H
#define GECKO_PASSES_CONVERSION_GECKOTOLINALG_TIMESTEPNORMSCAN_H

#include "TileUtils.h"

namespace mlir::gecko::tsn {

struct Geometry {
  int64_t batch, length, groups, groupSize;
  int64_t chunk;     // C: tokens per scan chunk
  int64_t chunks;    // K = ceil(L / C)
  int64_t batchTile; // rows per forall tile
  double beta1, beta2, eps;
};

/// One (batch tile, chunk) tile.
struct ChunkTile {
  Value batchOffset, chunk;
  OpFoldResult tokenOffset, batchSize, tokenSize;
};

/// Where a forall result is written: at the tile's tokens of a (B, L, ...)
/// tensor, or at the tile's chunk index of a (B, K, ...) tensor (the result
/// then has no chunk dimension).
enum class Slot { Token, Chunk };

/// Outputs of phase (A): per-token local scan results.
struct LocalScan {
  Value mean, var;       // (B, L, G): local raw statistics (state in = 0)
  Value corr1, corr2;    // (B, L): local 1 - β^count parts
  Value steps, lastBos;  // (B, L): n_t, r_t
  Value countSinceReset; // (B, L): active steps in [max(r_t, 0), t]
};

/// Entry states of each chunk (phase (B)) and the final state.
struct ChunkCarry {
  Value mean, var;           // (B, K, G)
  Value corr1, corr2;        // (B, K)
  Value finalMean, finalVar; // (B, G) f32
  Value finalCount;          // (B) i64
};

struct Inputs {
  Value x4;        // (B, L, G, n) activation type
  Value pad, bos;  // (B, L) i1
  Value count;     // (B) i64
  Value mean, var; // (B, G) f32
};

/// Phase (A): scf.forall over (batch tile, chunk).
LocalScan localScan(OpBuilder &b, Location loc, const Inputs &in,
                    const Geometry &geo);
/// Phase (B): the sequential pass over chunks.
ChunkCarry carryForward(OpBuilder &b, Location loc, const Inputs &in,
                        const LocalScan &scan, const Geometry &geo);
/// Per (bt, c, G) of `tile`: m̂, r = (v̂ + eps)^(-1/2), 1/corr1, 1/corr2.
SmallVector<Value> correctedStats(OpBuilder &b, Location loc,
                                  const ChunkTile &tile, const LocalScan &scan,
                                  const ChunkCarry &carry, const Geometry &geo);

/// (D) parameter + `offset` as f32 (G, n), the sum rounded to the parameter
/// type (as the reference forms weight + 1 in that type).
Value paramGrouped(OpBuilder &b, Location loc, Value param, const Geometry &geo,
                   double offset);
/// A (B, L) i1 mask, or an all-false one when absent.
Value maskOrFalse(OpBuilder &b, Location loc, Value mask, const Geometry &geo);
/// Any-rank tensor converted elementwise to f32 / rounded from f32.
Value tensorToF32(OpBuilder &b, Location loc, Value value);
Value tensorFromF32(OpBuilder &b, Location loc, Value value, Type elementType);
/// Slice of `source` (B, X, T...) at rows [b0, b0 + bs), [x0, x0 + xs).
Value sliceRows(OpBuilder &b, Location loc, Value source, OpFoldResult b0,
                OpFoldResult bs, OpFoldResult x0, OpFoldResult xs);

} // namespace mlir::gecko::tsn

#endif // GECKO_PASSES_CONVERSION_GECKOTOLINALG_TIMESTEPNORMSCAN_H
