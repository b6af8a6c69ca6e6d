//===- BlockModelCases.cpp - Reference backend: block and model
//------------===//
//
// Placeholder until the reference library grows whole-block and whole-model
// runs (owned by engineer refC).
//
//===----------------------------------------------------------------------===//

#include "BlockModelCases.h"

using namespace llvm;

namespace gecko::conform {

Error runReferenceBlockCase(const GoldenCase &, CaseResults &) {
  return createStringError(inconvertibleErrorCode(),
                           "op 'block' is not supported by the reference "
                           "backend yet");
}

Error runReferenceModelCase(const GoldenCase &, CaseResults &) {
  return createStringError(inconvertibleErrorCode(),
                           "op 'model' is not supported by the reference "
                           "backend yet");
}

} // namespace gecko::conform
