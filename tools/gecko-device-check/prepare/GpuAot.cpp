//===- GpuAot.cpp - Ahead-of-time GPU kernels as host shared objects ------===//
//
// gecko-to-nvvm (as gecko-conform --backend=cuda runs it) followed by what
// the JIT would do, but written to disk: LLVM IR of the host code for a
// generic x86-64 CPU, -O2, an object file, a shared object linked by
// clang++ with lld. The object is the same code the JIT path would run: the
// gpu.binary becomes a global holding the fatbin plus a constructor calling
// mgpuModuleLoad, each gpu.launch_func a mgpuModuleGetFunction +
// mgpuLaunchKernel sequence (MLIR's SelectObjectAttr translation).
//
//===----------------------------------------------------------------------===//

#include "GpuAot.h"

#include "gecko/Target/NVIDIA/GeckoToNvvm.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>

using namespace llvm;

namespace gecko::devcheck {

namespace {

Error error(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message.str());
}

/// Runs gecko-to-nvvm{format} on `module`; errors carry the diagnostics.
Error runPipeline(mlir::ModuleOp module, const GpuAotOptions &options,
                  StringRef format) {
  mlir::MLIRContext &context = *module.getContext();
  std::string diagnostics;
  raw_string_ostream os(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    os << d.getLocation() << ": " << d << "\n";
    return mlir::success();
  });
  mlir::PassManager pm(&context);
  mlir::gecko::GeckoToNvvmOptions pipeline;
  pipeline.chip = options.chip;
  pipeline.features = options.features;
  pipeline.format = format.str();
  if (options.tokenTileSize > 0)
    pipeline.tokenTileSize = options.tokenTileSize;
  mlir::gecko::buildGeckoToNvvmPipeline(pm, pipeline);
  if (mlir::failed(pm.run(module)))
    return error("gecko-to-nvvm{format=" + format + "} failed:\n" +
                 diagnostics);
  return Error::success();
}

/// void _gecko_packed_<name>(void **args) calling _mlir_ciface_<name>.
void addPackedWrapper(Module &module, Function &ciface, StringRef name) {
  LLVMContext &context = module.getContext();
  PointerType *ptr = PointerType::getUnqual(context);
  auto *type = FunctionType::get(Type::getVoidTy(context), {ptr}, false);
  Function *wrapper =
      Function::Create(type, GlobalValue::ExternalLinkage, name, module);
  wrapper->setVisibility(GlobalValue::DefaultVisibility);
  IRBuilder<> b(BasicBlock::Create(context, "entry", wrapper));
  SmallVector<Value *> arguments;
  for (Argument &param : ciface.args()) {
    Value *slot =
        b.CreateConstGEP1_64(ptr, wrapper->getArg(0), param.getArgNo(), "slot");
    Value *address = b.CreateLoad(ptr, slot, "address");
    arguments.push_back(b.CreateLoad(param.getType(), address, "value"));
  }
  b.CreateCall(&ciface, arguments);
  b.CreateRetVoid();
}

Expected<std::unique_ptr<TargetMachine>>
hostTargetMachine(const GpuAotOptions &options) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  Triple triple(sys::getProcessTriple());
  std::string lookupError;
  const Target *target = TargetRegistry::lookupTarget(triple, lookupError);
  if (!target)
    return error("no LLVM target for " + triple.str() + ": " + lookupError);
  // The gpu.binary's module load/unload run as global constructors: they
  // must land in .init_array (TargetOptions defaults to .ctors, which
  // neither glibc nor lld runs for a shared object).
  TargetOptions targetOptions;
  targetOptions.UseInitArray = true;
  std::unique_ptr<TargetMachine> machine(target->createTargetMachine(
      triple, options.hostCpu, "", targetOptions, Reloc::PIC_, std::nullopt,
      CodeGenOptLevel::Default));
  if (!machine)
    return error("cannot create a target machine for " + triple.str() +
                 " (cpu '" + options.hostCpu + "')");
  return machine;
}

Error link(StringRef objectPath, StringRef libraryPath,
           const GpuAotOptions &options) {
  auto linker = sys::findProgramByName(options.linker);
  if (!linker)
    return error("cannot find the linker '" + options.linker +
                 "' in PATH: " + linker.getError().message());
  SmallString<128> logPath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("gecko-device-link", "log", logPath))
    return error("cannot create a temporary file: " + ec.message());
  FileRemover removeLog(logPath);
  // No -z defs: the mgpu* entry points come from libgecko_cuda_runtime,
  // loaded RTLD_GLOBAL by the run driver (checked below instead).
  SmallVector<StringRef> arguments = {*linker,
                                      "-shared",
                                      "-fuse-ld=lld",
                                      "-Wl,--as-needed",
                                      "-Wl,-z,noexecstack",
                                      "-o",
                                      libraryPath,
                                      objectPath};
  std::optional<StringRef> redirects[] = {std::nullopt, logPath.str(),
                                          logPath.str()};
  std::string executionError;
  int status = sys::ExecuteAndWait(*linker, arguments, std::nullopt, redirects,
                                   0, 0, &executionError);
  if (status != 0) {
    std::string log;
    if (auto buffer = MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().str();
    return error("linking with " + *linker + " failed (status " +
                 Twine(status) + ")" +
                 (executionError.empty() ? "" : ": " + executionError) +
                 (log.empty() ? "" : ":\n" + log));
  }
  return Error::success();
}

