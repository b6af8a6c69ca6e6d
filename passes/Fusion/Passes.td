//===- Passes.td - Gecko fusion passes ---------------------*- tablegen -*-===//
//
// Fusions across gecko ops that cut memory traffic: each rewrites a chain of
// ops into one fused op whose lowering (gecko-convert-to-linalg) keeps the
// intermediate values in the tile. docs/passes/fusion.md lists them with the
// bytes each saves.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_FUSION_PASSES_TD
#define GECKO_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def GeckoFuseNormEma : Pass<"gecko-fuse-norm-ema"> {
  let summary = "Fuse timestep norm -> complex EMA -> RMS norm into "
                "gecko.fused_norm_ema";
  let description = [{
    Rewrites the MEGA input chain
    `gecko.timestep_norm -> gecko.cema -> gecko.rms_norm` into one
    `gecko.fused_norm_ema`, whose lowering never materialises the EMA output
    `ce`. Conditions (otherwise the chain is left alone):
    the cema input is the timestep norm's `y`; the cema output has exactly
    one use, the rms_norm's input; the timestep norm has no `padding`; both
    scans see the same `bos` (the same value, or none); the activations are
    ranked `(B, L, D)`; the three ops are in one block and a point exists
    that all operands dominate and that dominates every other use of the
    timestep norm's results (`y` — e.g. the block's `wv` — and the carried
    state) and of the cema state. Those uses are rewired to the fused op's
    `tsn`, `new_count/new_mean/new_var` and `new_h`.
  }];
  let dependentDialects = [];
}

#endif // GECKO_FUSION_PASSES_TD
