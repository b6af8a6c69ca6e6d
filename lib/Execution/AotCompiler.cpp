//===- AotCompiler.cpp - Ahead-of-time compilation of gecko IR ------------===//
//
// The same lowering as the JIT (CpuJit.cpp), but the optimised LLVM module is
// compiled with a host TargetMachine built here: the triple, CPU name and
// feature string are set explicitly (without them LLVM IR from MLIR is
// optimised and code-generated for generic x86-64, about 2.4x slower, see
// shared/notes/mlir22-recipes.md §1), relocations are PIC so that the object
// links into a shared library. With emitPackedInterface, `_gecko_packed_*`
// wrappers (one `void **` argument) are added to the translated module with
// IRBuilder before it is optimised.
//
//===----------------------------------------------------------------------===//

#include "gecko/Execution/AotCompiler.h"

#include "gecko/Conversion/GeckoToCpu.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace gecko::exec {

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// The host's features as a "+a,-b" string (what -march=native enables).
std::string hostFeatures() {
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures()) {
    if (!features.empty())
      features += ",";
    features += (feature.second ? "+" : "-") + feature.first().str();
  }
  return features;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const AotOptions &options) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  AotTarget resolved = resolveTarget(options);
  llvm::Triple triple(resolved.triple);
  std::string lookupError;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target)
    return error("no LLVM target for " + triple.str() + ": " + lookupError);
  llvm::CodeGenOptLevel level = llvm::CodeGenOptLevel::Default;
  if (options.optLevel == 0)
    level = llvm::CodeGenOptLevel::None;
  else if (options.optLevel == 1)
    level = llvm::CodeGenOptLevel::Less;
  else if (options.optLevel >= 3)
    level = llvm::CodeGenOptLevel::Aggressive;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, resolved.cpu, resolved.features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, level));
  if (!machine)
    return error("cannot create a target machine for " + triple.str() +
                 " (cpu '" + resolved.cpu + "')");
  return machine;
}

/// Hands the module to AotOptions::afterMlirStage after
/// gecko-convert-to-linalg.
class LinalgStageObserver : public mlir::PassInstrumentation {
public:
  explicit LinalgStageObserver(const AotOptions &options) : options(options) {}
  void runAfterPass(mlir::Pass *pass, mlir::Operation *op) override {
    if (pass->getArgument() != "gecko-convert-to-linalg")
      return;
    if (auto module = llvm::dyn_cast<mlir::ModuleOp>(op))
      options.afterMlirStage("linalg", module);
  }

private:
  const AotOptions &options;
};

constexpr llvm::StringLiteral kCInterfacePrefix = "_mlir_ciface_";
constexpr llvm::StringLiteral kPackedPrefix = "_gecko_packed_";

/// Adds `void _gecko_packed_<name>(void **args)` for every defined
/// `_mlir_ciface_<name>` whose func.func had `argCounts[name]` arguments:
/// args[0] is the result storage (passed on as the C interface's leading
/// result pointer, or receiving its return value), args[1 + i] points to
/// the value of argument i (a descriptor pointer or a scalar).
llvm::Error addPackedInterface(llvm::Module &module,
                               const llvm::StringMap<unsigned> &argCounts) {
  llvm::LLVMContext &context = module.getContext();
  llvm::PointerType *ptrType = llvm::PointerType::getUnqual(context);
  llvm::SmallVector<llvm::Function *> interfaces;
  for (llvm::Function &function : module)
    if (!function.isDeclaration() &&
        function.getName().starts_with(kCInterfacePrefix))
      interfaces.push_back(&function);
  for (llvm::Function *callee : interfaces) {
    llvm::StringRef name =
        callee->getName().drop_front(kCInterfacePrefix.size());
    auto count = argCounts.find(name);
    if (count == argCounts.end())
      continue;
    unsigned numParams = callee->arg_size();
    bool resultPointer = numParams == count->second + 1;
    if (!resultPointer && numParams != count->second)
      return error("cannot wrap " + callee->getName() + ": " +
                   llvm::Twine(numParams) + " parameters for " +
                   llvm::Twine(count->second) + " arguments");
    std::string packedName = (kPackedPrefix + name).str();
    if (module.getFunction(packedName))
      return error("the module already defines " + packedName);
    auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                         {ptrType}, /*isVarArg=*/false);
    llvm::Function *packed = llvm::Function::Create(
        type, llvm::GlobalValue::ExternalLinkage, packedName, module);
    packed->setVisibility(llvm::GlobalValue::DefaultVisibility);
    packed->getArg(0)->setName("args");
    llvm::IRBuilder<> builder(
        llvm::BasicBlock::Create(context, "entry", packed));
    auto slot = [&](unsigned index) -> llvm::Value * {
      llvm::Value *address =
          builder.CreateConstInBoundsGEP1_64(ptrType, packed->getArg(0), index);
      return builder.CreateLoad(ptrType, address);
    };
    llvm::SmallVector<llvm::Value *> callArgs;
    if (resultPointer)
      callArgs.push_back(slot(0));
    for (unsigned i = 0; i < count->second; ++i) {
      llvm::Type *paramType = callee->getArg(callArgs.size())->getType();
      callArgs.push_back(builder.CreateLoad(paramType, slot(1 + i)));
    }
    llvm::CallInst *call = builder.CreateCall(callee, callArgs);
    if (!callee->getReturnType()->isVoidTy())
      builder.CreateStore(call, slot(0));
    builder.CreateRetVoid();
  }
  return llvm::Error::success();
}

