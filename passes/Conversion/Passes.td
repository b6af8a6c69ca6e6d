//===- Passes.td - Gecko conversion passes -----------------*- tablegen -*-===//
//
// Conversions out of the gecko dialect. Each pass rewrites gecko ops into
// upstream dialects; named pipelines (passes/Pipelines) chain them with the
// upstream lowering to a target.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_PASSES_TD
#define GECKO_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def GeckoConvertToLinalg : Pass<"gecko-convert-to-linalg"> {
  let summary = "Lower gecko ops to tiled scf.forall + linalg on tensors";
  let description = [{
    Rewrites the row-wise gecko ops (`gecko.rms_norm`, `gecko.layer_norm`,
    `gecko.z_split`, `gecko.rope`) into an `scf.forall` over
    (batch, token-block) tiles. Each tile is cut out with
    `tensor.extract_slice`, computed with `linalg.generic` ops (group
    statistics as reductions accumulated in f32, the normalisation or
    rotation as an elementwise generic) and written back with
    `tensor.parallel_insert_slice`. Partial tiles at the end of a dimension
    are sized with `affine.min`. bf16/f16 inputs are extended to f32 for the
    arithmetic and truncated on the store.

    Only statically shaped tensors are supported; other gecko ops are left
    untouched.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::complex::ComplexDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"batchTileSize", "batch-tile-size", "int64_t", /*default=*/"1",
           "Rows of the batch dimension per scf.forall tile">,
    Option<"tokenTileSize", "token-tile-size", "int64_t", /*default=*/"16",
           "Tokens (second dimension) per scf.forall tile">,
    Option<"tsnChunkSize", "tsn-chunk-size", "int64_t", /*default=*/"0",
           "Time chunk of the gecko.timestep_norm(_grad) chunked scan (0: token-tile-size)">,
    Option<"cemaChunkSize", "cema-chunk-size", "int64_t", /*default=*/"16",
           "Time chunk of the gecko.cema(_grad) chunked scan">,
    Option<"cemaChannelBlock", "cema-channel-block", "int64_t", /*default=*/"16",
           "Channels per scf.forall tile of gecko.cema(_grad)">,
    Option<"attentionQueryTile", "attention-query-tile", "int64_t", /*default=*/"16",
           "Queries per scf.forall tile of gecko.chunk_attention(_grad)">,
    Option<"attentionKeyTile", "attention-key-tile", "int64_t", /*default=*/"8",
           "Keys per scf.for step of gecko.chunk_attention(_grad)">,
    Option<"linearColumnTile", "linear-column-tile", "int64_t", /*default=*/"32",
           "Output columns per scf.forall tile of gecko.linear(_grad) and the block's elementwise ops">,
  ];
}

#endif // GECKO_CONVERSION_PASSES_TD
