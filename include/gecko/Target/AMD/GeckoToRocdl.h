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

#include "gecko/Target/GPU/PipelineOptions.h"

#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToRocdlOptions : public GpuPipelineOptions<GeckoToRocdlOptions> {
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
