//===- TileReductions.h - Reductions across forall tiles ---------*- C++
//-*-===//
//
// Parameter gradients (dweight, dbias, dgamma, dbeta) and the cross-entropy
// loss sum over batch and tokens, which the scf.forall tiles. Instead of
// racing on one accumulator, every tile writes its f32 partial sum into its
// own slot of a (numBatchTiles, numTokenTiles, ...) tensor shared by the
// forall; after the forall one linalg.generic sums the slots in a fixed order
// (deterministic, the same on every run and every thread count).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEREDUCTIONS_H
#define GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEREDUCTIONS_H

#include "TileUtils.h"

namespace mlir::gecko {

/// Number of forall tiles over `extent` with tile size `tile` (clamped to
/// the extent, as buildRowTiledForall does).
int64_t numTiles(int64_t extent, int64_t tile);

/// An uninitialised f32 tensor (numTiles(batch), numTiles(tokens), trailing...)
/// for per-tile partial sums (every slot is written by exactly one tile).
Value emptyPartials(OpBuilder &b, Location loc, int64_t batch, int64_t tokens,
                    const GeckoTileSizes &tiles, ArrayRef<int64_t> trailing);

/// buildRowTiledForall with additional shared outputs `partials` (from
/// emptyPartials). `body` gets the shared outputs (row outputs, then
/// partials) and returns one value per row output, shaped as in
/// buildRowTiledForall, followed by one value per partial, shaped as the
/// partial's trailing dimensions and written at
/// [batchOffset / batchTile, tokenOffset / tokenTile, 0, ...].
/// Returns the row outputs, then the filled partials.
SmallVector<Value>
buildRowTiledForallWithPartials(OpBuilder &b, Location loc, int64_t batch,
                                int64_t tokens, const GeckoTileSizes &tiles,
                                ValueRange rowOutputs, ValueRange partials,
                                TileBodyFn body);

/// Sums over the dimensions `reduced` of an iteration space shaped like
/// `inputs[0]` (identity-indexed; the others are indexed by `inputMaps`,
/// which start with the identity for inputs[0]) into `numSums` f32
/// accumulators, zero-filled, shaped as the kept dimensions in order.
/// `term` maps the block's input arguments (raw element types) to one
/// summand per accumulator.
SmallVector<Value> sumOver(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ArrayRef<int64_t> reduced, unsigned numSums,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> term);

/// Sums f32 `partials` (nb, nt, trailing...) over the two tile dimensions,
/// in index order, and returns the (trailing...) sum converted to
/// `elementType`, each element multiplied by `factor` first.
Value reducePartials(OpBuilder &b, Location loc, Value partials,
                     Type elementType, double factor = 1.0);

} // namespace mlir::gecko

#endif // GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEREDUCTIONS_H
