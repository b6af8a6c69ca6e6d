//===- DeviceTest.cpp - gecko::rt::Device without a GPU -------------------===//
//
// On a machine without the GPU drivers (forced with GECKO_CUDA_DRIVER /
// GECKO_HIP_RUNTIME pointing at a library that does not exist, so the test
// means the same on a GPU machine), asking for CUDA or HIP fails with a
// clear message, and the CPU device works.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Device.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

using namespace gecko::rt;

namespace {

struct NoDrivers : ::testing::Environment {
  void SetUp() override {
    setenv("GECKO_CUDA_DRIVER", "libcuda-absent-for-gecko-tests.so.1", 1);
    setenv("GECKO_HIP_RUNTIME", "libamdhip64-absent-for-gecko-tests.so", 1);
  }
};
const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new NoDrivers);

TEST(Device, MissingCudaDriverIsAClearError) {
  std::string error;
  std::unique_ptr<Device> device = createDevice(DeviceKind::CUDA, 0, &error);
  EXPECT_EQ(device, nullptr);
  EXPECT_NE(error.find("CUDA driver library "
                       "libcuda-absent-for-gecko-tests.so.1 not found"),
            std::string::npos)
      << error;
  // Asking again gives the same answer (the load is attempted once).
  std::string again;
  EXPECT_EQ(createDevice(DeviceKind::CUDA, 1, &again), nullptr);
  EXPECT_EQ(again, error);
}

TEST(Device, MissingHipRuntimeIsAClearError) {
  std::string error;
  EXPECT_EQ(createDevice(DeviceKind::HIP, 0, &error), nullptr);
  EXPECT_NE(error.find("HIP runtime library "
                       "libamdhip64-absent-for-gecko-tests.so not found"),
            std::string::npos)
      << error;
}

TEST(Device, CpuAllocateCopyRoundTrip) {
  std::string error;
  std::unique_ptr<Device> device = createDevice(DeviceKind::CPU, 0, &error);
  ASSERT_NE(device, nullptr) << error;
  EXPECT_EQ(device->kind(), DeviceKind::CPU);
  EXPECT_STREQ(deviceKindName(device->kind()), "cpu");

  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = 0.5f * static_cast<float>(i) - 17.25f;
  void *buffer = nullptr;
  Status s = device->allocate(host.size() * sizeof(float), &buffer);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_NE(buffer, nullptr);
  s = device->copyToDevice(buffer, host.data(), host.size() * sizeof(float));
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> back(host.size(), 0.0f);
  s = device->copyToHost(back.data(), buffer, back.size() * sizeof(float));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, host);
  EXPECT_TRUE(device->synchronize().ok());
  EXPECT_TRUE(device->deallocate(buffer).ok());
}

TEST(Device, CpuModuleErrorsAreReported) {
  std::unique_ptr<Device> device = createDevice(DeviceKind::CPU, 0, nullptr);
  ASSERT_NE(device, nullptr);
  const char notAnElf[] = "definitely not a shared object";
  ModuleHandle module = nullptr;
  Status s = device->loadModule(notAnElf, sizeof(notAnElf), &module);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot load the CPU module"), std::string::npos)
      << s.message();
}

} // namespace
