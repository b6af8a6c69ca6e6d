//===- TileContractions.h - Tile contractions on matrix instructions -*- C++
//-*-===//
//
// The vendor-neutral half of the tensor-core / MFMA path: finds the
// contractions inside the tile foralls of bufferized gecko IR (the
// chunk_attention QK^T / PV / dS K / ... blocks, any 2-D linalg contraction
// with f32 accumulation and f16/bf16 operands) and rewrites each into a
// subgroup-tiled loop around a matrix instruction that the caller describes:
// its shape, subgroup size, which (row, column) of A, B and C each lane holds
// and how to emit it. The NVIDIA and AMD pipelines (lib/Target) provide the
// description; nothing here knows a vendor.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TARGET_GPU_TILECONTRACTIONS_H
#define GECKO_TARGET_GPU_TILECONTRACTIONS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <functional>
#include <optional>

namespace mlir::gecko {

/// The three matrices of D = A B + C: A is (m x k), B (k x n), C/D (m x n).
enum class Fragment { A, B, C };

/// A subgroup-wide matrix instruction D(m x n, f32) = A(m x k) B(k x n) + C.
struct MatrixInstruction {
  int64_t subgroupSize = 0;
  int64_t m = 0, n = 0, k = 0;
  /// f16 or bf16: A and B are converted to it (f32 operands are rounded).
  Type operandType;
  /// The (row, column) of every element of `fragment` held by `lane`, in
  /// the order `multiply` takes / returns them.
  std::function<SmallVector<std::pair<Value, Value>>(OpBuilder &, Location,
                                                     Value lane, Fragment)>
      positions;
  /// Emits the instruction: `a`, `b` in operandType, `c` in f32, all in the
  /// order of `positions`; returns D in the order of C.
  std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange a,
                                   ValueRange b, ValueRange c)>
      multiply;
};

/// Picks the instruction for a contraction whose A/B operands are of
/// `operandType` (f16 or bf16), or none (the contraction stays as it is).
using MatrixInstructionSelector =
    std::function<std::optional<MatrixInstruction>(Type operandType)>;

/// Rewrites every eligible contraction inside a tile forall of `module`
/// (bufferized, before gecko-map-forall-to-gpu) into an
/// `scf.forall (blockSize) [#gpu.thread<x>]` whose subgroups walk the
/// (m x n) output tiles; edges are padded with zeros on load and masked on
/// store. Eligible: a linalg contraction with one m, one n and one k
/// dimension (no batch), projected-permutation maps, a multiply-add body
/// (operands optionally extended with arith.extf), an f32 output and
/// f16/bf16 (or one f32) operands. Returns how many were rewritten; nothing
/// is rewritten when `blockSize` is not a multiple of the subgroup size.
int64_t rewriteTileContractions(ModuleOp module, int64_t blockSize,
                                const MatrixInstructionSelector &select);

} // namespace mlir::gecko

#endif // GECKO_TARGET_GPU_TILECONTRACTIONS_H
