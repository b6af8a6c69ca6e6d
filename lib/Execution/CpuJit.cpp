//===- CpuJit.cpp - Compile and run gecko IR on the host CPU --------------===//
//
// Calls go through the `_mlir_ciface_<name>` wrapper that
// `llvm.emit_c_interface` makes: memrefs are passed as pointers to
// descriptors {allocated, aligned, offset, sizes[R], strides[R]} and the
// results come back through a pointer to a struct of descriptors (first
// argument). Every field is 8 bytes, so a descriptor is stored as int64_t
// words. Result buffers are malloc'ed by the compiled code and freed here
// once copied, unless they are an argument's buffer (an in-place update).
//
//===----------------------------------------------------------------------===//

#include "gecko/Execution/CpuJit.h"

#include "gecko/Conversion/GeckoToCpu.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <optional>

using llvm::createStringError;
using llvm::inconvertibleErrorCode;

namespace gecko::exec {

namespace {

llvm::Error error(const llvm::Twine &message) {
  return createStringError(inconvertibleErrorCode(), message.str());
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

/// Words of a rank-`rank` memref descriptor.
size_t descriptorWords(size_t rank) { return 3 + 2 * rank; }

/// The element kind of a tensor element type, if the JIT can exchange it.
std::optional<ElementKind> elementKindOf(mlir::Type type) {
  if (type.isF32())
    return ElementKind::F32;
  if (type.isF16())
    return ElementKind::F16;
  if (type.isBF16())
    return ElementKind::BF16;
  if (type.isSignlessInteger(64))
    return ElementKind::I64;
  if (type.isSignlessInteger(1))
    return ElementKind::I1;
  if (auto complex = llvm::dyn_cast<mlir::ComplexType>(type))
    if (complex.getElementType().isF32())
      return ElementKind::ComplexF32;
  return std::nullopt;
}

/// Records the signature of an entry, or explains why it cannot be one.
llvm::Expected<CpuJit::Signature> entrySignature(mlir::func::FuncOp func) {
  CpuJit::Signature signature;
  auto tensorOf = [&](mlir::Type type, llvm::StringRef what,
                      std::vector<std::vector<int64_t>> &shapes,
                      std::vector<ElementKind> &kinds) -> llvm::Error {
    auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type);
    std::optional<ElementKind> kind;
    if (tensor)
      kind = elementKindOf(tensor.getElementType());
    if (!tensor || !tensor.hasStaticShape() || !kind)
      return error("entry '" + func.getSymName() + "': " + what +
                   " must be a statically shaped tensor of f32, f16, bf16, "
                   "i64, i1 or complex<f32> (or an integer scalar)");
    shapes.emplace_back(tensor.getShape().begin(), tensor.getShape().end());
    kinds.push_back(*kind);
    return llvm::Error::success();
  };
  for (mlir::Type type : func.getArgumentTypes()) {
    bool scalar = type.isIndex() || type.isSignlessInteger(64);
    signature.argumentIsScalar.push_back(scalar);
    if (scalar) {
      signature.argumentShapes.emplace_back();
      signature.argumentKinds.push_back(ElementKind::I64);
      continue;
    }
    if (llvm::Error err =
            tensorOf(type, "every argument", signature.argumentShapes,
                     signature.argumentKinds))
      return std::move(err);
  }
  for (mlir::Type type : func.getResultTypes())
    if (llvm::Error err = tensorOf(type, "every result", signature.resultShapes,
                                   signature.resultKinds))
      return std::move(err);
  if (signature.resultShapes.empty())
    return error("entry '" + func.getSymName() + "' has no results");
  return signature;
}

void registerLoweringDialects(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  // Every dialect the pipeline creates, with their bufferization models.
  mlir::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  context.appendDialectRegistry(registry);
}

} // namespace

size_t elementSize(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return 4;
  case ElementKind::F16:
  case ElementKind::BF16:
    return 2;
  case ElementKind::I64:
  case ElementKind::ComplexF32:
    return 8;
  case ElementKind::I1:
    return 1;
  }
  llvm_unreachable("unknown element kind");
}

const char *elementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::I64:
    return "i64";
  case ElementKind::I1:
    return "i1";
  case ElementKind::ComplexF32:
    return "complex<f32>";
  }
  llvm_unreachable("unknown element kind");
}

CpuJit::~CpuJit() = default;

llvm::Expected<std::unique_ptr<CpuJit>>
CpuJit::compile(mlir::ModuleOp module, const CpuJitOptions &options) {
  std::unique_ptr<CpuJit> jit(new CpuJit());
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    if (!func->hasAttr("llvm.emit_c_interface"))
      continue;
    auto signature = entrySignature(func);
    if (!signature)
      return signature.takeError();
    jit->entries[func.getSymName()] = std::move(*signature);
  }
  if (jit->entries.empty())
    return error("the module has no entry (func.func with "
                 "llvm.emit_c_interface)");

  // Collect the pipeline's diagnostics into the error message.
  mlir::MLIRContext &context = *module.getContext();
  std::string diagnostics;
  llvm::raw_string_ostream diagnosticStream(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    diagnosticStream << diag.getLocation() << ": " << diag << "\n";
    return mlir::success();
  });

  registerLoweringDialects(context);
  mlir::PassManager pm(&context);
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
  if (mlir::failed(pm.run(module)))
    return error("gecko-to-cpu failed:\n" + diagnostics);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto targetBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!targetBuilder)
    return targetBuilder.takeError();
  auto targetMachine = targetBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto transformer = mlir::makeOptimizingTransformer(options.optLevel, 0,
                                                     targetMachine->get());
  // __kmpc_* for the OpenMP loops; memrefCopy for buffer copies.
  llvm::SmallVector<llvm::StringRef> libraries = {
      GECKO_LLVM_LIBRARY_DIR "/libomp.so",
      GECKO_LLVM_LIBRARY_DIR "/libmlir_c_runner_utils.so"};
  mlir::ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.sharedLibPaths = libraries;
  auto engine = mlir::ExecutionEngine::create(module, engineOptions,
                                              std::move(*targetMachine));
  if (!engine)
    return llvm::joinErrors(error("JIT compilation failed:\n" + diagnostics),
                            engine.takeError());
  jit->engine = std::move(*engine);
  return jit;
}