Expected<std::vector<std::string>> undefinedSymbols(StringRef path) {
  auto binary = object::ObjectFile::createObjectFile(path);
  if (!binary)
    return binary.takeError();
  auto *elf = dyn_cast<object::ELFObjectFileBase>(binary->getBinary());
  if (!elf)
    return error(path + " is not an ELF file");
  std::vector<std::string> names;
  for (const object::ELFSymbolRef &symbol : elf->getDynamicSymbolIterators()) {
    Expected<uint32_t> flags = symbol.getFlags();
    if (!flags)
      return flags.takeError();
    if (!(*flags & object::SymbolRef::SF_Undefined) ||
        (*flags & object::SymbolRef::SF_Weak))
      continue;
    Expected<StringRef> name = symbol.getName();
    if (!name)
      return name.takeError();
    if (!name->empty())
      names.push_back(name->str());
  }
  llvm::sort(names);
  return names;
}

} // namespace

bool isAllowedUndefinedSymbol(StringRef symbol) {
  static const StringSet<> libc = {
      "malloc", "free", "calloc", "realloc", "aligned_alloc", "posix_memalign",
      "memcpy", "memmove", "memset", "abort", "__cxa_finalize", "__cxa_atexit",
      "atexit",
      // Strided host copies (libmlir_c_runner_utils upstream); the run
      // driver exports it (runner/MemrefCopy.cpp).
      "memrefCopy"};
  return symbol.starts_with("mgpu") || libc.contains(symbol);
}

Expected<GpuAotResult> compileGpuLibrary(mlir::ModuleOp module,
                                         StringRef libraryPath,
                                         const GpuAotOptions &options) {
  GpuAotResult result;
  if (options.keepPtx) {
    mlir::OwningOpRef<mlir::ModuleOp> copy = module.clone();
    if (Error err = runPipeline(*copy, options, "isa"))
      return std::move(err);
    copy->walk([&](mlir::gpu::BinaryOp binary) {
      for (mlir::Attribute attr : binary.getObjects())
        if (auto object = dyn_cast<mlir::gpu::ObjectAttr>(attr))
          result.ptx.emplace_back(binary.getSymName().str(),
                                  object.getObject().getValue().str());
    });
  }
  if (Error err = runPipeline(module, options, options.format))
    return std::move(err);
  StringSet<> seen;
  module.walk([&](mlir::gpu::LaunchFuncOp launch) {
    std::string name = (launch.getKernelModuleName().getValue() +
                        "::" + launch.getKernelName().getValue())
                           .str();
    if (seen.insert(name).second)
      result.kernels.push_back(name);
  });

  auto machine = hostTargetMachine(options);
  if (!machine)
    return machine.takeError();
  LLVMContext llvmContext;
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, llvmContext, "gecko-device-check");
  if (!llvmModule)
    return error("translation of the host code to LLVM IR failed");
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  SmallVector<Function *> entries;
  for (Function &function : *llvmModule)
    if (!function.isDeclaration() &&
        function.getName().starts_with("_mlir_ciface_"))
      entries.push_back(&function);
  if (entries.empty())
    return error("the module has no _mlir_ciface_ entry");
  for (Function *entry : entries)
    addPackedWrapper(*llvmModule, *entry,
                     ("_gecko_packed_" +
                      entry->getName().drop_front(strlen("_mlir_ciface_")))
                         .str());
  auto optimize = mlir::makeOptimizingTransformer(2, 0, machine->get());
  if (Error err = optimize(llvmModule.get()))
    return std::move(err);
  if (verifyModule(*llvmModule, &errs()))
    return error("the host LLVM module does not verify");

  SmallVector<char, 0> object;
  {
    raw_svector_ostream stream(object);
    legacy::PassManager codegen;
    if ((*machine)->addPassesToEmitFile(codegen, stream, nullptr,
                                        CodeGenFileType::ObjectFile))
      return error("the host target cannot emit object files");
    codegen.run(*llvmModule);
  }
  SmallString<128> objectPath;
  int objectFd;
  if (std::error_code ec = sys::fs::createTemporaryFile(
          "gecko-device-check", "o", objectFd, objectPath))
    return error("cannot create a temporary file: " + ec.message());
  FileRemover removeObject(objectPath);
  {
    raw_fd_ostream os(objectFd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    os.close();
    if (os.has_error())
      return error("cannot write " + objectPath + ": " + os.error().message());
  }
  SmallString<128> temporary;
  if (std::error_code ec =
          sys::fs::createUniqueFile(libraryPath + ".tmp-%%%%%%", temporary))
    return error("cannot create a file next to '" + libraryPath +
                 "': " + ec.message());
  FileRemover removeTemporary(temporary);
  if (Error err = link(objectPath, temporary, options))
    return std::move(err);
  auto undefined = undefinedSymbols(temporary);
  if (!undefined)
    return undefined.takeError();
  for (const std::string &symbol : *undefined)
    if (!isAllowedUndefinedSymbol(symbol))
      return error("the kernel library needs '" + symbol +
                   "', which neither libgecko_cuda_runtime (mgpu*), the run "
                   "driver (memrefCopy) nor the C library provides");
  result.undefinedSymbols = std::move(*undefined);
  if (std::error_code ec = sys::fs::rename(temporary, libraryPath))
    return error("cannot rename " + temporary + " to '" + libraryPath +
                 "': " + ec.message());
  removeTemporary.releaseFile();
  return result;
}

} // namespace gecko::devcheck
