//===- PipelineOptions.h - Options shared by the GPU pipelines ----*- C++
//-*-===//
//
// The vendor-neutral options of gecko-to-nvvm and gecko-to-rocdl (tiles,
// fusions, block size, argument copies): declared once here, so both
// pipelines offer the same spelling and defaults, and turned into the
// GpuCommonConfig that the shared prepare pipeline takes.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TARGET_GPU_PIPELINEOPTIONS_H
#define GECKO_TARGET_GPU_PIPELINEOPTIONS_H

#include "gecko/Target/GPU/Passes.h"

#include "mlir/Pass/PassOptions.h"

namespace mlir::gecko {

template <typename Derived>
struct GpuPipelineOptions : public PassPipelineOptions<Derived> {
  template <typename T> using Option = detail::PassOptions::Option<T>;

  Option<int64_t> batchTileSize{
      *this, "batch-tile-size",
      llvm::cl::desc("Rows of the batch dimension per tile (block)"),
      llvm::cl::init(1)};
  Option<int64_t> tokenTileSize{*this, "token-tile-size",
                                llvm::cl::desc("Tokens per tile (block)"),
                                llvm::cl::init(16)};
  Option<int64_t> tsnChunkSize{
      *this, "tsn-chunk-size",
      llvm::cl::desc("timestep_norm scan chunk (0: token-tile-size)"),
      llvm::cl::init(0)};
  Option<int64_t> cemaChunkSize{*this, "cema-chunk-size",
                                llvm::cl::desc("cema scan chunk"),
                                llvm::cl::init(16)};
  Option<int64_t> cemaChannelBlock{
      *this, "cema-channel-block",
      llvm::cl::desc("cema channels per tile (block)"), llvm::cl::init(16)};
  Option<int64_t> attentionQueryTile{
      *this, "attention-query-tile",
      llvm::cl::desc("chunk_attention queries per tile (block)"),
      llvm::cl::init(16)};
  Option<int64_t> attentionKeyTile{
      *this, "attention-key-tile",
      llvm::cl::desc("chunk_attention keys per inner step"), llvm::cl::init(8)};
  Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Attention prologue / epilogue fusion first"),
      llvm::cl::init(false)};
  Option<bool> fuseNormEma{
      *this, "fuse-norm-ema",
      llvm::cl::desc("timestep_norm -> cema -> rms_norm fusion first "
                     "(tiles hold (D, N) EMA state: small D only)"),
      llvm::cl::init(false)};
  Option<bool> copyArguments{
      *this, "copy-arguments",
      llvm::cl::desc("Copy memref arguments into managed memory at entry "
                     "(gecko-host-buffers-to-device)"),
      llvm::cl::init(true)};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Threads per block"),
                            llvm::cl::init(128)};

  /// The shared pipeline's configuration (without vendor hooks).
  GpuCommonConfig commonConfig() const {
    GpuCommonConfig common;
    common.batchTileSize = batchTileSize;
    common.tokenTileSize = tokenTileSize;
    common.tsnChunkSize = tsnChunkSize;
    common.cemaChunkSize = cemaChunkSize;
    common.cemaChannelBlock = cemaChannelBlock;
    common.attentionQueryTile = attentionQueryTile;
    common.attentionKeyTile = attentionKeyTile;
    common.fuseAttention = fuseAttention;
    common.fuseNormEma = fuseNormEma;
    common.blockSize = blockSize;
    common.copyArguments = copyArguments;
    return common;
  }
};

} // namespace mlir::gecko

#endif // GECKO_TARGET_GPU_PIPELINEOPTIONS_H