llvm::Expected<std::vector<HostTensor>>
CpuJit::invoke(llvm::StringRef name,
               const std::vector<JitArgument> &arguments) {
  auto entry = entries.find(name);
  if (entry == entries.end())
    return error("no entry '" + name + "' in the compiled module");
  const Signature &signature = entry->second;
  if (arguments.size() != signature.argumentIsScalar.size())
    return error("entry '" + name + "' takes " +
                 llvm::Twine(signature.argumentIsScalar.size()) +
                 " arguments, got " + llvm::Twine(arguments.size()));

  // Inputs are copied: the compiled code may update its arguments in place.
  std::vector<std::vector<uint8_t>> inputBuffers;
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<int64_t> scalars(arguments.size());
  inputBuffers.reserve(arguments.size());
  descriptors.reserve(arguments.size());
  llvm::SmallPtrSet<void *, 8> argumentBuffers;
  std::vector<void *> descriptorPointers(arguments.size());
  for (size_t i = 0; i < arguments.size(); ++i) {
    const JitArgument &argument = arguments[i];
    if (signature.argumentIsScalar[i]) {
      if (argument.tensor)
        return error("argument " + llvm::Twine(i) + " of '" + name +
                     "' must be an integer, got a tensor");
      scalars[i] = argument.scalar;
      continue;
    }
    const std::vector<int64_t> &shape = signature.argumentShapes[i];
    ElementKind kind = signature.argumentKinds[i];
    if (!argument.tensor || argument.tensor->shape != shape ||
        argument.tensor->kind != kind ||
        argument.tensor->bytes.size() !=
            elementCount(shape) * elementSize(kind))
      return error("argument " + llvm::Twine(i) + " of '" + name +
                   "' must be a " + elementKindName(kind) + " tensor " +
                   shapeString(shape));
    inputBuffers.push_back(argument.tensor->bytes);
    uint8_t *data = inputBuffers.back().data();
    argumentBuffers.insert(data);
    std::vector<int64_t> descriptor(descriptorWords(shape.size()));
    descriptor[0] = reinterpret_cast<intptr_t>(data);
    descriptor[1] = reinterpret_cast<intptr_t>(data);
    descriptor[2] = 0;
    int64_t stride = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      descriptor[3 + d] = shape[d];
      descriptor[3 + shape.size() + d] = stride;
      stride *= shape[d];
    }
    descriptors.push_back(std::move(descriptor));
    descriptorPointers[i] = descriptors.back().data();
  }

  size_t resultWords = 0;
  for (const auto &shape : signature.resultShapes)
    resultWords += descriptorWords(shape.size());
  std::vector<int64_t> results(resultWords, 0);
  void *resultPointer = results.data();

  // The packed wrapper takes the address of every ciface argument.
  llvm::SmallVector<void *> packed = {&resultPointer};
  for (size_t i = 0; i < arguments.size(); ++i)
    packed.push_back(signature.argumentIsScalar[i]
                         ? static_cast<void *>(&scalars[i])
                         : static_cast<void *>(&descriptorPointers[i]));
  if (llvm::Error err =
          engine->invokePacked(("_mlir_ciface_" + name).str(), packed))
    return std::move(err);

  std::vector<HostTensor> outputs;
  llvm::SmallPtrSet<void *, 8> freed;
  size_t word = 0;
  for (size_t r = 0; r < signature.resultShapes.size(); ++r) {
    const std::vector<int64_t> &shape = signature.resultShapes[r];
    ElementKind kind = signature.resultKinds[r];
    size_t size = elementSize(kind);
    const int64_t *descriptor = results.data() + word;
    word += descriptorWords(shape.size());
    auto *allocated = reinterpret_cast<void *>(descriptor[0]);
    auto *aligned = reinterpret_cast<const uint8_t *>(descriptor[1]);
    int64_t offset = descriptor[2];
    const int64_t *sizes = descriptor + 3;
    const int64_t *strides = descriptor + 3 + shape.size();
    for (size_t d = 0; d < shape.size(); ++d)
      if (sizes[d] != shape[d])
        return error("entry '" + name +
                     "' returned a result of the wrong "
                     "shape");
    HostTensor output{shape, kind,
                      std::vector<uint8_t>(elementCount(shape) * size)};
    std::vector<int64_t> index(shape.size(), 0);
    for (int64_t flat = 0; flat < elementCount(shape); ++flat) {
      int64_t position = offset;
      for (size_t d = 0; d < shape.size(); ++d)
        position += index[d] * strides[d];
      std::memcpy(output.bytes.data() + flat * size, aligned + position * size,
                  size);
      for (size_t d = shape.size(); d-- > 0;) {
        if (++index[d] < shape[d])
          break;
        index[d] = 0;
      }
    }
    outputs.push_back(std::move(output));
    if (allocated && !argumentBuffers.count(allocated) &&
        freed.insert(allocated).second)
      std::free(allocated);
  }
  return outputs;
}

} // namespace gecko::exec
