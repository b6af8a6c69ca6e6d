//===- HipDevice.cpp - gecko::rt::Device on the HIP runtime ---------------===//

#include "HipDriver.h"
#include "gecko/Runtime/Device.h"

namespace gecko::rt {

std::unique_ptr<Device> createHipDevice(int ordinal, std::string *error);

namespace {

using namespace hip;

class HipDevice final : public Device {
public:
  HipDevice(const Driver &d, int ordinal) : d(d), ordinal(ordinal) {}
  DeviceKind kind() const override { return DeviceKind::HIP; }
  std::string name() const override { return "hip:" + std::to_string(ordinal); }

  Status loadModule(const void *image, size_t, ModuleHandle *module) override {
    hipModule_t m = nullptr;
    if (Status s = check("hipModuleLoadData", d.hipModuleLoadData(&m, image));
        !s)
      return s;
    *module = m;
    return Status::success();
  }
  Status unloadModule(ModuleHandle module) override {
    return check("hipModuleUnload",
                 d.hipModuleUnload(static_cast<hipModule_t>(module)));
  }
  Status getKernel(ModuleHandle module, const char *name,
                   KernelHandle *kernel) override {
    hipFunction_t f = nullptr;
    if (Status s = check(
            "hipModuleGetFunction",
            d.hipModuleGetFunction(&f, static_cast<hipModule_t>(module), name));
        !s)
      return s;
    *kernel = f;
    return Status::success();
  }
  Status allocate(size_t bytes, void **ptr) override {
    return check("hipMalloc", d.hipMalloc(ptr, bytes));
  }
  Status deallocate(void *ptr) override {
    return check("hipFree", d.hipFree(ptr));
  }
  Status copyToDevice(void *dst, const void *src, size_t bytes) override {
    return check("hipMemcpy",
                 d.hipMemcpy(dst, src, bytes, hipMemcpyHostToDevice));
  }
  Status copyToHost(void *dst, const void *src, size_t bytes) override {
    return check("hipMemcpy",
                 d.hipMemcpy(dst, src, bytes, hipMemcpyDeviceToHost));
  }
  Status launch(KernelHandle kernel, Dim3 grid, Dim3 block, size_t shared,
                void **args) override {
    return check("hipModuleLaunchKernel",
                 d.hipModuleLaunchKernel(
                     static_cast<hipFunction_t>(kernel), grid.x, grid.y, grid.z,
                     block.x, block.y, block.z, static_cast<unsigned>(shared),
                     nullptr, args, nullptr));
  }
  Status synchronize() override {
    return check("hipDeviceSynchronize", d.hipDeviceSynchronize());
  }

private:
  Status check(const char *call, hipError_t r) const {
    if (r == 0 && d.hipSetDevice(ordinal) == 0)
      return Status::success();
    return Status::error(describe(d, call, r));
  }
  const Driver &d;
  int ordinal;
};

} // namespace

std::unique_ptr<Device> createHipDevice(int ordinal, std::string *error) {
  const Driver *d = driver(error);
  if (!d)
    return nullptr;
  int count = 0;
  if (hipError_t r = d->hipGetDeviceCount(&count)) {
    *error = describe(*d, "hipGetDeviceCount", r);
    return nullptr;
  }
  if (ordinal < 0 || ordinal >= count) {
    *error = "HIP device " + std::to_string(ordinal) + " not present (" +
             std::to_string(count) + " devices)";
    return nullptr;
  }
  if (hipError_t r = d->hipSetDevice(ordinal)) {
    *error = describe(*d, "hipSetDevice", r);
    return nullptr;
  }
  return std::make_unique<HipDevice>(*d, ordinal);
}

} // namespace gecko::rt
