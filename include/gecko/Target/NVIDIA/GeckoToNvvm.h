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

namespace mlir {
class OpPassManager;
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
  PassOptions::Option<int64_t> blockSize{*this, "block-size",
                                         llvm::cl::desc("Threads per block"),
                                         llvm::cl::init(128)};
};

void buildGeckoToNvvmPipeline(OpPassManager &pm,
                              const GeckoToNvvmOptions &options);

/// Registers `gecko-to-nvvm`.
void registerGeckoToNvvmPipeline();

} // namespace mlir::gecko

#endif // GECKO_TARGET_NVIDIA_GECKOTONVVM_H
