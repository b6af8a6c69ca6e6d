//===- GpuBackend.h - gecko-conform's GPU backends (cuda, hip) ----*- C++
//-*-===//
//
// The cuda and hip backends build the same kernels as the cpu backend
// (CpuKernels.h), compile them with gecko-to-nvvm / gecko-to-rocdl and run
// the host code through the JIT with the runtime's mgpu* wrappers
// (libgecko_{cuda,hip}_runtime.so). Without the driver every case FAILS
// with the runtime's message ("CUDA driver library libcuda.so.1 not found
// (...)"). Vendor specifics (pipeline, runtime library, device kind) live in
// CudaBackend.cpp / HipBackend.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONFORM_GPUBACKEND_H
#define GECKO_CONFORM_GPUBACKEND_H

#include "Backend.h"

#include "gecko/Runtime/Device.h"

#include "mlir/Pass/PassManager.h"

#include <functional>
#include <string>

namespace gecko::conform {

/// What differs between the GPU vendors.
struct GpuVendor {
  /// The backend's name ("cuda", "hip").
  std::string name;
  rt::DeviceKind deviceKind;
  /// libgecko_<vendor>_runtime.so (the mgpu* entry points), a file name in
  /// the build's lib/ directory.
  std::string runtimeLibrary;
  /// Adds gecko-to-nvvm / gecko-to-rocdl (producing a loadable binary).
  std::function<void(mlir::OpPassManager &)> buildPipeline;
};

std::unique_ptr<Backend> createGpuBackend(GpuVendor vendor);
std::unique_ptr<Backend> createCudaBackend();
std::unique_ptr<Backend> createHipBackend();

} // namespace gecko::conform

#endif // GECKO_CONFORM_GPUBACKEND_H
