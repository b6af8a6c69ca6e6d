//===- Device.cpp - Device factory ----------------------------------------===//

#include "gecko/Runtime/Device.h"

namespace gecko::rt {

std::unique_ptr<Device> createCpuDevice();
std::unique_ptr<Device> createCudaDevice(int ordinal, std::string *error);
std::unique_ptr<Device> createHipDevice(int ordinal, std::string *error);

Device::~Device() = default;

const char *deviceKindName(DeviceKind kind) {
  switch (kind) {
  case DeviceKind::CPU:
    return "cpu";
  case DeviceKind::CUDA:
    return "cuda";
  case DeviceKind::HIP:
    return "hip";
  }
  return "unknown";
}

std::unique_ptr<Device> createDevice(DeviceKind kind, int ordinal,
                                     std::string *error) {
  std::string ignored;
  if (!error)
    error = &ignored;
  switch (kind) {
  case DeviceKind::CPU:
    return createCpuDevice();
  case DeviceKind::CUDA:
    return createCudaDevice(ordinal, error);
  case DeviceKind::HIP:
    return createHipDevice(ordinal, error);
  }
  *error = "unknown device kind";
  return nullptr;
}

} // namespace gecko::rt
