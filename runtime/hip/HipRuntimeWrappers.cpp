//===- HipRuntimeWrappers.cpp - mgpu* entry points on the HIP runtime -----===//
//
// The functions MLIR's gpu-to-llvm host code calls (MLIR 22 signatures, as
// upstream's RocmRuntimeWrappers.cpp), forwarded to libamdhip64.so through
// HipDriver, so this library needs neither MLIR nor ROCm to build. Errors
// are printed to stderr; a missing runtime is reported once and every
// entry point then returns null / does nothing.
//
//===----------------------------------------------------------------------===//

#include "HipDriver.h"

#include <cstdint>
#include <cstdio>
#include <string>

using namespace gecko::rt::hip;

namespace {

thread_local int32_t defaultDevice = 0;

const Driver *hipOrReport() {
  std::string error;
  const Driver *d = driver(&error);
  if (!d) {
    static bool reported = false;
    if (!reported)
      fprintf(stderr, "gecko hip runtime: %s\n", error.c_str());
    reported = true;
    return nullptr;
  }
  d->hipSetDevice(defaultDevice);
  return d;
}

void report(const Driver &d, const char *call, hipError_t r) {
  if (r)
    fprintf(stderr, "gecko hip runtime: %s\n", describe(d, call, r).c_str());
}

} // namespace

#define GECKO_EXPORT extern "C" __attribute__((visibility("default")))

GECKO_EXPORT hipModule_t mgpuModuleLoad(void *data, size_t /*gpuBlobSize*/) {
  const Driver *d = hipOrReport();
  if (!d)
    return nullptr;
  hipModule_t module = nullptr;
  report(*d, "hipModuleLoadData", d->hipModuleLoadData(&module, data));
  return module;
}

GECKO_EXPORT void mgpuModuleUnload(hipModule_t module) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipModuleUnload", d->hipModuleUnload(module));
}

GECKO_EXPORT hipFunction_t mgpuModuleGetFunction(hipModule_t module,
                                                 const char *name) {
  const Driver *d = hipOrReport();
  if (!d)
    return nullptr;
  hipFunction_t function = nullptr;
  report(*d, "hipModuleGetFunction",
         d->hipModuleGetFunction(&function, module, name));
  return function;
}

GECKO_EXPORT void mgpuLaunchKernel(hipFunction_t function, intptr_t gridX,
                                   intptr_t gridY, intptr_t gridZ,
                                   intptr_t blockX, intptr_t blockY,
                                   intptr_t blockZ, int32_t smem,
                                   hipStream_t stream, void **params,
                                   void **extra, size_t /*paramsCount*/) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipModuleLaunchKernel",
           d->hipModuleLaunchKernel(function, gridX, gridY, gridZ, blockX,
                                    blockY, blockZ, smem, stream, params,
                                    extra));
}

GECKO_EXPORT hipStream_t mgpuStreamCreate() {
  const Driver *d = hipOrReport();
  if (!d)
    return nullptr;
  hipStream_t stream = nullptr;
  report(*d, "hipStreamCreate", d->hipStreamCreate(&stream));
  return stream;
}

GECKO_EXPORT void mgpuStreamDestroy(hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipStreamDestroy", d->hipStreamDestroy(stream));
}

GECKO_EXPORT void mgpuStreamSynchronize(hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipStreamSynchronize", d->hipStreamSynchronize(stream));
}

GECKO_EXPORT void mgpuStreamWaitEvent(hipStream_t stream, hipEvent_t event) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipStreamWaitEvent", d->hipStreamWaitEvent(stream, event, 0));
}

GECKO_EXPORT hipEvent_t mgpuEventCreate() {
  const Driver *d = hipOrReport();
  if (!d)
    return nullptr;
  hipEvent_t event = nullptr;
  report(*d, "hipEventCreateWithFlags",
         d->hipEventCreateWithFlags(&event, /*hipEventDisableTiming=*/2));
  return event;
}

GECKO_EXPORT void mgpuEventDestroy(hipEvent_t event) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipEventDestroy", d->hipEventDestroy(event));
}

GECKO_EXPORT void mgpuEventSynchronize(hipEvent_t event) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipEventSynchronize", d->hipEventSynchronize(event));
}

GECKO_EXPORT void mgpuEventRecord(hipEvent_t event, hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipEventRecord", d->hipEventRecord(event, stream));
}

/// `gpu.alloc host_shared` (the host's buffers, see
/// gecko-host-buffers-to-device) is managed memory; plain `gpu.alloc` is
/// device memory.
GECKO_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, hipStream_t /*stream*/,
                                bool isHostShared) {
  const Driver *d = hipOrReport();
  if (!d)
    return nullptr;
  void *ptr = nullptr;
  if (sizeBytes != 0 && isHostShared)
    report(*d, "hipMallocManaged",
           d->hipMallocManaged(&ptr, sizeBytes, /*hipMemAttachGlobal=*/1));
  else if (sizeBytes != 0)
    report(*d, "hipMalloc", d->hipMalloc(&ptr, sizeBytes));
  return ptr;
}

GECKO_EXPORT void mgpuMemFree(void *ptr, hipStream_t /*stream*/) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipFree", d->hipFree(ptr));
}

GECKO_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                             hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipMemcpyAsync",
           d->hipMemcpyAsync(dst, src, sizeBytes, hipMemcpyDefault, stream));
}

GECKO_EXPORT void mgpuMemset32(void *dst, int value, size_t count,
                               hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipMemsetD32Async",
           d->hipMemsetD32Async(dst, value, count, stream));
}

GECKO_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                               hipStream_t stream) {
  if (const Driver *d = hipOrReport())
    report(*d, "hipMemsetD16Async",
           d->hipMemsetD16Async(dst, value, count, stream));
}

GECKO_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  defaultDevice = device;
}
