//===- Passes.h - Gecko conversion passes -------------------------*- C++
//-*-===//
//
// Declarations of the passes in passes/Conversion/Passes.td and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_PASSES_H
#define GECKO_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::gecko {

#define GEN_PASS_DECL
#include "GeckoConversionPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "GeckoConversionPasses.h.inc"

} // namespace mlir::gecko

#endif // GECKO_CONVERSION_PASSES_H
