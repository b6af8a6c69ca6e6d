//===- TileUtils.h - Shared helpers of the gecko-to-linalg lowering -*- C++
//-*-===//
//
// Every op lowered by gecko-convert-to-linalg is row-wise: its leading two
// dimensions (batch, tokens) are independent. These helpers build the common
// skeleton, an scf.forall over (batch, token-block) tiles whose bodies cut
// their tile out with tensor.extract_slice and write results back with
// tensor.parallel_insert_slice, plus the f32 arithmetic helpers.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEUTILS_H
#define GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEUTILS_H

#include "gecko/Conversion/GeckoToLinalg.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::gecko {

/// One (batch, token) tile inside the scf.forall: offsets and sizes of the
/// two leading dimensions (sizes shrink at the ends via affine.min).
struct RowTile {
  OpFoldResult batchOffset, tokenOffset;
  OpFoldResult batchSize, tokenSize;
};

/// Computes one tile: given the tile and the forall's shared outputs,
/// returns one value per output, each shaped
/// (batchSize, tokenSize, <trailing dims>) and written at
/// [batchOffset, tokenOffset, 0, ...] of the matching output.
using TileBodyFn = function_ref<SmallVector<Value>(
    OpBuilder &, Location, const RowTile &, ValueRange sharedOutputs)>;

/// Builds an scf.forall over [0, batch) x [0, tokens) with steps from
/// `tiles` whose shared outputs are `outputs`; returns its results.
SmallVector<Value> buildRowTiledForall(OpBuilder &b, Location loc,
                                       int64_t batch, int64_t tokens,
                                       const GeckoTileSizes &tiles,
                                       ValueRange outputs, TileBodyFn body);

/// The tile `tile` of `source` (rank >= 2): all of the trailing dimensions.
Value extractRowTile(OpBuilder &b, Location loc, Value source,
                     const RowTile &tile);

/// Reshapes a statically shaped tensor (same element count) with
/// collapse/expand_shape.
Value reshapeStatic(OpBuilder &b, Location loc, Value source,
                    ArrayRef<int64_t> shape);

/// tensor.empty with the (mixed) shape of `like` and element type `type`.
Value emptyLike(OpBuilder &b, Location loc, Value like, Type type);

/// `value` as f32 (extended from bf16/f16, unchanged when already f32).
Value toF32(OpBuilder &b, Location loc, Value value);
/// `value` (f32) rounded to `type`.
Value fromF32(OpBuilder &b, Location loc, Value value, Type type);
/// An f32 constant.
Value f32Constant(OpBuilder &b, Location loc, double value);

/// Sum over the last dimension of `input` (rank r), accumulated in f32 into
/// a zero-filled tensor of rank r - 1. `term` maps an element (already f32)
/// and the matching elements of `perRow` (rank r - 1 tensors, f32) to the
/// summand.
using SummandFn = function_ref<Value(OpBuilder &, Location, Value element,
                                     ValueRange perRow)>;
Value sumLastDim(OpBuilder &b, Location loc, Value input, ValueRange perRow,
                 SummandFn term);

/// Elementwise linalg.generic over the iteration space of `outputs[0]`;
/// each input is indexed by the given map; `body` gets the block arguments
/// (inputs then outputs) and returns one value per output.
SmallVector<Value> elementwise(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ValueRange outputs,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body);

/// The rope inverse frequencies f_j = 1 / fp32(base^(2j/d)), j < d/2, as an
/// f32 constant tensor (the reference's checkpoint buffer, spec §4).
Value ropeInverseFrequencies(OpBuilder &b, Location loc, int64_t headDim,
                             double base);

} // namespace mlir::gecko

#endif // GECKO_PASSES_CONVERSION_GECKOTOLINALG_TILEUTILS_H
