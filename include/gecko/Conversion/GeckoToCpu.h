//===- GeckoToCpu.h - The gecko-to-cpu pipeline -------------------*- C++
//-*-===//
//
// Gecko IR on tensors to the LLVM dialect with OpenMP: the gecko ops become
// tiled scf.forall + linalg (gecko-convert-to-linalg), are bufferized, and
// the foralls run as OpenMP parallel loops. Entry functions that should be
// callable from C carry `llvm.emit_c_interface`.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_GECKOTOCPU_H
#define GECKO_CONVERSION_GECKOTOCPU_H

#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToCpuOptions : public PassPipelineOptions<GeckoToCpuOptions> {
  PassOptions::Option<int64_t> batchTileSize{
      *this, "batch-tile-size",
      llvm::cl::desc("Rows of the batch dimension per scf.forall tile"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> tokenTileSize{
      *this, "token-tile-size", llvm::cl::desc("Tokens per scf.forall tile"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> tsnChunkSize{
      *this, "tsn-chunk-size",
      llvm::cl::desc("Time chunk of the timestep_norm scan (0: token tile)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> cemaChunkSize{
      *this, "cema-chunk-size",
      llvm::cl::desc("Time chunk of the cema chunked scan"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> cemaChannelBlock{
      *this, "cema-channel-block",
      llvm::cl::desc("Channels per scf.forall tile of cema"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> attentionQueryTile{
      *this, "attention-query-tile",
      llvm::cl::desc("Queries per scf.forall tile of chunk_attention"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> attentionKeyTile{
      *this, "attention-key-tile",
      llvm::cl::desc("Keys per scf.for step of chunk_attention"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> linearColumnTile{
      *this, "linear-column-tile",
      llvm::cl::desc("Output columns per scf.forall tile of gecko.linear"),
      llvm::cl::init(32)};
  PassOptions::Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Run gecko-fuse-attention-prologue and -epilogue "
                     "first (z split + rope into the attention / memory "
                     "kernels, sca·r + awm into the attention epilogue)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> fuseNormEma{
      *this, "fuse-norm-ema",
      llvm::cl::desc("Run gecko-fuse-norm-ema first (timestep_norm -> cema "
                     "-> rms_norm in one op that never writes the EMA "
                     "output)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> vectorize{
      *this, "vectorize",
      llvm::cl::desc("Register-tile and vectorize the linalg ops "
                     "(gecko-vectorize-cpu); off: scalar loops"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> vectorInnerTile{
      *this, "vector-inner-tile",
      llvm::cl::desc("Largest vector along the last loop of a "
                     "non-contraction linalg op"),
      llvm::cl::init(512)};
  PassOptions::Option<int64_t> contractionMTile{
      *this, "contraction-m-tile",
      llvm::cl::desc("Rows of a contraction's register tile"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> contractionNTile{
      *this, "contraction-n-tile",
      llvm::cl::desc("Columns of a contraction's register tile"),
      llvm::cl::init(32)};
};

/// Register tiles of gecko-vectorize-cpu.
struct GeckoCpuVectorizeOptions {
  int64_t innerTile = 512;
  int64_t contractionMTile = 8;
  int64_t contractionNTile = 32;
};

/// The vectorization stage of gecko-to-cpu (a func.func pass on buffers).
std::unique_ptr<Pass>
createGeckoVectorizeCpuPass(const GeckoCpuVectorizeOptions &options = {});
/// Registers -gecko-vectorize-cpu.
void registerGeckoVectorizeCpuPass();

/// Appends the gecko-to-cpu passes to `pm` (a builtin.module manager).
void buildGeckoToCpuPipeline(OpPassManager &pm,
                             const GeckoToCpuOptions &options);

/// Registers `gecko-to-cpu` for textual pipelines and -gecko-to-cpu.
void registerGeckoToCpuPipeline();

} // namespace mlir::gecko

#endif // GECKO_CONVERSION_GECKOTOCPU_H
