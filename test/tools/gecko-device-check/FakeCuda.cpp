//===- FakeCuda.cpp - A fake CUDA driver for GPU-less tests ---------------===//
//
// Implements the driver entry points the runtime (runtime/cuda) and
// gecko-device-run resolve, so that the whole run path (module load from
// the embedded image, kernel lookup by name, launches, managed memory,
// events) executes on a machine without a GPU. Kernels do not run: results
// stay zero. Checks that a loaded image is a fatbin / ELF cubin / PTX and
// that every looked-up kernel name occurs in it. Environment:
//   FAKE_CUDA_LOG=PATH       append "load ...", "launch <kernel> grid
//                            X,Y,Z block X,Y,Z smem N" lines
//   FAKE_CUDA_NO_DEVICE=1    cuInit fails with CUDA_ERROR_NO_DEVICE
//   FAKE_CUDA_FAIL_LAUNCH=1  every launch fails (CUDA_ERROR_LAUNCH_FAILED)
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

enum : int {
  Success = 0,
  InvalidValue = 1,
  NoDevice = 100,
  InvalidImage = 200,
  InvalidHandle = 400,
  NotFound = 500,
  LaunchFailed = 719,
};

struct Module {
  const uint8_t *image;
  size_t size;
};

struct Function {
  std::string name;
};

void log(const std::string &line) {
  const char *path = std::getenv("FAKE_CUDA_LOG");
  if (!path || !*path)
    return;
  if (FILE *f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
}

bool flag(const char *name) {
  const char *v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

} // namespace

#define FAKE extern "C" __attribute__((visibility("default"))) int

FAKE cuInit(unsigned) { return flag("FAKE_CUDA_NO_DEVICE") ? NoDevice : 0; }
FAKE cuDriverGetVersion(int *v) {
  *v = 12040;
  return 0;
}
FAKE cuDeviceGetCount(int *n) {
  *n = 1;
  return 0;
}
FAKE cuDeviceGet(int *d, int ordinal) {
  *d = ordinal;
  return ordinal == 0 ? 0 : InvalidValue;
}
FAKE cuDeviceGetName(char *name, int length, int) {
  std::snprintf(name, length, "Fake GPU (gecko tests)");
  return 0;
}
FAKE cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return 0;
}
FAKE cuCtxPushCurrent_v2(void *) { return 0; }
FAKE cuCtxPopCurrent_v2(void **) { return 0; }
FAKE cuCtxSynchronize() { return 0; }

FAKE cuModuleLoadData(void **module, const void *image) {
  auto *bytes = static_cast<const uint8_t *>(image);
  uint32_t magic;
  std::memcpy(&magic, bytes, 4);
  size_t size = 0;
  const char *kind = "";
  if (magic == 0xBA55ED50u) { // fatbin: u32 magic, u16 version, u16 header,
    uint64_t body;            // u64 body size
    uint16_t header;
    std::memcpy(&header, bytes + 6, 2);
    std::memcpy(&body, bytes + 8, 8);
    size = header + body;
    kind = "fatbin";
  } else if (std::memcmp(bytes,
                         "\x7f"
                         "ELF",
                         4) == 0) {
    uint64_t sectionOffset; // e_shoff + e_shnum * e_shentsize bounds it
    uint16_t entrySize, count;
    std::memcpy(&sectionOffset, bytes + 0x28, 8);
    std::memcpy(&entrySize, bytes + 0x3A, 2);
    std::memcpy(&count, bytes + 0x3C, 2);
    size = sectionOffset + size_t(entrySize) * count;
    kind = "cubin";
  } else if (std::strstr(static_cast<const char *>(image), ".version")) {
    size = std::strlen(static_cast<const char *>(image));
    kind = "ptx";
  } else {
    log("load invalid image");
    return InvalidImage;
  }
  *module = new Module{bytes, size};
  log(std::string("load ") + kind + " " + std::to_string(size) + " bytes");
  return 0;
}
FAKE cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return 0;
}
FAKE cuModuleGetFunction(void **function, void *module, const char *name) {
  auto *m = static_cast<Module *>(module);
  if (!m) {
    log(std::string("no module for ") + name);
    return InvalidHandle;
  }
  size_t n = std::strlen(name);
  bool found = false;
  for (size_t i = 0; !found && i + n <= m->size; ++i)
    found = std::memcmp(m->image + i, name, n) == 0;
  if (!found) {
    log(std::string("no kernel ") + name);
    return NotFound;
  }
  *function = new Function{name}; // leaked: handles live with the module
  return 0;
}
FAKE cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                    unsigned bx, unsigned by, unsigned bz, unsigned smem,
                    void *, void **, void **) {
  if (flag("FAKE_CUDA_FAIL_LAUNCH"))
    return LaunchFailed;
  char line[512];
  std::snprintf(line, sizeof line,
                "launch %s grid %u,%u,%u block %u,%u,%u "
                "smem %u",
                static_cast<Function *>(function)->name.c_str(), gx, gy, gz, bx,
                by, bz, smem);
  log(line);
  return 0;
}

FAKE cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  *ptr = reinterpret_cast<uintptr_t>(std::calloc(1, bytes));
  return *ptr ? 0 : InvalidValue;
}
FAKE cuMemAllocManaged(unsigned long long *ptr, size_t bytes, unsigned) {
  return cuMemAlloc_v2(ptr, bytes);
}
FAKE cuMemFree_v2(unsigned long long ptr) {
  std::free(reinterpret_cast<void *>(ptr));
  return 0;
}
FAKE cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return 0;
}
FAKE cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
  std::memcpy(dst, reinterpret_cast<void *>(src), n);
  return 0;
}
FAKE cuMemcpyAsync(unsigned long long dst, unsigned long long src, size_t n,
                   void *) {
  std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), n);
  return 0;
}
FAKE cuMemsetD32Async(unsigned long long dst, unsigned value, size_t n,
                      void *) {
  auto *p = reinterpret_cast<uint32_t *>(dst);
  for (size_t i = 0; i < n; ++i)
    p[i] = value;
  return 0;
}
FAKE cuMemsetD16Async(unsigned long long dst, unsigned short value, size_t n,
                      void *) {
  auto *p = reinterpret_cast<uint16_t *>(dst);
  for (size_t i = 0; i < n; ++i)
    p[i] = value;
  return 0;
}

FAKE cuStreamCreate(void **stream, unsigned) {
  static int s;
  *stream = &s;
  return 0;
}
FAKE cuStreamDestroy_v2(void *) { return 0; }
FAKE cuStreamSynchronize(void *) { return 0; }
FAKE cuStreamWaitEvent(void *, void *, unsigned) { return 0; }
FAKE cuEventCreate(void **event, unsigned) {
  static int e[2];
  static int next;
  *event = &e[next++ % 2];
  return 0;
}
FAKE cuEventDestroy_v2(void *) { return 0; }
FAKE cuEventRecord(void *, void *) { return 0; }
FAKE cuEventSynchronize(void *) { return 0; }
FAKE cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0.001f;
  return 0;
}
FAKE cuGetErrorName(int code, const char **name) {
  switch (code) {
  case NoDevice:
    *name = "CUDA_ERROR_NO_DEVICE";
    return 0;
  case InvalidImage:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    return 0;
  case InvalidHandle:
    *name = "CUDA_ERROR_INVALID_HANDLE";
    return 0;
  case NotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    return 0;
  case LaunchFailed:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    return 0;
  default:
    *name = nullptr;
    return InvalidValue;
  }
}
