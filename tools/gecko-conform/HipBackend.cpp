//===- HipBackend.cpp - gecko-conform --backend=hip -----------------------===//
//
// gecko-to-rocdl (hsaco) and the HIP runtime wrappers. GECKO_HIP_CHIP picks
// the target (default gfx942).
//
//===----------------------------------------------------------------------===//

#include "GpuBackend.h"

#include "gecko/Target/AMD/GeckoToRocdl.h"

#include <cstdlib>

namespace gecko::conform {

std::unique_ptr<Backend> createHipBackend() {
  GpuVendor vendor;
  vendor.name = "hip";
  vendor.deviceKind = rt::DeviceKind::HIP;
  vendor.runtimeLibrary = "libgecko_hip_runtime.so";
  vendor.buildPipeline = [](mlir::OpPassManager &pm) {
    mlir::gecko::GeckoToRocdlOptions options;
    const char *chip = std::getenv("GECKO_HIP_CHIP");
    options.chip = chip && *chip ? chip : "gfx942";
    options.format = "bin";
    mlir::gecko::buildGeckoToRocdlPipeline(pm, options);
  };
  return createGpuBackend(std::move(vendor));
}

} // namespace gecko::conform
