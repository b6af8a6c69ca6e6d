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

#include "gecko/Target/GPU/PipelineOptions.h"

#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToNvvmOptions : public GpuPipelineOptions<GeckoToNvvmOptions> {
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
