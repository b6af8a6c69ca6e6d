//===- Passes.h - Gecko fusion passes -----------------------------*- C++
//-*-===//
//
// Declarations of the passes in passes/Fusion/Passes.td and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_FUSION_PASSES_H
#define GECKO_FUSION_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::gecko {

#define GEN_PASS_DECL
#include "GeckoFusionPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "GeckoFusionPasses.h.inc"

} // namespace mlir::gecko

#endif // GECKO_FUSION_PASSES_H
