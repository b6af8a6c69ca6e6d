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

def GeckoFuseAttentionPrologue : Pass<"gecko-fuse-attention-prologue"> {
  let summary = "Fold gecko.z_split (+ gecko.rope) into the attention and "
                "working-memory prologues";
  let description = [{
    Rewrites `gecko.chunk_attention` (or a `gecko.fused_chunk_attention`
    with a `qk` prologue) whose `q, k` are
    `[gecko.rope](tensor.expand_shape(gecko.z_split results 0, 1))` into a
    `gecko.fused_chunk_attention` with a `zsplit(z, gamma, beta)
    [rope(start)]` prologue, and `gecko.working_memory` whose `aq, ak` are
    `tensor.expand_shape(gecko.z_split results 2, 3)` into a
    `gecko.fused_working_memory`: the consumers normalise z per head and
    form q/k (rotated) or aq/ak per tile; q, k, aq, ak are never
    materialised. The z split is erased once all four results are folded.

    Conditions (otherwise the op is left alone): one z split feeds both
    operands, its `num_heads` equals the consumer's H (the norm groups are
    the attention heads), the head split is `(B, L, Z) -> (B, L, H, Z/H)`,
    q and k are rotated by the same rope (same start, base, heads) or both
    not at all, and q / aq and every intermediate value have no other use.
    The keys (rotated k, ak) may have other uses only where they are the
    §9 cache: when L ≤ C any use, else `tensor.extract_slice` of rows in
    `[L − C, L)` along dim 1; those read the fused op's `key_cache` result
    instead (the last min(L, C) keys, the only rows streaming keeps).
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def GeckoFuseAttentionEpilogue : Pass<"gecko-fuse-attention-epilogue"> {
  let summary = "Fold gecko.gated_add(sca, awm, gate r) into the attention "
                "epilogue";
  let description = [{
    Rewrites `gecko.gated_add(collapse(attn), b) [gate(g)]`, where `attn` is
    the single-use result of a `gecko.chunk_attention` or of a
    `gecko.fused_chunk_attention` without epilogue and the collapse merges
    the heads `(B, L, H, dv) -> (B, L, H·dv)`, into one
    `gecko.fused_chunk_attention ... epilogue(b', gate g')` placed at the
    gated_add (so `b` — the working memory output, computed first — and
    the gate are available) whose output `attn·g + b` is written once;
    `b', g'` are the head-split views of `b, g`. The attention output and
    the separate gated_add pass are never materialised.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // GECKO_FUSION_PASSES_TD
