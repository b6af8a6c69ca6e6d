//===- GeckoToRocdl.h - The gecko-to-rocdl pipeline -----------------*- C++
//-*-===//
//
// gecko IR on tensors -> host LLVM dialect + a gpu.binary holding AMDGPU
// assembly or an HSA code object (hsaco) for AMD GPUs. The vendor-neutral part
// is passes/GPU; only the target attach, convert-gpu-to-rocdl and the binary
// step are AMD's.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TARGET_AMD_GECKOTOROCDL_H
#define GECKO_TARGET_AMD_GECKOTOROCDL_H

#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToRocdlOptions : public PassPipelineOptions<GeckoToRocdlOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target GFX architecture"),
      llvm::cl::init("gfx942")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("Target features"), llvm::cl::init("")};
  PassOptions::Option<std::string> abi{
      *this, "abi", llvm::cl::desc("AMDHSA code object ABI version"),
      llvm::cl::init("500")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: isa (assembly), bin "
                     "(hsaco code object)"),
      llvm::cl::init("bin")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("ROCm toolkit (llvm/bin/ld.lld, amdgcn/bitcode); default "
                     "$ROCM_PATH, else the build tree's rocm-toolkit"),
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
      llvm::cl::desc("f16/bf16 tile contractions on MFMA 16x16x16 (gfx908 "
                     "f16, gfx90a/gfx94x/gfx950, gecko-rocdl-mfma); false: "
                     "scalar FMA path"),
      llvm::cl::init(true)};
};

/// gecko-rocdl-mfma: f16/bf16 tile contractions -> amdgpu.mfma 16x16x16
/// (chips without it are left alone). Runs on bufferized tiles before
/// gecko-map-forall-to-gpu.
std::unique_ptr<Pass> createGeckoRocdlMfmaPass(llvm::StringRef chip,
                                               int64_t blockSize);
void registerGeckoRocdlMfmaPass();

void buildGeckoToRocdlPipeline(OpPassManager &pm,
                               const GeckoToRocdlOptions &options);

/// Registers `gecko-to-rocdl`.
void registerGeckoToRocdlPipeline();

} // namespace mlir::gecko

#endif // GECKO_TARGET_AMD_GECKOTOROCDL_H
