//===- HipDriver.h - The HIP runtime API, dlopen'ed ---------------*- C++
//-*-===//
//
// The few HIP entry points the runtime needs, resolved from libamdhip64.so
// at first use (no ROCm headers or libraries at build time).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_HIP_HIPDRIVER_H
#define GECKO_RUNTIME_HIP_HIPDRIVER_H

#include <cstddef>
#include <string>

namespace gecko::rt::hip {

using hipError_t = int;
using hipModule_t = struct ihipModule_t *;
using hipFunction_t = struct ihipModuleSymbol_t *;
using hipStream_t = struct ihipStream_t *;
using hipEvent_t = struct ihipEvent_t *;

enum : int {
  hipMemcpyHostToDevice = 1,
  hipMemcpyDeviceToHost = 2,
  hipMemcpyDefault = 4
};

struct Driver {
  hipError_t (*hipInit)(unsigned);
  hipError_t (*hipSetDevice)(int);
  hipError_t (*hipGetDeviceCount)(int *);
  hipError_t (*hipDeviceSynchronize)();
  hipError_t (*hipModuleLoadData)(hipModule_t *, const void *);
  hipError_t (*hipModuleUnload)(hipModule_t);
  hipError_t (*hipModuleGetFunction)(hipFunction_t *, hipModule_t,
                                     const char *);
  hipError_t (*hipModuleLaunchKernel)(hipFunction_t, unsigned, unsigned,
                                      unsigned, unsigned, unsigned, unsigned,
                                      unsigned, hipStream_t, void **, void **);
  hipError_t (*hipMalloc)(void **, size_t);
  /// flags: hipMemAttachGlobal (1).
  hipError_t (*hipMallocManaged)(void **, size_t, unsigned);
  hipError_t (*hipFree)(void *);
  hipError_t (*hipMemcpy)(void *, const void *, size_t, int);
  hipError_t (*hipMemcpyAsync)(void *, const void *, size_t, int, hipStream_t);
  hipError_t (*hipMemsetD32Async)(void *, int, size_t, hipStream_t);
  hipError_t (*hipMemsetD16Async)(void *, unsigned short, size_t, hipStream_t);
  hipError_t (*hipStreamCreate)(hipStream_t *);
  hipError_t (*hipStreamDestroy)(hipStream_t);
  hipError_t (*hipStreamSynchronize)(hipStream_t);
  hipError_t (*hipStreamWaitEvent)(hipStream_t, hipEvent_t, unsigned);
  hipError_t (*hipEventCreateWithFlags)(hipEvent_t *, unsigned);
  hipError_t (*hipEventDestroy)(hipEvent_t);
  hipError_t (*hipEventRecord)(hipEvent_t, hipStream_t);
  hipError_t (*hipEventSynchronize)(hipEvent_t);
  const char *(*hipGetErrorName)(hipError_t);
};

/// The HIP runtime, loaded once; null (with `error` set) when
/// libamdhip64.so or one of its symbols is missing.
const Driver *driver(std::string *error);

/// "hipFoo failed: hipError..." for a non-zero result.
std::string describe(const Driver &d, const char *call, hipError_t result);

} // namespace gecko::rt::hip

#endif // GECKO_RUNTIME_HIP_HIPDRIVER_H
