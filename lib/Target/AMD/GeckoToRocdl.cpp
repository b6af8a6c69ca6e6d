//===- GeckoToRocdl.cpp - The gecko-to-rocdl pipeline ---------------------===//
//
// passes/GPU prepares the kernels; here: rocdl-attach-target (code object
// ABI 500 by default), convert-amdgpu-to-rocdl + convert-gpu-to-rocdl inside
// the gpu.module (with `mma`, gecko-rocdl-mfma (MfmaContractions.cpp) first
// puts the f16/bf16 tile contractions on MFMA), the host
// lowering and gpu-module-to-binary. format=bin links with
// <toolkit>/llvm/bin/ld.lld and the device libraries come from
// <toolkit>/amdgcn/bitcode: the build tree holds such a toolkit made of
// links (GECKO_ROCM_TOOLKIT_DIR, see lib/Target/AMD/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/AMD/GeckoToRocdl.h"
#include "gecko/Target/GPU/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

#ifndef GECKO_ROCM_TOOLKIT_DIR
#define GECKO_ROCM_TOOLKIT_DIR ""
#endif

namespace mlir::gecko {

static std::string rocmToolkit(const std::string &option) {
  if (!option.empty())
    return option;
  if (const char *path = std::getenv("ROCM_PATH"); path && *path)
    return path;
  return GECKO_ROCM_TOOLKIT_DIR;
}

void buildGeckoToRocdlPipeline(OpPassManager &pm,
                               const GeckoToRocdlOptions &options) {
  GpuCommonConfig common = options.commonConfig();
  if (options.mma) {
    std::string chip = options.chip;
    int64_t blockSize = options.blockSize;
    common.beforeThreadMapping = [chip, blockSize](OpPassManager &nested) {
      nested.addPass(createGeckoRocdlMfmaPass(chip, blockSize));
    };
  }
  buildGeckoGpuPreparePipeline(pm, common);

  GpuROCDLAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.abiVersion = options.abi;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuROCDLAttachTarget(target));
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  ConvertAMDGPUToROCDLPassOptions amdgpu; // amdgpu.mfma -> rocdl.mfma.*
  amdgpu.chipset = options.chip;
  device.addPass(createConvertAMDGPUToROCDLPass(amdgpu));
  ConvertGpuOpsToROCDLOpsOptions rocdl;
  rocdl.chipset = options.chip;
  device.addPass(createConvertGpuOpsToROCDLOps(rocdl));
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());

  buildGeckoGpuHostPipeline(pm);

  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = rocmToolkit(options.toolkit);
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void registerGeckoToRocdlPipeline() {
  registerGeckoRocdlMfmaPass();
  PassPipelineRegistration<GeckoToRocdlOptions>(
      "gecko-to-rocdl",
      "Lower gecko IR on tensors to AMD GPU kernels (assembly/hsaco) and "
      "LLVM host code",
      buildGeckoToRocdlPipeline);
}

} // namespace mlir::gecko
