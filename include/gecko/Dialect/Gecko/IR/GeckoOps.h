//===- GeckoOps.h - Gecko operators -----------------------------*- C++ -*-===//

#ifndef GECKO_DIALECT_GECKO_IR_GECKOOPS_H
#define GECKO_DIALECT_GECKO_IR_GECKOOPS_H

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "gecko/Dialect/Gecko/IR/GeckoOps.h.inc"

#endif // GECKO_DIALECT_GECKO_IR_GECKOOPS_H
