//===- GeckoOps.cpp - Gecko operators and their verifiers -----------------===//

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

using namespace mlir;
using namespace mlir::gecko;

#define GET_OP_CLASSES
#include "gecko/Dialect/Gecko/IR/GeckoOps.cpp.inc"
