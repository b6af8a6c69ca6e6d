//===- Passes.h - The gecko-autodiff pass ------------------------*- C++
//-*-===//
//
// Declarations of the passes in passes/Autodiff/Passes.td and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_AUTODIFF_PASSES_H
#define GECKO_AUTODIFF_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::gecko {

#define GEN_PASS_DECL
#include "GeckoAutodiffPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "GeckoAutodiffPasses.h.inc"

} // namespace mlir::gecko

#endif // GECKO_AUTODIFF_PASSES_H
