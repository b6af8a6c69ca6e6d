//===- CudaDriver.h - The CUDA driver API, dlopen'ed --------------*- C++
//-*-===//
//
// The few driver entry points the runtime needs, resolved from
// libcuda.so.1 at first use (no CUDA headers or libraries at build time).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_CUDA_CUDADRIVER_H
#define GECKO_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <string>

namespace gecko::rt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxPushCurrent)(CUcontext);
  CUresult (*cuCtxPopCurrent)(CUcontext *);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  /// flags: CU_MEM_ATTACH_GLOBAL (1).
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuGetErrorName)(CUresult, const char **);
};

/// The driver, loaded once; null (with `error` set) when libcuda.so.1 or
/// one of its symbols is missing.
const Driver *driver(std::string *error);

/// "cuFoo failed: CUDA_ERROR_..." for a non-zero result.
std::string describe(const Driver &d, const char *call, CUresult result);

/// The primary context of device `ordinal`, retained once per process.
CUcontext primaryContext(const Driver &d, int ordinal, std::string *error);

} // namespace gecko::rt::cuda

#endif // GECKO_RUNTIME_CUDA_CUDADRIVER_H
