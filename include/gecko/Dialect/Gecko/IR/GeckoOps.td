//===- GeckoOps.td - Gecko operators -----------------------*- tablegen -*-===//

#ifndef GECKO_DIALECT_GECKO_IR_GECKOOPS_TD
#define GECKO_DIALECT_GECKO_IR_GECKOOPS_TD

include "gecko/Dialect/Gecko/IR/GeckoDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

#endif // GECKO_DIALECT_GECKO_IR_GECKOOPS_TD
