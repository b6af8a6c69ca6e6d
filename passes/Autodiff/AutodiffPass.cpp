//===- AutodiffPass.cpp - The gecko-autodiff pass -------------------------===//
//
// Collects the functions to differentiate (unit attribute
// `gecko.differentiate`, or the `functions` option) and generates
// `<name>_grad` for each (Differentiate.cpp).
//
//===----------------------------------------------------------------------===//

#include "gecko/Autodiff/Autodiff.h"
#include "gecko/Autodiff/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::gecko {

#define GEN_PASS_DEF_GECKOAUTODIFF
#include "GeckoAutodiffPasses.h.inc"

namespace {

/// The attribute marking a function to differentiate.
constexpr llvm::StringLiteral kDifferentiate = "gecko.differentiate";

struct GeckoAutodiffPass : impl::GeckoAutodiffBase<GeckoAutodiffPass> {
  using GeckoAutodiffBase::GeckoAutodiffBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (func->hasAttr(kDifferentiate) ||
          llvm::is_contained(functions, func.getSymName().str()))
        targets.push_back(func);
    }
    for (const std::string &name : functions)
      if (!module.lookupSymbol<func::FuncOp>(name)) {
        module.emitError("gecko-autodiff: no function named '") << name << "'";
        return signalPassFailure();
      }
    for (func::FuncOp func : targets) {
      GradFunctionSpec spec;
      spec.results.assign(results.begin(), results.end());
      spec.wrt.assign(wrt.begin(), wrt.end());
      spec.returnForward = returnForward;
      if (module.lookupSymbol((func.getSymName() + "_grad").str())) {
        func.emitOpError("gecko-autodiff: '")
            << func.getSymName() << "_grad' already exists";
        return signalPassFailure();
      }
      if (failed(generateGradFunction(func, spec)))
        return signalPassFailure();
      func->removeAttr(kDifferentiate);
    }
  }
};

} // namespace

} // namespace mlir::gecko
