//===- GeckoToNvvm.h - The gecko-to-nvvm pipeline -----------------*- C++
//-*-===//
//
// gecko IR on tensors -> host LLVM dialect + a gpu.binary holding PTX, a
// cubin or a fatbin for NVIDIA GPUs. The vendor-neutral part is
// passes/GPU; only the target attach, convert-gpu-to-nvvm and the binary
// step are NVIDIA's.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TARGET_NVIDIA_GECKOTONVVM_H
#define GECKO_TARGET_NVIDIA_GECKOTONVVM_H

#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToNvvmOptions : public PassPipelineOptions<GeckoToNvvmOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target SM architecture"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (PTX ISA version)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: isa (PTX), bin (cubin), "
                     "fatbin"),
      llvm::cl::init("fatbin")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit (libdevice, ptxas); default $CUDA_HOME, "
                     "else /usr/local/cuda"),
      llvm::cl::init("")};
  PassOptions::Option<unsigned> optLevel{
      *this, "O", llvm::cl::desc("Device optimisation level"),
      llvm::cl::init(3)};
  PassOptions::Option<int64_t> batchTileSize{
      *this, "batch-tile-size",
      llvm::cl::desc("Rows of the batch dimension per tile (block)"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> tokenTileSize{
      *this, "token-tile-size", llvm::cl::desc("Tokens per tile (block)"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> tsnChunkSize{
      *this, "tsn-chunk-size",
      llvm::cl::desc("timestep_norm scan chunk (0: token-tile-size)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> cemaChunkSize{*this, "cema-chunk-size",
                                             llvm::cl::desc("cema scan chunk"),
                                             llvm::cl::init(16)};
  PassOptions::Option<int64_t> cemaChannelBlock{
      *this, "cema-channel-block",
      llvm::cl::desc("cema channels per tile (block)"), llvm::cl::init(16)};
  PassOptions::Option<int64_t> attentionQueryTile{
      *this, "attention-query-tile",
      llvm::cl::desc("chunk_attention queries per tile (block)"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> attentionKeyTile{
      *this, "attention-key-tile",
      llvm::cl::desc("chunk_attention keys per inner step"), llvm::cl::init(8)};
  PassOptions::Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Attention prologue / epilogue fusion first"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> fuseNormEma{
      *this, "fuse-norm-ema",
      llvm::cl::desc("timestep_norm -> cema -> rms_norm fusion first "
                     "(tiles hold (D, N) EMA state: small D only)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> copyArguments{
      *this, "copy-arguments",
      llvm::cl::desc("Copy memref arguments into managed memory at entry "
                     "(gecko-host-buffers-to-device)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> blockSize{*this, "block-size",
                                         llvm::cl::desc("Threads per block"),
                                         llvm::cl::init(128)};
  PassOptions::Option<bool> mma{
      *this, "mma",
      llvm::cl::desc("f16/bf16 tile contractions on mma.sync m16n8k16 "
                     "(sm_80+, gecko-nvvm-mma); false: scalar FMA path"),
      llvm::cl::init(true)};
};

/// gecko-nvvm-mma: f16/bf16 tile contractions -> nvvm.mma.sync m16n8k16
/// (for sm_80 and later; other chips are left alone). Runs on bufferized
/// tiles before gecko-map-forall-to-gpu.
std::unique_ptr<Pass> createGeckoNvvmMmaPass(llvm::StringRef chip,
                                             int64_t blockSize);
void registerGeckoNvvmMmaPass();

void buildGeckoToNvvmPipeline(OpPassManager &pm,
                              const GeckoToNvvmOptions &options);

/// Registers `gecko-to-nvvm` (and the gecko-nvvm-mma pass).
void registerGeckoToNvvmPipeline();

} // namespace mlir::gecko

#endif // GECKO_TARGET_NVIDIA_GECKOTONVVM_H
