//===- GpuAot.h - Ahead-of-time GPU kernels as host shared objects -*- C++
//-*-===//
//
// Compiles a module holding `func.func @kernel` on tensors with the
// gecko-to-nvvm pipeline (device code -> PTX -> cubin/fatbin in a
// gpu.binary; host code calling the mgpu* entry points of
// libgecko_cuda_runtime), translates the host half to LLVM IR, adds
//   void _gecko_packed_kernel(void **args)
// (args[0] points at the result-storage pointer, args[1 + i] at argument
// i's value: a memref descriptor pointer or an int64_t; the convention of
// mlir::ExecutionEngine's packed functions) and links a position-independent
// shared object for a generic x86-64 host. Its undefined symbols must all be
// mgpu* entry points, memrefCopy or C library functions (checked here), so
// the object loads on a machine with neither MLIR nor LLVM inside
// gecko-device-run once libgecko_cuda_runtime is loaded RTLD_GLOBAL.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_GPUAOT_H
#define GECKO_DEVICECHECK_GPUAOT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace gecko::devcheck {

struct GpuAotOptions {
  /// gecko-to-nvvm's chip / features / gpu-module-to-binary format.
  std::string chip = "sm_90";
  std::string features = "+ptx80";
  std::string format = "fatbin";
  /// gecko-to-nvvm token-tile-size; 0: its default.
  int64_t tokenTileSize = 0;
  /// Host code target (generic: the GPU machine's CPU is unknown here).
  std::string hostCpu = "x86-64";
  /// Also compile a copy of the module with format=isa and return the PTX of
  /// every gpu.binary (for ptxas checks).
  bool keepPtx = false;
  /// The linker driver (looked up in PATH).
  std::string linker = "clang++-22";
};

struct GpuAotResult {
  /// Kernel names launched by the host code ("<module>::<func>"), in order
  /// of first launch.
  std::vector<std::string> kernels;
  /// With keepPtx: (gpu.binary name, PTX text) per binary.
  std::vector<std::pair<std::string, std::string>> ptx;
  /// Undefined dynamic symbols of the shared object (sorted).
  std::vector<std::string> undefinedSymbols;
};

/// Lowers `module` in place and writes the shared object `libraryPath`.
llvm::Expected<GpuAotResult> compileGpuLibrary(mlir::ModuleOp module,
                                               llvm::StringRef libraryPath,
                                               const GpuAotOptions &options);

/// Whether a shared object may leave `symbol` undefined: mgpu* entry points,
/// memrefCopy (exported by the run driver) and the C library functions
/// generated host code calls.
bool isAllowedUndefinedSymbol(llvm::StringRef symbol);

} // namespace gecko::devcheck

#endif // GECKO_DEVICECHECK_GPUAOT_H
