//===- CudaDevice.cpp - gecko::rt::Device on the CUDA driver API ----------===//

#include "CudaDriver.h"
#include "gecko/Runtime/Device.h"

namespace gecko::rt {

std::unique_ptr<Device> createCudaDevice(int ordinal, std::string *error);

namespace {

using namespace cuda;

class CudaDevice final : public Device {
public:
  CudaDevice(const Driver &d, CUcontext ctx, int ordinal)
      : d(d), ctx(ctx), ordinal(ordinal) {}
  DeviceKind kind() const override { return DeviceKind::CUDA; }
  std::string name() const override {
    char buffer[256] = {};
    CUdevice device;
    if (d.cuDeviceGet(&device, ordinal) ||
        d.cuDeviceGetName(buffer, sizeof(buffer) - 1, device))
      return "cuda:" + std::to_string(ordinal);
    return buffer;
  }

  Status loadModule(const void *image, size_t, ModuleHandle *module) override {
    Scope s(*this);
    CUmodule m = nullptr;
    if (CUresult r = d.cuModuleLoadData(&m, image))
      return fail("cuModuleLoadData", r);
    *module = m;
    return Status::success();
  }
  Status unloadModule(ModuleHandle module) override {
    Scope s(*this);
    if (CUresult r = d.cuModuleUnload(static_cast<CUmodule>(module)))
      return fail("cuModuleUnload", r);
    return Status::success();
  }
  Status getKernel(ModuleHandle module, const char *name,
                   KernelHandle *kernel) override {
    Scope s(*this);
    CUfunction f = nullptr;
    if (CUresult r =
            d.cuModuleGetFunction(&f, static_cast<CUmodule>(module), name))
      return fail("cuModuleGetFunction", r);
    *kernel = f;
    return Status::success();
  }
  Status allocate(size_t bytes, void **ptr) override {
    Scope s(*this);
    CUdeviceptr p = 0;
    if (CUresult r = d.cuMemAlloc(&p, bytes))
      return fail("cuMemAlloc", r);
    *ptr = reinterpret_cast<void *>(p);
    return Status::success();
  }
  Status deallocate(void *ptr) override {
    Scope s(*this);
    if (CUresult r = d.cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)))
      return fail("cuMemFree", r);
    return Status::success();
  }
  Status copyToDevice(void *dst, const void *src, size_t bytes) override {
    Scope s(*this);
    if (CUresult r =
            d.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes))
      return fail("cuMemcpyHtoD", r);
    return Status::success();
  }
  Status copyToHost(void *dst, const void *src, size_t bytes) override {
    Scope s(*this);
    if (CUresult r = d.cuMemcpyDtoH(
            dst, reinterpret_cast<CUdeviceptr>(const_cast<void *>(src)), bytes))
      return fail("cuMemcpyDtoH", r);
    return Status::success();
  }
  Status launch(KernelHandle kernel, Dim3 grid, Dim3 block, size_t shared,
                void **args) override {
    Scope s(*this);
    if (CUresult r = d.cuLaunchKernel(static_cast<CUfunction>(kernel), grid.x,
                                      grid.y, grid.z, block.x, block.y, block.z,
                                      static_cast<unsigned>(shared), nullptr,
                                      args, nullptr))
      return fail("cuLaunchKernel", r);
    return Status::success();
  }
  Status synchronize() override {
    Scope s(*this);
    if (CUresult r = d.cuCtxSynchronize())
      return fail("cuCtxSynchronize", r);
    return Status::success();
  }

private:
  struct Scope {
    explicit Scope(CudaDevice &dev) : dev(dev) {
      dev.d.cuCtxPushCurrent(dev.ctx);
    }
    ~Scope() { dev.d.cuCtxPopCurrent(nullptr); }
    CudaDevice &dev;
  };
  Status fail(const char *call, CUresult r) const {
    return Status::error(describe(d, call, r));
  }
  const Driver &d;
  CUcontext ctx;
  int ordinal;
};

} // namespace

std::unique_ptr<Device> createCudaDevice(int ordinal, std::string *error) {
  const Driver *d = driver(error);
  if (!d)
    return nullptr;
  CUcontext ctx = primaryContext(*d, ordinal, error);
  if (!ctx)
    return nullptr;
  return std::make_unique<CudaDevice>(*d, ctx, ordinal);
}

} // namespace gecko::rt
