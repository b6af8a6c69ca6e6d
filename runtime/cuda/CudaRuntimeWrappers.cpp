//===- CudaRuntimeWrappers.cpp - mgpu* entry points on the CUDA driver ----===//
//
// The functions MLIR's gpu-to-llvm host code calls (signatures of MLIR 22's
// gpu.launch_func / gpu.alloc / gpu.memcpy lowering, the same as upstream's
// CudaRuntimeWrappers.cpp), forwarded to libcuda.so.1 through CudaDriver,
// so this library needs neither MLIR nor the CUDA toolkit to build. Errors
// are printed to stderr like upstream's; a missing driver is reported once
// and every entry point then returns null / does nothing.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include <cstdint>
#include <cstdio>
#include <string>

using namespace gecko::rt::cuda;

namespace {

thread_local int32_t defaultDevice = 0;

const Driver *cudaOrReport() {
  std::string error;
  const Driver *d = driver(&error);
  if (!d) {
    static bool reported = false;
    if (!reported)
      fprintf(stderr, "gecko cuda runtime: %s\n", error.c_str());
    reported = true;
  }
  return d;
}

void report(const Driver &d, const char *call, CUresult r) {
  if (r)
    fprintf(stderr, "gecko cuda runtime: %s\n", describe(d, call, r).c_str());
}

/// Makes the primary context of the default device current while alive.
struct ScopedContext {
  explicit ScopedContext(const Driver &d) : d(d) {
    std::string error;
    CUcontext ctx = primaryContext(d, defaultDevice, &error);
    if (!ctx) {
      fprintf(stderr, "gecko cuda runtime: %s\n", error.c_str());
      return;
    }
    pushed = d.cuCtxPushCurrent(ctx) == 0;
  }
  ~ScopedContext() {
    if (pushed)
      d.cuCtxPopCurrent(nullptr);
  }
  const Driver &d;
  bool pushed = false;
};

} // namespace

#define GECKO_EXPORT extern "C" __attribute__((visibility("default")))

GECKO_EXPORT CUmodule mgpuModuleLoad(void *data, size_t /*gpuBlobSize*/) {
  const Driver *d = cudaOrReport();
  if (!d)
    return nullptr;
  ScopedContext s(*d);
  CUmodule module = nullptr;
  report(*d, "cuModuleLoadData", d->cuModuleLoadData(&module, data));
  return module;
}

/// PTX (format=isa) is JIT-compiled by the driver.
GECKO_EXPORT CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

GECKO_EXPORT void mgpuModuleUnload(CUmodule module) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuModuleUnload", d->cuModuleUnload(module));
}

GECKO_EXPORT CUfunction mgpuModuleGetFunction(CUmodule module,
                                              const char *name) {
  const Driver *d = cudaOrReport();
  if (!d)
    return nullptr;
  CUfunction function = nullptr;
  report(*d, "cuModuleGetFunction",
         d->cuModuleGetFunction(&function, module, name));
  return function;
}

GECKO_EXPORT void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                   intptr_t gridY, intptr_t gridZ,
                                   intptr_t blockX, intptr_t blockY,
                                   intptr_t blockZ, int32_t smem,
                                   CUstream stream, void **params, void **extra,
                                   size_t /*paramsCount*/) {
  const Driver *d = cudaOrReport();
  if (!d)
    return;
  ScopedContext s(*d);
  report(*d, "cuLaunchKernel",
         d->cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                           blockZ, smem, stream, params, extra));
}

GECKO_EXPORT CUstream mgpuStreamCreate() {
  const Driver *d = cudaOrReport();
  if (!d)
    return nullptr;
  ScopedContext s(*d);
  CUstream stream = nullptr;
  report(*d, "cuStreamCreate",
         d->cuStreamCreate(&stream, /*CU_STREAM_NON_BLOCKING=*/1));
  return stream;
}

GECKO_EXPORT void mgpuStreamDestroy(CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuStreamDestroy", d->cuStreamDestroy(stream));
}

GECKO_EXPORT void mgpuStreamSynchronize(CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuStreamSynchronize", d->cuStreamSynchronize(stream));
}

GECKO_EXPORT void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuStreamWaitEvent", d->cuStreamWaitEvent(stream, event, 0));
}

GECKO_EXPORT CUevent mgpuEventCreate() {
  const Driver *d = cudaOrReport();
  if (!d)
    return nullptr;
  ScopedContext s(*d);
  CUevent event = nullptr;
  report(*d, "cuEventCreate",
         d->cuEventCreate(&event, /*CU_EVENT_DISABLE_TIMING=*/2));
  return event;
}

GECKO_EXPORT void mgpuEventDestroy(CUevent event) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuEventDestroy", d->cuEventDestroy(event));
}

GECKO_EXPORT void mgpuEventSynchronize(CUevent event) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuEventSynchronize", d->cuEventSynchronize(event));
}

GECKO_EXPORT void mgpuEventRecord(CUevent event, CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuEventRecord", d->cuEventRecord(event, stream));
}

/// `gpu.alloc host_shared` (what gecko-host-buffers-to-device emits for the
/// host's buffers) is managed memory, reachable from the host code and from
/// every kernel; plain `gpu.alloc` is device memory.
GECKO_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, CUstream /*stream*/,
                                bool isHostShared) {
  const Driver *d = cudaOrReport();
  if (!d)
    return nullptr;
  ScopedContext s(*d);
  CUdeviceptr ptr = 0;
  if (sizeBytes != 0 && isHostShared)
    report(*d, "cuMemAllocManaged",
           d->cuMemAllocManaged(&ptr, sizeBytes, /*CU_MEM_ATTACH_GLOBAL=*/1));
  else if (sizeBytes != 0)
    report(*d, "cuMemAlloc", d->cuMemAlloc(&ptr, sizeBytes));
  return reinterpret_cast<void *>(ptr);
}

GECKO_EXPORT void mgpuMemFree(void *ptr, CUstream /*stream*/) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuMemFree", d->cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)));
}

GECKO_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                             CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuMemcpyAsync",
           d->cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                            reinterpret_cast<CUdeviceptr>(src), sizeBytes,
                            stream));
}

GECKO_EXPORT void mgpuMemset32(void *dst, unsigned value, size_t count,
                               CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuMemsetD32Async",
           d->cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                               stream));
}

GECKO_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                               CUstream stream) {
  if (const Driver *d = cudaOrReport())
    report(*d, "cuMemsetD16Async",
           d->cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                               stream));
}

GECKO_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  defaultDevice = device;
}
