//===- AotCompiler.h - Ahead-of-time compilation of gecko IR ------*- C++
//-*-===//
//
// Compiles a module of gecko IR on tensors ahead of time, without the JIT:
// gecko-to-cpu -> LLVM IR (mlir::translateModuleToLLVMIR) -> optimised for
// the host CPU (triple, CPU name and features detected, -O3, PIC) -> an
// object file -> a shared library linked with clang++-22 against LLVM's
// libomp. Public entry functions get `llvm.emit_c_interface`, so the library
// exports `_mlir_ciface_<name>` taking memref descriptors:
//   struct MemRef<T, R> { T *allocated, *aligned; int64_t offset,
//                         sizes[R], strides[R]; };
//   void _mlir_ciface_<name>(Results *out, MemRef *arg0, ..., int64_t scalar);
// where a single tensor result is returned as the MemRef itself and several
// results as a struct of MemRefs. Result buffers are malloc'ed by the
// library (free `allocated` unless it is one of the argument buffers).
// With `emitPackedInterface` every such entry also gets an exported
//   void _gecko_packed_<name>(void **args);
// args[0] = the result storage (as above), args[1 + i] = a pointer to
// argument i's value (a `MemRef *` for a memref, an `int64_t` for a scalar),
// the convention of mlir::ExecutionEngine's packed functions.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_EXECUTION_AOTCOMPILER_H
#define GECKO_EXECUTION_AOTCOMPILER_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace gecko::exec {

/// What `compileAheadOfTime` writes.
enum class AotEmit {
  /// Optimised LLVM IR (textual .ll).
  LLVMIR,
  /// A relocatable, position-independent object file.
  Object,
  /// A shared library (needs the `linker` program).
  SharedLibrary,
};

struct AotOptions {
  /// Tile sizes of gecko-convert-to-linalg.
  int64_t batchTileSize = 1;
  int64_t tokenTileSize = 16;
  /// The other tile options of gecko-convert-to-linalg (see its docs).
  int64_t tsnChunkSize = 0;
  int64_t cemaChunkSize = 16;
  int64_t cemaChannelBlock = 16;
  int64_t attentionQueryTile = 16;
  int64_t attentionKeyTile = 8;
  int64_t linearColumnTile = 32;
  /// gecko-to-cpu's fuse-attention and fuse-norm-ema (docs/passes/fusion.md;
  /// forward only: run after gecko-autodiff).
  bool fuseAttention = false;
  bool fuseNormEma = false;
  /// The vector stage of gecko-to-cpu (gecko-vectorize-cpu) and its
  /// register tiles; off: scalar loops.
  bool vectorize = true;
  int64_t vectorInnerTile = 512;
  int64_t contractionMTile = 8;
  int64_t contractionNTile = 32;
  /// LLVM optimisation level (0-3).
  unsigned optLevel = 3;
  /// Target CPU and features; empty = the host's (like -march=native).
  std::string cpu;
  std::string features;
  /// Add `llvm.emit_c_interface` to every public func.func (entries).
  bool emitCInterface = true;
  /// Also export `_gecko_packed_<name>(void **args)` for every
  /// `_mlir_ciface_<name>`.
  bool emitPackedInterface = false;
  /// Observers (optional). `afterMlirStage` sees the module after
  /// "linalg" (gecko-convert-to-linalg) and "llvm-dialect" (the whole
  /// gecko-to-cpu pipeline); `afterLlvmStage` sees the optimised LLVM
  /// module ("llvm-ir"); `onStageDone` is told when "lower to LLVM"
  /// (gecko-to-cpu + translation), "optimise+codegen" and "link" end.
  std::function<void(llvm::StringRef stage, mlir::ModuleOp module)>
      afterMlirStage;
  std::function<void(llvm::StringRef stage, const llvm::Module &module)>
      afterLlvmStage;
  std::function<void(llvm::StringRef stage)> onStageDone;
  /// The linker driver for shared libraries (looked up in PATH).
  std::string linker = "clang++-22";
};

/// The target the code is generated for: the host triple and the options'
/// CPU and features, or the host's when they are empty.
struct AotTarget {
  std::string triple, cpu, features;
};
AotTarget resolveTarget(const AotOptions &options);

/// Lowers `module` in place with gecko-to-cpu (it is left in the LLVM
/// dialect), translates it to LLVM IR in `context` and optimises it for the
/// target. Errors carry the pipeline's diagnostics with their locations.
llvm::Expected<std::unique_ptr<llvm::Module>>
lowerToOptimizedLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                       const AotOptions &options = {});

/// Compiles `module` (lowered in place) and writes `outputPath` atomically
/// (a temporary file in the same directory renamed over it): an existing
/// file is left untouched when compilation fails.
llvm::Error compileAheadOfTime(mlir::ModuleOp module,
                               llvm::StringRef outputPath, AotEmit emit,
                               const AotOptions &options = {});

} // namespace gecko::exec

#endif // GECKO_EXECUTION_AOTCOMPILER_H
