//===- Passes.td - Gecko autodiff passes -------------------*- tablegen -*-===//
//
// Reverse-mode automatic differentiation of gecko functions.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_AUTODIFF_PASSES_TD
#define GECKO_AUTODIFF_PASSES_TD

include "mlir/Pass/PassBase.td"

def GeckoAutodiff : Pass<"gecko-autodiff", "::mlir::ModuleOp"> {
  let summary = "Generate the backward (<name>_grad) of gecko functions";
  let description = [{
    For every single-block `func.func` carrying the unit attribute
    `gecko.differentiate` or named by the `functions` option, creates
    `func.func @<name>_grad(forward args..., cotangents...) -> (gradients...)`
    next to it. Cotangents are taken for the results listed by `results`
    (default: every floating or complex tensor result) and gradients are
    returned for the arguments listed by `wrt` (default: every floating or
    complex tensor argument, i.e. activations, carried state and
    parameters), in argument order.

    Design: recompute. The backward function first re-emits the forward
    ops (each `<op>_grad` recomputes its own internals from the forward's
    operands), then walks the forward ops in reverse and emits, for each op
    whose results received an adjoint, the matching `gecko.<op>_grad` (or
    the upstream adjoint of a plumbing op: reshapes back, slices into zeros,
    transposes back, matmuls with transposed operands, reductions of
    broadcasts). Adjoints of values with several uses are summed in use
    order. An op without an adjoint rule whose result needs one is an error
    naming the op. See docs/passes/gecko-autodiff.md.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::complex::ComplexDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Functions to differentiate besides those marked gecko.differentiate">,
    ListOption<"results", "results", "unsigned",
               "Indices of the results that receive cotangents (default: all floating ones)">,
    ListOption<"wrt", "wrt", "unsigned",
               "Indices of the arguments to differentiate (default: all floating ones)">,
    Option<"returnForward", "return-forward", "bool", /*default=*/"false",
           "The grad function also returns the forward results, first">,
  ];
}

#endif // GECKO_AUTODIFF_PASSES_TD