void registerLoweringDialects(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  context.appendDialectRegistry(registry);
}

/// gecko-to-cpu + translation + the -O<n> pipeline for `machine`.
llvm::Expected<std::unique_ptr<llvm::Module>>
lowerAndOptimize(mlir::ModuleOp module, llvm::LLVMContext &context,
                 llvm::TargetMachine &machine, const AotOptions &options) {
  if (options.emitCInterface) {
    mlir::Builder builder(module.getContext());
    for (auto func : module.getOps<mlir::func::FuncOp>())
      if (func.isPublic() && !func.isDeclaration())
        func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  }
  // The argument counts of the C-interface entries, for the packed wrappers.
  llvm::StringMap<unsigned> argCounts;
  for (auto func : module.getOps<mlir::func::FuncOp>())
    if (func->hasAttr("llvm.emit_c_interface") && !func.isDeclaration())
      argCounts[func.getSymName()] = func.getNumArguments();

  mlir::MLIRContext &mlirContext = *module.getContext();
  std::string diagnostics;
  llvm::raw_string_ostream diagnosticStream(diagnostics);
  mlir::ScopedDiagnosticHandler handler(
      &mlirContext, [&](mlir::Diagnostic &diag) {
        diagnosticStream << diag.getLocation() << ": " << diag << "\n";
        for (const mlir::Diagnostic &note : diag.getNotes())
          diagnosticStream << note.getLocation() << ": note: " << note << "\n";
        return mlir::success();
      });

  registerLoweringDialects(mlirContext);
  mlir::PassManager pm(&mlirContext);
  mlir::gecko::GeckoToCpuOptions pipeline;
  pipeline.batchTileSize = options.batchTileSize;
  pipeline.tokenTileSize = options.tokenTileSize;
  pipeline.tsnChunkSize = options.tsnChunkSize;
  pipeline.cemaChunkSize = options.cemaChunkSize;
  pipeline.cemaChannelBlock = options.cemaChannelBlock;
  pipeline.attentionQueryTile = options.attentionQueryTile;
  pipeline.attentionKeyTile = options.attentionKeyTile;
  pipeline.linearColumnTile = options.linearColumnTile;
  pipeline.fuseAttention = options.fuseAttention;
  pipeline.fuseNormEma = options.fuseNormEma;
  pipeline.vectorize = options.vectorize;
  pipeline.vectorInnerTile = options.vectorInnerTile;
  pipeline.contractionMTile = options.contractionMTile;
  pipeline.contractionNTile = options.contractionNTile;
  mlir::gecko::buildGeckoToCpuPipeline(pm, pipeline);
  if (options.afterMlirStage)
    pm.addInstrumentation(std::make_unique<LinalgStageObserver>(options));
  if (mlir::failed(pm.run(module)))
    return error("gecko-to-cpu failed:\n" + diagnostics);
  if (options.afterMlirStage)
    options.afterMlirStage("llvm-dialect", module);

  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "gecko");
  if (!llvmModule)
    return error("translation to LLVM IR failed:\n" + diagnostics);
  llvmModule->setTargetTriple(machine.getTargetTriple());
  llvmModule->setDataLayout(machine.createDataLayout());
  if (options.emitPackedInterface)
    if (llvm::Error err = addPackedInterface(*llvmModule, argCounts))
      return std::move(err);
  if (options.onStageDone)
    options.onStageDone("lower to LLVM");
  // Make the CPU/features visible to the IR optimiser's cost models too.
  for (llvm::Function &function : *llvmModule) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", machine.getTargetCPU());
    function.addFnAttr("target-features", machine.getTargetFeatureString());
  }
  auto optimize =
      mlir::makeOptimizingTransformer(options.optLevel, 0, &machine);
  if (llvm::Error err = optimize(llvmModule.get()))
    return std::move(err);
  if (llvm::verifyModule(*llvmModule, &llvm::errs()))
    return error("the optimised LLVM module does not verify");
  if (options.afterLlvmStage)
    options.afterLlvmStage("llvm-ir", *llvmModule);
  return llvmModule;
}

