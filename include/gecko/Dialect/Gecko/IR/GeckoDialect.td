//===- GeckoDialect.td - Gecko dialect definition ----------*- tablegen -*-===//

#ifndef GECKO_DIALECT_GECKO_IR_GECKODIALECT_TD
#define GECKO_DIALECT_GECKO_IR_GECKODIALECT_TD

include "mlir/IR/OpBase.td"

def Gecko_Dialect : Dialect {
  let name = "gecko";
  let summary = "Operators of the Gecko long-context architecture";
  let description = [{
    Tensor-level operators of Gecko (timestep decay norm, complex EMA, sliding
    chunk attention, adaptive working memory, ...). Every operator is a pure
    function of its inputs and its carried state: state enters as SSA operands
    and leaves as SSA results.
  }];
  let cppNamespace = "::mlir::gecko";
}

class Gecko_Op<string mnemonic, list<Trait> traits = []>
    : Op<Gecko_Dialect, mnemonic, traits>;

#endif // GECKO_DIALECT_GECKO_IR_GECKODIALECT_TD
