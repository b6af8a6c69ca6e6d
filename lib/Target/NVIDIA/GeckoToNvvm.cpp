//===- GeckoToNvvm.cpp - The gecko-to-nvvm pipeline -----------------------===//
//
// passes/GPU prepares the kernels; here: nvvm-attach-target (sm_90 needs
// PTX ISA 8.0: features=+ptx80, otherwise "PTX version 6.0 does not support
// target 'sm_90'"), convert-gpu-to-nvvm inside the gpu.module, the host
// lowering and gpu-module-to-binary. With `mma` (default), gecko-nvvm-mma
// (MmaContractions.cpp) first puts the f16/bf16 tile contractions on
// mma.sync. The toolkit must be given (or found):
// without libdevice, math.rsqrt & co. stay unresolved __nv_* calls in the
// PTX, and cubin/fatbin need ptxas.
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/NVIDIA/GeckoToNvvm.h"
#include "gecko/Target/GPU/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

namespace mlir::gecko {

static std::string cudaToolkit(const std::string &option) {
  if (!option.empty())
    return option;
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    return home;
  return "/usr/local/cuda";
}

void buildGeckoToNvvmPipeline(OpPassManager &pm,
                              const GeckoToNvvmOptions &options) {
  GpuCommonConfig common = options.commonConfig();
  if (options.mma) {
    std::string chip = options.chip;
    int64_t blockSize = options.blockSize;
    common.beforeThreadMapping = [chip, blockSize](OpPassManager &nested) {
      nested.addPass(createGeckoNvvmMmaPass(chip, blockSize));
    };
  }
  buildGeckoGpuPreparePipeline(pm, common);

  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createConvertGpuOpsToNVVMOps());
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());

  buildGeckoGpuHostPipeline(pm);

  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = cudaToolkit(options.toolkit);
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void registerGeckoToNvvmPipeline() {
  registerGeckoNvvmMmaPass();
  PassPipelineRegistration<GeckoToNvvmOptions>(
      "gecko-to-nvvm",
      "Lower gecko IR on tensors to NVIDIA GPU kernels (PTX/cubin/fatbin) "
      "and LLVM host code",
      buildGeckoToNvvmPipeline);
}

} // namespace mlir::gecko