llvm::Error emitObject(llvm::Module &llvmModule, llvm::TargetMachine &machine,
                       llvm::SmallVectorImpl<char> &object) {
  llvm::raw_svector_ostream stream(object);
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, stream, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return error("the target cannot emit object files");
  codegen.run(llvmModule);
  return llvm::Error::success();
}

/// Links `objectPath` into a shared library at `libraryPath`.
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef libraryPath,
                              const AotOptions &options) {
  auto linker = llvm::sys::findProgramByName(options.linker);
  if (!linker)
    return error("cannot find the linker '" + options.linker +
                 "' in PATH: " + linker.getError().message());
  llvm::SmallString<128> logPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("gecko-aot-link", "log", logPath))
    return error("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeLog(logPath);
  // libomp for the __kmpc_* calls of the OpenMP loops; the MLIR C runner
  // utilities for memrefCopy of non-contiguous copies (dropped when unused).
  std::string libDir = GECKO_LLVM_LIBRARY_DIR;
  std::string libDirFlag = "-L" + libDir;
  std::string rpathFlag = "-Wl,-rpath," + libDir;
  // --as-needed also drops the C++ runtime the driver adds by default.
  llvm::SmallVector<llvm::StringRef> arguments = {*linker,
                                                  "-shared",
                                                  "-fuse-ld=lld",
                                                  "-Wl,--as-needed",
                                                  "-o",
                                                  libraryPath,
                                                  objectPath,
                                                  libDirFlag,
                                                  rpathFlag,
                                                  "-lomp",
                                                  "-lmlir_c_runner_utils",
                                                  "-Wl,-z,defs"};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath.str(),
                                                logPath.str()};
  std::string executionError;
  int status = llvm::sys::ExecuteAndWait(*linker, arguments, std::nullopt,
                                         redirects, 0, 0, &executionError);
  if (status != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().str();
    return error("linking the shared library with " + *linker +
                 " failed (status " + llvm::Twine(status) + ")" +
                 (executionError.empty() ? "" : ": " + executionError) +
                 (log.empty() ? "" : ":\n" + log));
  }
  return llvm::Error::success();
}

} // namespace

AotTarget resolveTarget(const AotOptions &options) {
  AotTarget target;
  target.triple = llvm::sys::getProcessTriple();
  target.cpu =
      options.cpu.empty() ? llvm::sys::getHostCPUName().str() : options.cpu;
  target.features =
      options.features.empty() ? hostFeatures() : options.features;
  return target;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
lowerToOptimizedLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                       const AotOptions &options) {
  auto machine = createTargetMachine(options);
  if (!machine)
    return machine.takeError();
  return lowerAndOptimize(module, context, **machine, options);
}

llvm::Error compileAheadOfTime(mlir::ModuleOp module,
                               llvm::StringRef outputPath, AotEmit emit,
                               const AotOptions &options) {
  auto machine = createTargetMachine(options);
  if (!machine)
    return machine.takeError();
  llvm::LLVMContext context;
  auto llvmModule = lowerAndOptimize(module, context, **machine, options);
  if (!llvmModule)
    return llvmModule.takeError();

  auto stageDone = [&](llvm::StringRef stage) {
    if (options.onStageDone)
      options.onStageDone(stage);
  };
  if (emit == AotEmit::LLVMIR)
    return llvm::writeToOutput(outputPath, [&](llvm::raw_ostream &os) {
      (*llvmModule)->print(os, nullptr);
      return llvm::Error::success();
    });

  llvm::SmallVector<char, 0> object;
  if (llvm::Error err = emitObject(**llvmModule, **machine, object))
    return err;
  stageDone("optimise+codegen");
  if (emit == AotEmit::Object)
    return llvm::writeToOutput(outputPath, [&](llvm::raw_ostream &os) {
      os.write(object.data(), object.size());
      return llvm::Error::success();
    });

  // Shared library: object in a temporary file, linked to a unique name next
  // to the output, renamed over it once the link succeeded.
  llvm::SmallString<128> objectPath;
  int objectFd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "gecko-aot", "o", objectFd, objectPath))
    return error("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeObject(objectPath);
  {
    llvm::raw_fd_ostream os(objectFd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    os.close();
    if (os.has_error())
      return error("cannot write " + objectPath + ": " + os.error().message());
  }
  llvm::SmallString<128> libraryPath;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          outputPath + ".tmp-%%%%%%", libraryPath))
    return error("cannot create a temporary file next to '" + outputPath +
                 "': " + ec.message());
  llvm::FileRemover removeLibrary(libraryPath);
  if (llvm::Error err = linkSharedLibrary(objectPath, libraryPath, options))
    return err;
  stageDone("link");
  if (std::error_code ec = llvm::sys::fs::rename(libraryPath, outputPath))
    return error("cannot rename " + libraryPath + " to '" + outputPath +
                 "': " + ec.message());
  removeLibrary.releaseFile();
  return llvm::Error::success();
}

} // namespace gecko::exec
