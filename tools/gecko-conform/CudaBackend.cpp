//===- CudaBackend.cpp - gecko-conform --backend=cuda ---------------------===//
//
// gecko-to-nvvm (fatbin: cubin + PTX for newer GPUs) and the CUDA runtime
// wrappers. GECKO_CUDA_CHIP / GECKO_CUDA_FEATURES pick the target (default
// sm_80, +ptx70: runs on sm_80 and, through the PTX, on sm_90).
//
//===----------------------------------------------------------------------===//

#include "GpuBackend.h"

#include "gecko/Target/NVIDIA/GeckoToNvvm.h"

#include <cstdlib>

namespace gecko::conform {

static std::string fromEnvironment(const char *name, const char *fallback) {
  const char *value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::unique_ptr<Backend> createCudaBackend() {
  GpuVendor vendor;
  vendor.name = "cuda";
  vendor.deviceKind = rt::DeviceKind::CUDA;
  vendor.runtimeLibrary = "libgecko_cuda_runtime.so";
  vendor.buildPipeline = [](mlir::OpPassManager &pm) {
    mlir::gecko::GeckoToNvvmOptions options;
    options.chip = fromEnvironment("GECKO_CUDA_CHIP", "sm_80");
    options.features = fromEnvironment("GECKO_CUDA_FEATURES", "+ptx70");
    options.format = "fatbin";
    mlir::gecko::buildGeckoToNvvmPipeline(pm, options);
  };
  return createGpuBackend(std::move(vendor));
}

} // namespace gecko::conform
