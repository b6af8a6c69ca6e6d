//===- GpuBackend.cpp - Golden cases through a GPU ------------------------===//
//
// Shared by --backend=cuda and --backend=hip. For each case:
//   1. the runtime opens the device (gecko::rt::createDevice): without the
//      driver the case fails here with the runtime's message;
//   2. the case's kernel (CpuKernels.h, the same builders as the cpu
//      backend) becomes func @kernel, lowered by the vendor pipeline
//      (gecko-to-nvvm / gecko-to-rocdl: kernels in a gpu.binary, host code
//      with gpu.launch_func; gecko-host-buffers-to-device puts the host's
//      buffers in managed memory and copies the arguments there);
//   3. the host code is JIT-compiled with libgecko_<vendor>_runtime.so for
//      the mgpu* calls and called on the golden inputs; results (managed
//      memory) are read on the host and freed with mgpuMemFree.
//
//===----------------------------------------------------------------------===//

#include "GpuBackend.h"
#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Execution/KernelRunner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <dlfcn.h>

using namespace llvm;

namespace gecko::conform {

namespace {

/// <directory of this executable>/../lib/<file>.
std::string buildLibrary(StringRef file) {
  static int anchor;
  std::string exe = sys::fs::getMainExecutable("gecko-conform", &anchor);
  SmallString<256> path(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(path, "lib", file);
  return std::string(path);
}

size_t descriptorWords(size_t rank) { return 3 + 2 * rank; }

class GpuBackend : public Backend {
public:
  explicit GpuBackend(GpuVendor vendor) : vendor(std::move(vendor)) {}
  StringRef name() const override { return vendor.name; }

  Error run(const GoldenCase &golden, CaseResults &results) override {
    // 1. The device (fails without the driver, with the runtime's message).
    if (!device) {
      std::string message;
      device = rt::createDevice(vendor.deviceKind, 0, &message);
      if (!device)
        return kernelError(vendor.name + " backend: " + message);
    }
    Expected<Kernel> kernel = makeOpKernel(golden, vendor.name);
    if (!kernel)
      return kernel.takeError();
    auto values = runOnGpu(*kernel);
    if (!values)
      return values.takeError();
    if (values->size() != kernel->outputKeys.size())
      return kernelError("the kernel returned " + Twine(values->size()) +
                         " values for " + Twine(kernel->outputKeys.size()) +
                         " golden keys");
    for (size_t i = 0; i < values->size(); ++i)
      results.add(kernel->outputKeys[i], std::move((*values)[i]));
    return Error::success();
  }

private:
  Expected<std::vector<ref::Tensor>> runOnGpu(const Kernel &kernel);

  GpuVendor vendor;
  std::unique_ptr<rt::Device> device;
};

Expected<std::vector<ref::Tensor>> GpuBackend::runOnGpu(const Kernel &kernel) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::gecko::GeckoDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::string diagnostics;
  raw_string_ostream diagnosticStream(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    diagnosticStream << diag << "\n";
    return mlir::success();
  });

