//===- AdjointRules.h - Per-op adjoint rules of gecko-autodiff --*- C++ -*-===//
//
// The reverse sweep (Differentiate.cpp) hands each forward op whose results
// received an adjoint to a rule: GeckoAdjoints.cpp (the ops with a `_grad`
// twin), ModelOpAdjoints.cpp (embedding, swiglu, cross_entropy: upstream
// ops) and UpstreamAdjoints.cpp (tensor / linalg / arith plumbing). A rule
// reads the adjoints of the op's results and the recomputed (primal) values
// of its operands and accumulates adjoints onto the operands.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_PASSES_AUTODIFF_ADJOINTRULES_H
#define GECKO_PASSES_AUTODIFF_ADJOINTRULES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/FunctionExtras.h"

#include <optional>

namespace mlir::gecko::autodiff {

/// State of one reverse sweep. Keys are values of the original forward
/// function; `primal` maps them to their recomputed copies.
class AdjointContext {
public:
  AdjointContext(OpBuilder &builder, IRMapping &primal)
      : builder(builder), primal(primal) {}

  OpBuilder &builder;
  IRMapping &primal;

  /// The recomputed value of forward value `v`.
  Value primalOf(Value v) const { return primal.lookupOrDefault(v); }
  /// The accumulated adjoint of `v`, or null.
  Value adjointOf(Value v) const { return adjoints.lookup(v); }
  /// The adjoint of `v`, or zeros of its type.
  Value adjointOrZeros(Value v, Location loc);
  /// adjoint(v) += g (nothing for non-differentiable values or null g).
  void accumulate(Value v, Value g, Location loc);

private:
  llvm::DenseMap<Value, Value> adjoints;
};

/// Zeros of a ranked tensor type (tensor.empty + linalg.fill).
Value zerosOf(OpBuilder &b, Location loc, Type type);
/// Elementwise a + b (floating or complex).
Value addValues(OpBuilder &b, Location loc, Value lhs, Value rhs);
/// An all-parallel identity-mapped linalg.generic producing `resultType`
/// from equally shaped `inputs`; `body` receives the input scalars and
/// returns the result scalar.
Value elementwise(
    OpBuilder &b, Location loc, Type resultType, ValueRange inputs,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);
/// `v` extended to f32 (floating scalars; f32 is returned as is).
Value toF32(OpBuilder &b, Location loc, Value v);
/// `v` (f32) converted to `type` (a floating scalar type).
Value fromF32(OpBuilder &b, Location loc, Value v, Type type);

/// Each returns std::nullopt when `op` is not one of its file's ops,
/// success() after emitting the op's adjoint, and failure() (after a
/// diagnostic on the op) when it is but a form is not supported.
std::optional<LogicalResult> emitGeckoAdjoint(AdjointContext &ctx,
                                              Operation *op);
std::optional<LogicalResult> emitModelOpAdjoint(AdjointContext &ctx,
                                                Operation *op);
std::optional<LogicalResult> emitUpstreamAdjoint(AdjointContext &ctx,
                                                 Operation *op);

} // namespace mlir::gecko::autodiff

#endif // GECKO_PASSES_AUTODIFF_ADJOINTRULES_H
