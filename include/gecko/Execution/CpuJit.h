//===- CpuJit.h - Compile and run gecko IR on the host CPU --------*- C++
//-*-===//
//
// Lowers a module of gecko IR on tensors with the gecko-to-cpu pipeline,
// JIT-compiles it with mlir::ExecutionEngine (OpenMP runtime loaded for the
// parallel loops) and calls its entry functions on host buffers.
//
// Entry functions are the func.func ops carrying `llvm.emit_c_interface`.
// Their arguments are statically shaped tensors (f32, f16, bf16, i64, i1 or
// complex<f32> elements) or i64/index scalars; their results are statically
// shaped tensors. Every call is checked against the signature recorded
// before lowering.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_EXECUTION_CPUJIT_H
#define GECKO_EXECUTION_CPUJIT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace gecko::exec {

/// Element types a JIT entry can exchange with the host.
enum class ElementKind { F32, F16, BF16, I64, I1, ComplexF32 };

/// Bytes of one element of `kind` (i1 is stored as one byte, complex<f32>
/// as two floats (re, im), as the LLVM lowering lays them out).
size_t elementSize(ElementKind kind);
/// "f32", "complex<f32>", ...
const char *elementKindName(ElementKind kind);

/// A dense row-major host tensor: raw little-endian element bytes.
struct HostTensor {
  std::vector<int64_t> shape;
  ElementKind kind = ElementKind::F32;
  std::vector<uint8_t> bytes;
};

/// One argument of an entry call: a tensor or an integer scalar.
struct JitArgument {
  const HostTensor *tensor = nullptr;
  int64_t scalar = 0;

  static JitArgument ofTensor(const HostTensor &t) { return {&t, 0}; }
  static JitArgument ofScalar(int64_t value) { return {nullptr, value}; }
};

struct CpuJitOptions {
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
  /// gecko-to-cpu's fuse-attention: the attention prologue / epilogue
  /// fusions (docs/passes/fusion.md).
  bool fuseAttention = false;
  /// gecko-to-cpu's fuse-norm-ema: timestep_norm -> cema -> rms_norm as
  /// one gecko.fused_norm_ema (docs/passes/fusion.md).
  bool fuseNormEma = false;
  /// The vector stage of gecko-to-cpu (gecko-vectorize-cpu) and its
  /// register tiles; off: scalar loops.
  bool vectorize = true;
  int64_t vectorInnerTile = 512;
  int64_t contractionMTile = 8;
  int64_t contractionNTile = 32;
  /// LLVM optimisation level of the JIT.
  unsigned optLevel = 3;
};

class CpuJit {
public:
  /// Lowers `module` in place (it is left in the LLVM dialect) and compiles
  /// it. Fails with the diagnostics of the pipeline or the JIT.
  static llvm::Expected<std::unique_ptr<CpuJit>>
  compile(mlir::ModuleOp module, const CpuJitOptions &options = {});

  ~CpuJit();

  /// Calls entry `name`; returns its results.
  llvm::Expected<std::vector<HostTensor>>
  invoke(llvm::StringRef name, const std::vector<JitArgument> &arguments);

  /// What the entry functions look like (recorded before lowering).
  struct Signature {
    /// Per argument: whether it is an integer scalar, else the static shape
    /// and element kind of the tensor.
    std::vector<bool> argumentIsScalar;
    std::vector<std::vector<int64_t>> argumentShapes;
    std::vector<ElementKind> argumentKinds;
    std::vector<std::vector<int64_t>> resultShapes;
    std::vector<ElementKind> resultKinds;
  };

private:
  CpuJit() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  llvm::StringMap<Signature> entries;
};

} // namespace gecko::exec

#endif // GECKO_EXECUTION_CPUJIT_H
