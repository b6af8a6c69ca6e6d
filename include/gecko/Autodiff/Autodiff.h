//===- Autodiff.h - Reverse-mode differentiation of gecko functions -*- C++
//-*-===//
//
// Reverse-mode automatic differentiation of single-block func.func bodies
// made of gecko ops and the upstream plumbing ops the model builder uses
// (docs/passes/gecko-autodiff.md). The backward recomputes the forward (every
// `<op>_grad` recomputes its own internals from the forward's operands), then
// walks the ops in reverse, accumulating adjoints (a sum when a value has
// several uses).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_AUTODIFF_AUTODIFF_H
#define GECKO_AUTODIFF_AUTODIFF_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mlir::gecko {

/// Whether values of `type` carry an adjoint: ranked tensors of floating or
/// complex elements.
bool isDifferentiableType(Type type);

/// Emits, at `builder`'s insertion point, the recomputed forward of `forward`
/// (a func.func with one block) applied to `args`, then its reverse sweep.
/// `cotangents` holds one value per forward result (a null value: no upstream
/// gradient for that result). Returns the gradient of each argument listed in
/// `wrt` (zeros where the argument does not influence the differentiated
/// results); `forwardResults`, when given, receives the recomputed forward
/// results. Fails (with a diagnostic naming the op and its location) on an op
/// without an adjoint rule whose results need one.
FailureOr<SmallVector<Value>>
emitBackward(OpBuilder &builder, Location loc, func::FuncOp forward,
             ValueRange args, ArrayRef<Value> cotangents,
             ArrayRef<unsigned> wrt,
             SmallVectorImpl<Value> *forwardResults = nullptr);

/// Which results get cotangents and which arguments get gradients.
struct GradFunctionSpec {
  /// Empty: every result of a differentiable type.
  SmallVector<unsigned> results;
  /// Empty: every argument of a differentiable type.
  SmallVector<unsigned> wrt;
  /// Also return the forward results (before the gradients).
  bool returnForward = false;
  /// Name of the new function (empty: "<forward>_grad").
  std::string name;
};

/// Creates, next to `forward`, `func.func @<name>(args..., cotangents...)
/// -> ([forward results...,] gradients...)` (see GradFunctionSpec).
FailureOr<func::FuncOp> generateGradFunction(func::FuncOp forward,
                                             const GradFunctionSpec &spec);

} // namespace mlir::gecko

#endif // GECKO_AUTODIFF_AUTODIFF_H
