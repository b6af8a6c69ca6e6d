//===- HipDriver.cpp - The HIP runtime API, dlopen'ed ---------------------===//

#include "HipDriver.h"

#include <cstdlib>
#include <dlfcn.h>

namespace gecko::rt::hip {

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
    error = std::string("HIP runtime library lacks ") + symbol;
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

Loaded load() {
  Loaded l;
  // GECKO_HIP_RUNTIME overrides the library name (tests use it to simulate
  // a machine without ROCm).
  const char *name = std::getenv("GECKO_HIP_RUNTIME");
  if (!name || !*name)
    name = "libamdhip64.so";
  void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    l.error = std::string("HIP runtime library ") + name + " not found (" +
              (why ? why : "dlopen failed") + ")";
    return l;
  }
  Driver &d = l.driver;
  std::string &e = l.error;
  l.ok =
      resolve(lib, "hipInit", d.hipInit, e) &&
      resolve(lib, "hipSetDevice", d.hipSetDevice, e) &&
      resolve(lib, "hipGetDeviceCount", d.hipGetDeviceCount, e) &&
      resolve(lib, "hipDeviceSynchronize", d.hipDeviceSynchronize, e) &&
      resolve(lib, "hipModuleLoadData", d.hipModuleLoadData, e) &&
      resolve(lib, "hipModuleUnload", d.hipModuleUnload, e) &&
      resolve(lib, "hipModuleGetFunction", d.hipModuleGetFunction, e) &&
      resolve(lib, "hipModuleLaunchKernel", d.hipModuleLaunchKernel, e) &&
      resolve(lib, "hipMalloc", d.hipMalloc, e) &&
      resolve(lib, "hipMallocManaged", d.hipMallocManaged, e) &&
      resolve(lib, "hipFree", d.hipFree, e) &&
      resolve(lib, "hipMemcpy", d.hipMemcpy, e) &&
      resolve(lib, "hipMemcpyAsync", d.hipMemcpyAsync, e) &&
      resolve(lib, "hipMemsetD32Async", d.hipMemsetD32Async, e) &&
      resolve(lib, "hipMemsetD16Async", d.hipMemsetD16Async, e) &&
      resolve(lib, "hipStreamCreate", d.hipStreamCreate, e) &&
      resolve(lib, "hipStreamDestroy", d.hipStreamDestroy, e) &&
      resolve(lib, "hipStreamSynchronize", d.hipStreamSynchronize, e) &&
      resolve(lib, "hipStreamWaitEvent", d.hipStreamWaitEvent, e) &&
      resolve(lib, "hipEventCreateWithFlags", d.hipEventCreateWithFlags, e) &&
      resolve(lib, "hipEventDestroy", d.hipEventDestroy, e) &&
      resolve(lib, "hipEventRecord", d.hipEventRecord, e) &&
      resolve(lib, "hipEventSynchronize", d.hipEventSynchronize, e) &&
      resolve(lib, "hipGetErrorName", d.hipGetErrorName, e);
  if (l.ok) {
    if (hipError_t r = d.hipInit(0)) {
      l.ok = false;
      l.error = describe(d, "hipInit", r);
    }
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

std::string describe(const Driver &d, const char *call, hipError_t result) {
  const char *name = d.hipGetErrorName(result);
  return std::string(call) + " failed: " +
         (name ? std::string(name) : "HIP error " + std::to_string(result));
}

} // namespace gecko::rt::hip
