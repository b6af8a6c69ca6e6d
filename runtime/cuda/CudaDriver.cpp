//===- CudaDriver.cpp - The CUDA driver API, dlopen'ed --------------------===//

#include "CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace gecko::rt::cuda {

namespace {

struct Loaded {
  Driver driver{};
  bool ok = false;
  std::string error;
};

template <typename Fn>
bool resolve(void *lib, const char *symbol, Fn &slot, std::string &error) {
  void *address = dlsym(lib, symbol);
  if (!address) {
    error = std::string("CUDA driver library lacks ") + symbol;
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

Loaded load() {
  Loaded l;
  // GECKO_CUDA_DRIVER overrides the library name (tests use it to simulate
  // a machine without the driver).
  const char *name = std::getenv("GECKO_CUDA_DRIVER");
  if (!name || !*name)
    name = "libcuda.so.1";
  void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    l.error = std::string("CUDA driver library ") + name + " not found (" +
              (why ? why : "dlopen failed") + ")";
    return l;
  }
  Driver &d = l.driver;
  std::string &e = l.error;
  l.ok =
      resolve(lib, "cuInit", d.cuInit, e) &&
      resolve(lib, "cuDeviceGet", d.cuDeviceGet, e) &&
      resolve(lib, "cuDeviceGetName", d.cuDeviceGetName, e) &&
      resolve(lib, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, e) &&
      resolve(lib, "cuCtxPushCurrent_v2", d.cuCtxPushCurrent, e) &&
      resolve(lib, "cuCtxPopCurrent_v2", d.cuCtxPopCurrent, e) &&
      resolve(lib, "cuCtxSynchronize", d.cuCtxSynchronize, e) &&
      resolve(lib, "cuModuleLoadData", d.cuModuleLoadData, e) &&
      resolve(lib, "cuModuleUnload", d.cuModuleUnload, e) &&
      resolve(lib, "cuModuleGetFunction", d.cuModuleGetFunction, e) &&
      resolve(lib, "cuLaunchKernel", d.cuLaunchKernel, e) &&
      resolve(lib, "cuMemAlloc_v2", d.cuMemAlloc, e) &&
      resolve(lib, "cuMemAllocManaged", d.cuMemAllocManaged, e) &&
      resolve(lib, "cuMemFree_v2", d.cuMemFree, e) &&
      resolve(lib, "cuMemcpyHtoD_v2", d.cuMemcpyHtoD, e) &&
      resolve(lib, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH, e) &&
      resolve(lib, "cuMemcpyAsync", d.cuMemcpyAsync, e) &&
      resolve(lib, "cuMemsetD32Async", d.cuMemsetD32Async, e) &&
      resolve(lib, "cuMemsetD16Async", d.cuMemsetD16Async, e) &&
      resolve(lib, "cuStreamCreate", d.cuStreamCreate, e) &&
      resolve(lib, "cuStreamDestroy_v2", d.cuStreamDestroy, e) &&
      resolve(lib, "cuStreamSynchronize", d.cuStreamSynchronize, e) &&
      resolve(lib, "cuStreamWaitEvent", d.cuStreamWaitEvent, e) &&
      resolve(lib, "cuEventCreate", d.cuEventCreate, e) &&
      resolve(lib, "cuEventDestroy_v2", d.cuEventDestroy, e) &&
      resolve(lib, "cuEventRecord", d.cuEventRecord, e) &&
      resolve(lib, "cuEventSynchronize", d.cuEventSynchronize, e) &&
      resolve(lib, "cuGetErrorName", d.cuGetErrorName, e);
  if (l.ok && d.cuInit(0) != 0) {
    l.ok = false;
    l.error = describe(d, "cuInit", d.cuInit(0));
  }
  return l;
}

} // namespace

const Driver *driver(std::string *error) {
  static Loaded loaded = load();
  if (!loaded.ok) {
    if (error)
      *error = loaded.error;
    return nullptr;
  }
  return &loaded.driver;
}

std::string describe(const Driver &d, const char *call, CUresult result) {
  const char *name = nullptr;
  d.cuGetErrorName(result, &name);
  return std::string(call) + " failed: " +
         (name ? name : ("CUDA error " + std::to_string(result)).c_str());
}

CUcontext primaryContext(const Driver &d, int ordinal, std::string *error) {
  static std::mutex mutex;
  static CUcontext contexts[64] = {};
  std::lock_guard<std::mutex> lock(mutex);
  if (ordinal < 0 || ordinal >= 64) {
    *error = "CUDA device ordinal out of range";
    return nullptr;
  }
  if (contexts[ordinal])
    return contexts[ordinal];
  CUdevice device;
  if (CUresult r = d.cuDeviceGet(&device, ordinal)) {
    *error = describe(d, "cuDeviceGet", r);
    return nullptr;
  }
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&contexts[ordinal], device)) {
    *error = describe(d, "cuDevicePrimaryCtxRetain", r);
    return nullptr;
  }
  return contexts[ordinal];
}

} // namespace gecko::rt::cuda