  // func @kernel around the body, as exec::runKernel builds it.
  mlir::OpBuilder b(&context);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  SmallVector<mlir::Type> argumentTypes;
  for (const exec::KernelInput &input : kernel.inputs)
    argumentTypes.push_back(exec::kernelInputType(b, input));
  b.setInsertionPointToEnd(module->getBody());
  auto func = mlir::func::FuncOp::create(b, loc, "kernel",
                                         b.getFunctionType(argumentTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  mlir::Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  SmallVector<mlir::Value> outputs = kernel.body(b, loc, entry->getArguments());
  mlir::func::ReturnOp::create(b, loc, outputs);
  SmallVector<std::vector<int64_t>> resultShapes;
  SmallVector<exec::ElementKind> resultKinds;
  SmallVector<mlir::Type> resultTypes;
  for (mlir::Value v : outputs) {
    auto type = cast<mlir::RankedTensorType>(v.getType());
    resultTypes.push_back(type);
    resultShapes.emplace_back(type.getShape().begin(), type.getShape().end());
    mlir::Type e = type.getElementType();
    resultKinds.push_back(e.isF32()                 ? exec::ElementKind::F32
                          : e.isF16()               ? exec::ElementKind::F16
                          : e.isBF16()              ? exec::ElementKind::BF16
                          : e.isSignlessInteger(64) ? exec::ElementKind::I64
                          : e.isSignlessInteger(1)
                              ? exec::ElementKind::I1
                              : exec::ElementKind::ComplexF32);
  }
  func.setFunctionType(b.getFunctionType(argumentTypes, resultTypes));
  if (mlir::failed(mlir::verify(*module)))
    return kernelError("the kernel IR does not verify:\n" + diagnostics);

  mlir::PassManager pm(&context);
  vendor.buildPipeline(pm);
  if (mlir::failed(pm.run(*module)))
    return kernelError(vendor.name + " pipeline failed:\n" + diagnostics);

  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  auto targetBuilder = orc::JITTargetMachineBuilder::detectHost();
  if (!targetBuilder)
    return targetBuilder.takeError();
  auto targetMachine = targetBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto transformer =
      mlir::makeOptimizingTransformer(2, 0, targetMachine->get());
  std::string runtime = buildLibrary(vendor.runtimeLibrary);
  SmallVector<StringRef> libraries = {runtime};
  mlir::ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.sharedLibPaths = libraries;
  auto engine = mlir::ExecutionEngine::create(*module, engineOptions,
                                              std::move(*targetMachine));
  if (!engine)
    return joinErrors(kernelError("JIT compilation failed:\n" + diagnostics),
                      engine.takeError());
  void *library = dlopen(runtime.c_str(), RTLD_NOW);
  auto memFree = library ? reinterpret_cast<void (*)(void *, void *)>(
                               dlsym(library, "mgpuMemFree"))
                         : nullptr;
  if (!memFree)
    return kernelError("cannot load mgpuMemFree from " + runtime);

  // Arguments: host buffers (the compiled code copies them to managed
  // memory) described by identity-layout memref descriptors.
  std::vector<exec::HostTensor> hostInputs;
  for (const exec::KernelInput &input : kernel.inputs) {
    if (input.isScalar)
      continue;
    auto host = exec::toHostTensor(input);
    if (!host)
      return host.takeError();
    hostInputs.push_back(std::move(*host));
  }
  size_t n = kernel.inputs.size();
  std::vector<std::vector<int64_t>> descriptors(n);
  std::vector<void *> descriptorPointers(n);
  std::vector<int64_t> scalars(n);
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    if (kernel.inputs[i].isScalar) {
      scalars[i] = static_cast<int64_t>(kernel.inputs[i].values[0]);
      continue;
    }
    exec::HostTensor &host = hostInputs[next++];
    std::vector<int64_t> &d = descriptors[i];
    d.assign(descriptorWords(host.shape.size()), 0);
    d[0] = d[1] = reinterpret_cast<intptr_t>(host.bytes.data());
    int64_t stride = 1;
    for (size_t k = host.shape.size(); k-- > 0;) {
      d[3 + k] = host.shape[k];
      d[3 + host.shape.size() + k] = stride;
      stride *= host.shape[k];
    }
    descriptorPointers[i] = d.data();
  }
  size_t resultWords = 0;
  for (const auto &shape : resultShapes)
    resultWords += descriptorWords(shape.size());
  std::vector<int64_t> resultDescriptors(resultWords, 0);
  void *resultPointer = resultDescriptors.data();
  SmallVector<void *> packed = {&resultPointer};
  for (size_t i = 0; i < n; ++i)
    packed.push_back(kernel.inputs[i].isScalar
                         ? static_cast<void *>(&scalars[i])
                         : static_cast<void *>(&descriptorPointers[i]));
  if (Error err = (*engine)->invokePacked("_mlir_ciface_kernel", packed))
    return std::move(err);

  // Results live in managed memory: read them on the host, then free them.
  std::vector<ref::Tensor> values;
  SmallPtrSet<void *, 8> freed;
  size_t word = 0;
  for (size_t r = 0; r < resultShapes.size(); ++r) {
    const std::vector<int64_t> &shape = resultShapes[r];
    const int64_t *d = resultDescriptors.data() + word;
    word += descriptorWords(shape.size());
    size_t size = exec::elementSize(resultKinds[r]);
    exec::HostTensor out{shape, resultKinds[r], {}};
    int64_t count = 1;
    for (int64_t s : shape)
      count *= s;
    out.bytes.resize(count * size);
    auto *aligned = reinterpret_cast<const uint8_t *>(d[1]);
    std::vector<int64_t> index(shape.size(), 0);
    for (int64_t flat = 0; flat < count; ++flat) {
      int64_t position = d[2];
      for (size_t k = 0; k < shape.size(); ++k)
        position += index[k] * d[3 + shape.size() + k];
      std::memcpy(out.bytes.data() + flat * size, aligned + position * size,
                  size);
      for (size_t k = shape.size(); k-- > 0;) {
        if (++index[k] < shape[k])
          break;
        index[k] = 0;
      }
    }
    values.push_back(exec::fromHostTensor(out));
    auto *allocated = reinterpret_cast<void *>(d[0]);
    if (allocated && freed.insert(allocated).second)
      memFree(allocated, nullptr);
  }
  return values;
}

} // namespace

std::unique_ptr<Backend> createGpuBackend(GpuVendor vendor) {
  return std::make_unique<GpuBackend>(std::move(vendor));
}

} // namespace gecko::conform
