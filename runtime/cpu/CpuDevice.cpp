//===- CpuDevice.cpp - gecko::rt::Device on the host ----------------------===//
//
// Memory is host memory; a module is a shared object (e.g. from gecko-aot)
// written to a temporary file and dlopen'ed; a kernel is a symbol called
// with MLIR's packed convention `void kernel(void **args)`.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Device.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>

namespace gecko::rt {

std::unique_ptr<Device> createCpuDevice();

namespace {

class CpuDevice final : public Device {
public:
  DeviceKind kind() const override { return DeviceKind::CPU; }
  std::string name() const override { return "cpu"; }

  Status loadModule(const void *image, size_t size,
                    ModuleHandle *module) override {
    const char *tmp = std::getenv("TMPDIR");
    std::string path =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/gecko-module-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0)
      return Status::error("cannot create " + path + ": " +
                           std::strerror(errno));
    const char *bytes = static_cast<const char *>(image);
    size_t written = 0;
    while (written < size) {
      ssize_t n = write(fd, bytes + written, size - written);
      if (n <= 0) {
        int err = errno;
        close(fd);
        unlink(path.c_str());
        return Status::error("cannot write " + path + ": " +
                             std::strerror(err));
      }
      written += static_cast<size_t>(n);
    }
    close(fd);
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    unlink(path.c_str()); // the mapping keeps the file alive
    if (!handle) {
      const char *why = dlerror();
      return Status::error(std::string("cannot load the CPU module: ") +
                           (why ? why : "dlopen failed"));
    }
    *module = handle;
    return Status::success();
  }
  Status unloadModule(ModuleHandle module) override {
    if (dlclose(module) != 0)
      return Status::error("dlclose failed");
    return Status::success();
  }
  Status getKernel(ModuleHandle module, const char *name,
                   KernelHandle *kernel) override {
    void *symbol = dlsym(module, name);
    if (!symbol)
      return Status::error(std::string("kernel ") + name +
                           " not found in the CPU module");
    *kernel = symbol;
    return Status::success();
  }
  Status allocate(size_t bytes, void **ptr) override {
    *ptr = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
    if (!*ptr)
      return Status::error("out of host memory");
    return Status::success();
  }
  Status deallocate(void *ptr) override {
    std::free(ptr);
    return Status::success();
  }
  Status copyToDevice(void *dst, const void *src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return Status::success();
  }
  Status copyToHost(void *dst, const void *src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return Status::success();
  }
  Status launch(KernelHandle kernel, Dim3, Dim3, size_t, void **args) override {
    reinterpret_cast<void (*)(void **)>(kernel)(args);
    return Status::success();
  }
  Status synchronize() override { return Status::success(); }
};

} // namespace

std::unique_ptr<Device> createCpuDevice() {
  return std::make_unique<CpuDevice>();
}

} // namespace gecko::rt
