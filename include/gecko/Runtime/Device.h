//===- Device.h - A thin device interface (CPU, CUDA, HIP) --------*- C++
//-*-===//
//
// Loads a device binary (a CPU shared object, a cubin/fatbin, an hsaco),
// looks kernels up, moves memory and launches. The runtime links neither
// MLIR nor LLVM; the CUDA and HIP backends dlopen libcuda.so.1 /
// libamdhip64.so on first use, so one build runs with or without them and
// reports a missing driver as an error, not a link failure. No exceptions:
// every call returns a Status.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_DEVICE_H
#define GECKO_RUNTIME_DEVICE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gecko::rt {

enum class DeviceKind { CPU, CUDA, HIP };

/// "cpu", "cuda", "hip".
const char *deviceKindName(DeviceKind kind);

/// Success, or a message saying what failed.
class Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.text = std::move(message);
    return s;
  }
  bool ok() const { return !failed; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return text; }

private:
  bool failed = false;
  std::string text;
};

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

/// Opaque handles owned by the device that returned them.
using ModuleHandle = void *;
using KernelHandle = void *;

class Device {
public:
  virtual ~Device();
  virtual DeviceKind kind() const = 0;
  /// Human-readable: the driver's device name where available.
  virtual std::string name() const = 0;

  /// Loads a device binary: a cubin/fatbin/PTX image (CUDA), an hsaco (HIP),
  /// or a shared object (CPU; its kernels use MLIR's packed calling
  /// convention `void kernel(void **args)`).
  virtual Status loadModule(const void *image, size_t size,
                            ModuleHandle *module) = 0;
  virtual Status unloadModule(ModuleHandle module) = 0;
  virtual Status getKernel(ModuleHandle module, const char *name,
                           KernelHandle *kernel) = 0;

  virtual Status allocate(size_t bytes, void **devicePtr) = 0;
  virtual Status deallocate(void *devicePtr) = 0;
  virtual Status copyToDevice(void *devicePtr, const void *hostPtr,
                              size_t bytes) = 0;
  virtual Status copyToHost(void *hostPtr, const void *devicePtr,
                            size_t bytes) = 0;

  /// `args[i]` points at the value of kernel argument i. Kernels launched on
  /// the CPU ignore the grid/block sizes.
  virtual Status launch(KernelHandle kernel, Dim3 grid, Dim3 block,
                        size_t sharedBytes, void **args) = 0;
  virtual Status synchronize() = 0;
};

/// Creates a device of `kind` (`ordinal` selects the GPU). On failure
/// returns null and sets `error`, e.g. "CUDA driver library libcuda.so.1
/// not found (...)".
std::unique_ptr<Device> createDevice(DeviceKind kind, int ordinal,
                                     std::string *error);

} // namespace gecko::rt

#endif // GECKO_RUNTIME_DEVICE_H
