//===- GeckoOps.td - Gecko operators -----------------------*- tablegen -*-===//
//
// Tensor-level operators of Gecko. Conventions (docs/dialect/README.md):
// activations are (B, L, D) or, after the head split, (B, L, H, d); carried
// state enters as operands and leaves as results; optional operands are
// introduced by a keyword group; every special op has a `<op>_grad` twin that
// recomputes from the forward's inputs.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DIALECT_GECKO_IR_GECKOOPS_TD
#define GECKO_DIALECT_GECKO_IR_GECKOOPS_TD

include "gecko/Dialect/Gecko/IR/GeckoDialect.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Types and attributes
//===----------------------------------------------------------------------===//

def Gecko_FloatTensor : TensorOf<[F32, BF16, F16]>;
def Gecko_F32Tensor : TensorOf<[F32]>;
def Gecko_ComplexTensor : TensorOf<[Complex<F32>]>;
def Gecko_MaskTensor : TensorOf<[I1]>;
def Gecko_IdTensor : TensorOf<[I64]>;
def Gecko_Position : AnyTypeOf<[I64, Index]>;

def Gecko_PathChunked : I32EnumAttrCase<"Chunked", 0, "chunked">;
def Gecko_PathShort : I32EnumAttrCase<"Short", 1, "short">;
def Gecko_ChunkPathAttr : I32EnumAttr<"ChunkPath",
    "which schedule a chunked operator runs",
    [Gecko_PathChunked, Gecko_PathShort]> {
  let cppNamespace = "::mlir::gecko";
}

// Ops whose verifier lives in GeckoOps.cpp.
class Gecko_PureOp<string mnemonic, list<Trait> traits = []>
    : Gecko_Op<mnemonic, !listconcat([Pure], traits)> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Timestep decay norm (spec §1)
//===----------------------------------------------------------------------===//

def Gecko_TimestepNormOp : Gecko_PureOp<"timestep_norm",
    [AttrSizedOperandSegments]> {
  let summary = "timestep decay norm with carried running statistics";
  let description = [{
    Normalises `x (B, L, D)` per token and per group of `D / num_groups`
    consecutive channels with bias-corrected exponential moving averages of
    the per-token group mean and variance, stepped over the L tokens
    (spec §1). The applied scale is `weight + 1`.

    The running state is explicit: `count (B) i64`, `mean (B, G)` and
    `var (B, G)` enter as operands and the state after the last token is
    returned as `new_count`, `new_mean`, `new_var` (raw, not bias-corrected).
    Optional `bos (B, L)` restarts the statistics; optional `padding (B, L)`
    (true = pad) skips a step and zeroes its output.

    ```mlir
    %y, %c, %m, %v = gecko.timestep_norm %x, %w, %b state(%count, %mean, %var)
        bos(%bos) {num_groups = 2 : i64, beta1 = 0.999 : f64,
                   beta2 = 0.9999 : f64, eps = 1.0e-05 : f64}
        : (...) -> (...)
    ```
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$weight,
      Gecko_FloatTensor:$bias, Gecko_IdTensor:$count,
      Gecko_FloatTensor:$mean, Gecko_FloatTensor:$var,
      Optional<Gecko_MaskTensor>:$bos, Optional<Gecko_MaskTensor>:$padding,
      I64Attr:$num_groups, F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$y, Gecko_IdTensor:$new_count,
      Gecko_FloatTensor:$new_mean, Gecko_FloatTensor:$new_var);
  let assemblyFormat = [{
    $x `,` $weight `,` $bias `state` `(` $count `,` $mean `,` $var `)`
    (`bos` `(` $bos^ `)`)? (`padding` `(` $padding^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_TimestepNormGradOp : Gecko_PureOp<"timestep_norm_grad",
    [AttrSizedOperandSegments]> {
  let summary = "backward of gecko.timestep_norm";
  let description = [{
    Recomputes the forward from its inputs and back-propagates the upstream
    gradient `dy (B, L, D)` and, optionally, the gradients of the returned
    running mean / variance (`state_grads(%dmean, %dvar)`, both (B, G);
    zero when absent). Returns the gradients of `x`, `weight`, `bias`, and
    of the input `mean` and `var` (spec §1 backward). `count` gets none.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$weight,
      Gecko_FloatTensor:$bias, Gecko_IdTensor:$count,
      Gecko_FloatTensor:$mean, Gecko_FloatTensor:$var,
      Optional<Gecko_MaskTensor>:$bos, Optional<Gecko_MaskTensor>:$padding,
      Gecko_FloatTensor:$dy, Optional<Gecko_FloatTensor>:$d_new_mean,
      Optional<Gecko_FloatTensor>:$d_new_var,
      I64Attr:$num_groups, F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$dx, Gecko_FloatTensor:$dweight,
      Gecko_FloatTensor:$dbias, Gecko_FloatTensor:$dmean,
      Gecko_FloatTensor:$dvar);
  let assemblyFormat = [{
    $x `,` $weight `,` $bias `state` `(` $count `,` $mean `,` $var `)`
    (`bos` `(` $bos^ `)`)? (`padding` `(` $padding^ `)`)?
    `grad` `(` $dy `)`
    (`state_grads` `(` $d_new_mean^ `,` $d_new_var `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Complex EMA (spec §2)
//===----------------------------------------------------------------------===//

def Gecko_CemaCoeffsOp : Gecko_PureOp<"cema_coeffs"> {
  let summary = "complex EMA coefficients from the raw parameters";
  let description = [{
    From `alpha, delta (D, N)`, `theta (D)` and `gamma (D, N, 2)` computes
    `p = σ(alpha)` (f32), `q = (1 − σ(alpha)σ(delta))·e^{iφ}` with
    `φ[d, n] = (n + 1)·σ(theta[d])·2π/N` and the complex output weights
    `gamma_c = gamma[..., 0] + i·gamma[..., 1]` (spec §2). Coefficients are
    f32 / complex<f32> whatever the parameter type.
  }];
  let arguments = (ins Gecko_FloatTensor:$alpha, Gecko_FloatTensor:$delta,
      Gecko_FloatTensor:$theta, Gecko_FloatTensor:$gamma);
  let results = (outs Gecko_F32Tensor:$p, Gecko_ComplexTensor:$q,
      Gecko_ComplexTensor:$gamma_c);
  let assemblyFormat = [{
    $alpha `,` $delta `,` $theta `,` $gamma attr-dict `:`
    functional-type(operands, results)
  }];
}

def Gecko_CemaCoeffsGradOp : Gecko_PureOp<"cema_coeffs_grad"> {
  let summary = "backward of gecko.cema_coeffs";
  let description = [{
    Chains the gradients of `p`, `q`, `gamma_c` (PyTorch convention
    `dL/dRe + i·dL/dIm` for complex values) to the raw parameters `alpha`,
    `delta`, `theta`, `gamma` (spec §2: `d|q| = Re(dq·e^{−iφ})`,
    `dφ = Im(dq·conj(q))`).
  }];
  let arguments = (ins Gecko_FloatTensor:$alpha, Gecko_FloatTensor:$delta,
      Gecko_FloatTensor:$theta, Gecko_FloatTensor:$gamma,
      Gecko_F32Tensor:$dp, Gecko_ComplexTensor:$dq,
      Gecko_ComplexTensor:$dgamma_c);
  let results = (outs Gecko_FloatTensor:$dalpha, Gecko_FloatTensor:$ddelta,
      Gecko_FloatTensor:$dtheta, Gecko_FloatTensor:$dgamma);
  let assemblyFormat = [{
    $alpha `,` $delta `,` $theta `,` $gamma `grad` `(` $dp `,` $dq `,`
    $dgamma_c `)` attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_CemaOp : Gecko_PureOp<"cema", [AttrSizedOperandSegments]> {
  let summary = "multi-head complex exponential moving average";
  let description = [{
    Runs `h_t = a_t·h_{t−1} + p·x_t` (`a_t = 0` at a bos, else `q`) per
    (b, d, n) and returns `y_t = Σ_n Re(gamma_c·h_t) + x_t` (residual
    included) and the state after the last token (spec §2).

    Layout: `x` and `y` are `(B, L, D)`, like every activation of the
    dialect; the spec's `(B, D, L)` CEMA input is the transposed view of the
    same values. The coefficients `p (D, N) f32`, `q`, `gamma_c (D, N)
    complex<f32>` come from `gecko.cema_coeffs`. The carried state
    `hx (B, D, N) complex<f32>` is optional (zero when absent, i.e. a fresh
    stream); `new_h` is always returned. Optional `bos (B, L)` cuts the
    recurrence.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_F32Tensor:$p,
      Gecko_ComplexTensor:$q, Gecko_ComplexTensor:$gamma_c,
      Optional<Gecko_ComplexTensor>:$hx, Optional<Gecko_MaskTensor>:$bos);
  let results = (outs Gecko_FloatTensor:$y, Gecko_ComplexTensor:$new_h);
  let assemblyFormat = [{
    $x `,` $p `,` $q `,` $gamma_c (`state` `(` $hx^ `)`)?
    (`bos` `(` $bos^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_CemaGradOp : Gecko_PureOp<"cema_grad",
    [AttrSizedOperandSegments]> {
  let summary = "backward of gecko.cema";
  let description = [{
    Recomputes the scan and back-propagates `dy (B, L, D)` and the optional
    gradient of the returned state `d_new_h (B, D, N)`. Returns `dx`, `dp`,
    `dq`, `dgamma_c` and, exactly when `hx` is given, `dhx` (spec §2
    backward, PyTorch complex-gradient convention).
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_F32Tensor:$p,
      Gecko_ComplexTensor:$q, Gecko_ComplexTensor:$gamma_c,
      Optional<Gecko_ComplexTensor>:$hx, Optional<Gecko_MaskTensor>:$bos,
      Gecko_FloatTensor:$dy, Optional<Gecko_ComplexTensor>:$d_new_h);
  let results = (outs Gecko_FloatTensor:$dx, Gecko_F32Tensor:$dp,
      Gecko_ComplexTensor:$dq, Gecko_ComplexTensor:$dgamma_c,
      Optional<Gecko_ComplexTensor>:$dhx);
  let assemblyFormat = [{
    $x `,` $p `,` $q `,` $gamma_c (`state` `(` $hx^ `)`)?
    (`bos` `(` $bos^ `)`)? `grad` `(` $dy `)`
    (`state_grad` `(` $d_new_h^ `)`)? attr-dict
    `:` type(operands) `->` type($dx) `,` type($dp) `,` type($dq) `,`
    type($dgamma_c) (`state` `(` type($dhx)^ `)`)?
  }];
}

//===----------------------------------------------------------------------===//
// Norms and the z split (spec §3)
//===----------------------------------------------------------------------===//

def Gecko_RmsNormOp : Gecko_PureOp<"rms_norm"> {
  let summary = "group RMS norm over the last dimension";
  let description = [{
    `y = x·(mean_g(x²) + eps)^(−1/2)·(weight + 1)` over `num_groups` groups
    of consecutive channels of the last dimension `D` (spec §3). `weight (D)`
    is optional (no affine when absent). `x` has any rank ≥ 1.
  }];
  let arguments = (ins Gecko_FloatTensor:$x,
      Optional<Gecko_FloatTensor>:$weight, I64Attr:$num_groups,
      F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = [{
    $x (`weight` `(` $weight^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Gecko_RmsNormGradOp : Gecko_PureOp<"rms_norm_grad"> {
  let summary = "backward of gecko.rms_norm";
  let description = [{
    Returns `dx` and, exactly when `weight` is given, `dweight` (spec §3).
  }];
  let arguments = (ins Gecko_FloatTensor:$x,
      Optional<Gecko_FloatTensor>:$weight, Gecko_FloatTensor:$dy,
      I64Attr:$num_groups, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$dx,
      Optional<Gecko_FloatTensor>:$dweight);
  let assemblyFormat = [{
    $x (`weight` `(` $weight^ `)`)? `grad` `(` $dy `)` attr-dict `:`
    type(operands) `->` type($dx) (`weight` `(` type($dweight)^ `)`)?
  }];
}

def Gecko_LayerNormOp : Gecko_PureOp<"layer_norm",
    [AttrSizedOperandSegments]> {
  let summary = "group layer norm over the last dimension";
  let description = [{
    `y = (x − μ_g)·(var_g + eps)^(−1/2)·(weight + 1) + bias` with population
    statistics over `num_groups` groups of the last dimension (spec §3).
    `weight (D)` and `bias (D)` are each optional.
  }];
  let arguments = (ins Gecko_FloatTensor:$x,
      Optional<Gecko_FloatTensor>:$weight, Optional<Gecko_FloatTensor>:$bias,
      I64Attr:$num_groups, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = [{
    $x (`weight` `(` $weight^ `)`)? (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Gecko_LayerNormGradOp : Gecko_PureOp<"layer_norm_grad",
    [AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "backward of gecko.layer_norm";
  let description = [{
    Returns `dx` and, exactly when the matching operand is given, `dweight`
    and `dbias` (spec §3).
  }];
  let arguments = (ins Gecko_FloatTensor:$x,
      Optional<Gecko_FloatTensor>:$weight, Optional<Gecko_FloatTensor>:$bias,
      Gecko_FloatTensor:$dy, I64Attr:$num_groups, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$dx,
      Optional<Gecko_FloatTensor>:$dweight,
      Optional<Gecko_FloatTensor>:$dbias);
  let assemblyFormat = [{
    $x (`weight` `(` $weight^ `)`)? (`bias` `(` $bias^ `)`)?
    `grad` `(` $dy `)` attr-dict `:` type(operands) `->` type($dx)
    (`weight` `(` type($dweight)^ `)`)? (`bias` `(` type($dbias)^ `)`)?
  }];
}

def Gecko_ZSplitOp : Gecko_PureOp<"z_split"> {
  let summary = "per-head z-norm and the q/k/aq/ak split";
  let description = [{
    Normalises `z (B, L, Z)` with a per-head RMS norm (`num_heads` groups,
    no affine), then computes row `r` of
    `zn·(gamma + 1)/√dz + beta` for `gamma, beta (4, Z)` and returns the rows
    as `q, k, aq, ak`, each `(B, L, Z)` (spec §3, `dz = Z / num_heads`).
  }];
  let arguments = (ins Gecko_FloatTensor:$z, Gecko_FloatTensor:$gamma,
      Gecko_FloatTensor:$beta, I64Attr:$num_heads, F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$q, Gecko_FloatTensor:$k,
      Gecko_FloatTensor:$aq, Gecko_FloatTensor:$ak);
  let assemblyFormat = [{
    $z `,` $gamma `,` $beta attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_ZSplitGradOp : Gecko_PureOp<"z_split_grad"> {
  let summary = "backward of gecko.z_split";
  let description = [{
    From the gradients of `q, k, aq, ak` returns `dz`, `dgamma`, `dbeta`.
  }];
  let arguments = (ins Gecko_FloatTensor:$z, Gecko_FloatTensor:$gamma,
      Gecko_FloatTensor:$beta, Gecko_FloatTensor:$dq, Gecko_FloatTensor:$dk,
      Gecko_FloatTensor:$daq, Gecko_FloatTensor:$dak, I64Attr:$num_heads,
      F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$dz, Gecko_FloatTensor:$dgamma,
      Gecko_FloatTensor:$dbeta);
  let assemblyFormat = [{
    $z `,` $gamma `,` $beta `grad` `(` $dq `,` $dk `,` $daq `,` $dak `)`
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Rotary embedding (spec §4)
//===----------------------------------------------------------------------===//

def Gecko_RopeOp : Gecko_PureOp<"rope"> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates adjacent pairs `(x[2j], x[2j+1])` of `x (B, L, H, d)` by
    `pos·base^(−2j/d)` for the heads `0 .. num_rope_heads − 1` (all heads
    when the attribute is absent), `pos = start + t` (spec §4). `start`, the
    number of tokens already processed, is an SSA value because it changes
    from call to call in streaming.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_Position:$start,
      F64Attr:$base, OptionalAttr<I64Attr>:$num_rope_heads);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = [{
    $x `start` `(` $start `)` attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_RopeGradOp : Gecko_PureOp<"rope_grad"> {
  let summary = "backward of gecko.rope";
  let description = [{
    Rotates the gradient pairs of `dy` by the negative angle; needs no
    forward input besides the positions.
  }];
  let arguments = (ins Gecko_FloatTensor:$dy, Gecko_Position:$start,
      F64Attr:$base, OptionalAttr<I64Attr>:$num_rope_heads);
  let results = (outs Gecko_FloatTensor:$dx);
  let assemblyFormat = [{
    $dy `start` `(` $start `)` attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Sliding chunk attention (spec §5)
//===----------------------------------------------------------------------===//

def Gecko_ChunkAttentionOp : Gecko_PureOp<"chunk_attention",
    [AttrSizedOperandSegments]> {
  let summary = "sliding chunk attention";
  let description = [{
    Softmax attention with scale 1.0 over `q, k (B, L, H, dk)` and
    `v (B, L, H, dv)`; result `(B, L, H, dv)` (spec §5).

    `path = chunked` (requires `L % chunk_size == 0`): chunk `c` attends to
    chunks `c − 1` and `c`; chunk 0 attends to the optional cache
    `cache(%prev_k, %prev_v)` of exactly `chunk_size` tokens.
    `path = short` (requires `L < chunk_size`): keys are `[prev_k ; k]`, the
    cache holding at most `2·chunk_size − 1` tokens.
    `causal` enables the bottom-right aligned causal mask. Optional segment
    ids `segments(%seg (B, L) [, %prev_seg (B, T)])` restrict attention to
    equal ids; `prev_seg` is required exactly when a cache is given.

    The new cache (the last `chunk_size` keys / values, or the
    concatenation) is plain tensor slicing and is left to the caller.
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path, Gecko_FloatTensor:$q,
      Gecko_FloatTensor:$k, Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      I64Attr:$chunk_size, UnitAttr:$causal);
  let results = (outs Gecko_FloatTensor:$out);
  let assemblyFormat = [{
    $path $q `,` $k `,` $v (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^)? `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_ChunkAttentionGradOp : Gecko_PureOp<"chunk_attention_grad",
    [AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "backward of gecko.chunk_attention";
  let description = [{
    Recomputes the attention from the forward's operands and back-propagates
    `dout (B, L, H, dv)`. Returns `dq`, `dk`, `dv` and, exactly when a cache
    is given, the cache gradients `dprev_k`, `dprev_v` (spec §5).
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path, Gecko_FloatTensor:$q,
      Gecko_FloatTensor:$k, Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      Gecko_FloatTensor:$dout, I64Attr:$chunk_size, UnitAttr:$causal);
  let results = (outs Gecko_FloatTensor:$dq, Gecko_FloatTensor:$dk,
      Gecko_FloatTensor:$dv, Optional<Gecko_FloatTensor>:$dprev_k,
      Optional<Gecko_FloatTensor>:$dprev_v);
  let assemblyFormat = [{
    $path $q `,` $k `,` $v (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^)? `)`)? `grad` `(` $dout `)`
    attr-dict `:` type(operands) `->` type($dq) `,` type($dk) `,` type($dv)
    (`cache` `(` type($dprev_k)^ `,` type($dprev_v) `)`)?
  }];
}

//===----------------------------------------------------------------------===//
// Adaptive working memory (spec §6)
//===----------------------------------------------------------------------===//

def Gecko_WorkingMemoryOp : Gecko_PureOp<"working_memory",
    [AttrSizedOperandSegments]> {
  let summary = "adaptive working memory read and chunk writes";
  let description = [{
    Reads `softmax(aq)·M` from the carried memory and writes the pending
    chunk into it with the delta rule (spec §6). Activations use the
    dialect's head-split layout: `aq, ak (B, L, H, dz)`, `v (B, L, H, dv)`
    (the spec's `(B, H, L, ·)` is the transposed view), so the value cache
    is the one of `gecko.chunk_attention`.

    Optional groups: `memory(%m (B, H, dz, dv), %lnt (B, H, dz) f32)` (absent
    on a fresh stream; requires a cache), `cache(%prev_k (B, T, H, dz),
    %prev_v (B, T, H, dv))` (the pending chunk), and
    `segments(%seg (B, L) [, %prev_seg (B, T), %prev_count (B)])` where the
    bracketed part is required exactly when a cache is given.

    `path = chunked` requires `L % chunk_size == 0` and a cache of exactly
    `chunk_size` tokens; `path = short` requires `L < chunk_size` and
    `T + L <= chunk_size` without memory, `chunk_size < T + L <= 2·chunk_size`
    with memory.

    Results: `out (B, L, H, dv)` and the new `memory`, `lnt`. When no memory
    exists after the call (short path, no input memory, `T + L < C`) the
    returned pair is the empty memory (zeros, `−inf`); the caller keeps
    treating the memory as absent until the first full chunk.
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path, Gecko_FloatTensor:$aq,
      Gecko_FloatTensor:$ak, Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$memory, Optional<Gecko_F32Tensor>:$lnt,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      Optional<Gecko_IdTensor>:$prev_count, I64Attr:$chunk_size);
  let results = (outs Gecko_FloatTensor:$out, Gecko_FloatTensor:$new_memory,
      Gecko_F32Tensor:$new_lnt);
  let assemblyFormat = [{
    $path $aq `,` $ak `,` $v (`memory` `(` $memory^ `,` $lnt `)`)?
    (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^ `,` $prev_count)? `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_WorkingMemoryGradOp : Gecko_PureOp<"working_memory_grad",
    [AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "backward of gecko.working_memory";
  let description = [{
    Recomputes the forward and back-propagates `dout (B, L, H, dv)` and the
    optional gradients of the returned memory / lnt
    (`state_grads(%dm, %dlnt)`). Returns `daq`, `dak`, `dv`, then
    `memory(dmemory, dlnt)` exactly when a memory is given and
    `cache(dprev_k, dprev_v)` exactly when a cache is given (spec §6).
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path, Gecko_FloatTensor:$aq,
      Gecko_FloatTensor:$ak, Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$memory, Optional<Gecko_F32Tensor>:$lnt,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      Optional<Gecko_IdTensor>:$prev_count, Gecko_FloatTensor:$dout,
      Optional<Gecko_FloatTensor>:$d_new_memory,
      Optional<Gecko_F32Tensor>:$d_new_lnt, I64Attr:$chunk_size);
  let results = (outs Gecko_FloatTensor:$daq, Gecko_FloatTensor:$dak,
      Gecko_FloatTensor:$dv, Optional<Gecko_FloatTensor>:$dmemory,
      Optional<Gecko_F32Tensor>:$dlnt, Optional<Gecko_FloatTensor>:$dprev_k,
      Optional<Gecko_FloatTensor>:$dprev_v);
  let assemblyFormat = [{
    $path $aq `,` $ak `,` $v (`memory` `(` $memory^ `,` $lnt `)`)?
    (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^ `,` $prev_count)? `)`)?
    `grad` `(` $dout `)`
    (`state_grads` `(` $d_new_memory^ `,` $d_new_lnt `)`)?
    attr-dict `:` type(operands) `->` type($daq) `,` type($dak) `,` type($dv)
    (`memory` `(` type($dmemory)^ `,` type($dlnt) `)`)?
    (`cache` `(` type($dprev_k)^ `,` type($dprev_v) `)`)?
  }];
}

//===----------------------------------------------------------------------===//
// Fused attention prologue / epilogue (gecko-fuse-attention-prologue,
// gecko-fuse-attention-epilogue; docs/passes/fusion.md)
//===----------------------------------------------------------------------===//

def Gecko_FusedChunkAttentionOp : Gecko_PureOp<"fused_chunk_attention",
    [AttrSizedOperandSegments]> {
  let summary = "sliding chunk attention with a fused prologue / epilogue";
  let description = [{
    `gecko.chunk_attention` (spec §5; same `path`, `cache`, `segments`,
    `chunk_size`, `causal`) whose queries/keys and output are formed in the
    attention kernel instead of being read from / written to tensors of
    their own. Exactly one of the two prologues:

    - `qk(%q, %k)`: plain queries and keys `(B, L, H, dk)`, as the unfused op;
    - `zsplit(%z, %gamma, %beta)`: the z split of spec §3 done per tile.
      `z (B, L, H, dk)` is the un-normalised projection (head-split view of
      the input of `gecko.z_split`), `gamma, beta (4, H, dk)` its
      parameters. Each tile normalises its rows of z per head
      (`eps`, required here) and forms
      `q = zn·(γ₀+1)/√dk + β₀`, `k = zn·(γ₁+1)/√dk + β₁` (rounded to the
      activation type as `gecko.z_split` does); with `rope(%start)`
      (`rope_base`, optional `num_rope_heads`) both are then rotated as by
      `gecko.rope`. The cache `prev_k` holds already-rotated keys.

    Optional epilogue `epilogue(%addend [, gate %gate])`, both
    `(B, L, H, dv)`: the result is `attention·gate + addend` (the MEGA
    block's `sca·r + awm`), written once.

    Results: `out (B, L, H, dv)` and, only with `zsplit` and when asked for
    (second result type), `key_cache (B, min(L, C), H, dk)`: the rotated
    keys of the call's last `min(L, C)` tokens — exactly the rows the §9
    cache update keeps (`[L − C, L)` on the chunked path, all L rows on the
    short path), so that streaming never needs the full k.
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path,
      Optional<Gecko_FloatTensor>:$q, Optional<Gecko_FloatTensor>:$k,
      Optional<Gecko_FloatTensor>:$z, Optional<Gecko_FloatTensor>:$gamma,
      Optional<Gecko_FloatTensor>:$beta, Optional<Gecko_Position>:$start,
      Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      Optional<Gecko_FloatTensor>:$addend, Optional<Gecko_FloatTensor>:$gate,
      I64Attr:$chunk_size, UnitAttr:$causal, OptionalAttr<F64Attr>:$eps,
      OptionalAttr<F64Attr>:$rope_base, OptionalAttr<I64Attr>:$num_rope_heads);
  let results = (outs Gecko_FloatTensor:$out,
      Optional<Gecko_FloatTensor>:$key_cache);
  let assemblyFormat = [{
    $path (`qk` `(` $q^ `,` $k `)`)?
    (`zsplit` `(` $z^ `,` $gamma `,` $beta `)`)? (`rope` `(` $start^ `)`)?
    `values` `(` $v `)` (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^)? `)`)?
    (`epilogue` `(` $addend^ (`,` `gate` $gate^)? `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_FusedWorkingMemoryOp : Gecko_PureOp<"fused_working_memory",
    [AttrSizedOperandSegments]> {
  let summary = "adaptive working memory with the z split in its prologue";
  let description = [{
    `gecko.working_memory` (spec §6; same `path`, `memory`, `cache`,
    `segments`, `chunk_size`) whose `aq, ak` are formed per (batch, head)
    from `zsplit(%z, %gamma, %beta)` (`z (B, L, H, dz)` un-normalised,
    `gamma, beta (4, H, dz)`, rows 2 and 3; `eps` of the per-head norm) as
    `gecko.z_split` computes them, instead of being read from tensors.

    Results: `out`, `new_memory`, `new_lnt` as `gecko.working_memory` and,
    when asked for (fourth result type), `key_cache (B, min(L, C), H, dz)`:
    `ak` of the call's last `min(L, C)` tokens, the rows the §9 cache
    update keeps.
  }];
  let arguments = (ins Gecko_ChunkPathAttr:$path, Gecko_FloatTensor:$z,
      Gecko_FloatTensor:$gamma, Gecko_FloatTensor:$beta, Gecko_FloatTensor:$v,
      Optional<Gecko_FloatTensor>:$memory, Optional<Gecko_F32Tensor>:$lnt,
      Optional<Gecko_FloatTensor>:$prev_k, Optional<Gecko_FloatTensor>:$prev_v,
      Optional<Gecko_IdTensor>:$seg, Optional<Gecko_IdTensor>:$prev_seg,
      Optional<Gecko_IdTensor>:$prev_count, I64Attr:$chunk_size,
      F64Attr:$eps);
  let results = (outs Gecko_FloatTensor:$out, Gecko_FloatTensor:$new_memory,
      Gecko_F32Tensor:$new_lnt, Optional<Gecko_FloatTensor>:$key_cache);
  let assemblyFormat = [{
    $path `zsplit` `(` $z `,` $gamma `,` $beta `)` `values` `(` $v `)`
    (`memory` `(` $memory^ `,` $lnt `)`)?
    (`cache` `(` $prev_k^ `,` $prev_v `)`)?
    (`segments` `(` $seg^ (`,` $prev_seg^ `,` $prev_count)? `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Model-graph operators (spec §7)
//===----------------------------------------------------------------------===//

def Gecko_EmbeddingOp : Gecko_PureOp<"embedding"> {
  let summary = "token embedding lookup";
  let description = [{
    `out[b, t, :] = table[tokens[b, t], :]` for `table (V, D)` and
    `tokens (B, L) i64`; result `(B, L, D)`. Out-of-range ids are undefined
    behaviour at run time.
  }];
  let arguments = (ins Gecko_FloatTensor:$table, Gecko_IdTensor:$tokens);
  let results = (outs Gecko_FloatTensor:$out);
  let assemblyFormat = [{
    $table `[` $tokens `]` attr-dict `:` functional-type(operands, results)
  }];
}

def Gecko_SwiGluOp : Gecko_Op<"swiglu",
    [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU gate silu(a)·b";
  let description = [{
    Elementwise `silu(gate)·up` of the NFFN (spec §7); the linear layers
    around it stay `linalg.matmul`.
  }];
  let arguments = (ins Gecko_FloatTensor:$gate, Gecko_FloatTensor:$up);
  let results = (outs Gecko_FloatTensor:$out);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($out)";
}

def Gecko_CrossEntropyOp : Gecko_PureOp<"cross_entropy"> {
  let summary = "mean token cross-entropy";
  let description = [{
    `loss = mean_{b,t} (logsumexp(logits[b, t, :]) − logits[b, t, labels[b, t]])`
    for `logits (B, L, V)` and `labels (B, L) i64`; `loss` is an f32 scalar
    tensor. For next-token training pass `logits[:, :-1]` and
    `tokens[:, 1:]` (plain `tensor.extract_slice`).
  }];
  let arguments = (ins Gecko_FloatTensor:$logits, Gecko_IdTensor:$labels);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Dense layers and elementwise ops of the block (spec §7, §8)
//===----------------------------------------------------------------------===//

def Gecko_LinearOp : Gecko_PureOp<"linear"> {
  let summary = "dense layer x·Wᵀ + bias";
  let description = [{
    `y = x·weightᵀ + bias` for `x (..., in)`, `weight (out, in)` (the
    reference checkpoint layout) and the optional `bias (out)`; result
    `(..., out)` (spec §7). Products accumulate in f32 whatever the
    activation type.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$weight,
      Optional<Gecko_FloatTensor>:$bias);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = [{
    $x `,` $weight (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Gecko_LinearGradOp : Gecko_PureOp<"linear_grad"> {
  let summary = "backward of gecko.linear";
  let description = [{
    For the upstream `dy (..., out)` returns `dx = dy·weight (..., in)`,
    `dweight = Σ dyᵀ·x (out, in)` over every leading position and, exactly
    when `bias` is given, `dbias = Σ dy (out)`.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$weight,
      Optional<Gecko_FloatTensor>:$bias, Gecko_FloatTensor:$dy);
  let results = (outs Gecko_FloatTensor:$dx, Gecko_FloatTensor:$dweight,
      Optional<Gecko_FloatTensor>:$dbias);
  let assemblyFormat = [{
    $x `,` $weight (`bias` `(` $bias^ `)`)? `grad` `(` $dy `)` attr-dict `:`
    type(operands) `->` type($dx) `,` type($dweight)
    (`bias` `(` type($dbias)^ `)`)?
  }];
}

def Gecko_SiluOp : Gecko_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "SiLU activation x·σ(x)";
  let description = [{
    Elementwise `silu(x) = x·σ(x)` (spec notation), computed in f32.
  }];
  let arguments = (ins Gecko_FloatTensor:$x);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($y)";
}

def Gecko_SiluGradOp : Gecko_Op<"silu_grad",
    [Pure, SameOperandsAndResultType]> {
  let summary = "backward of gecko.silu";
  let description = [{
    `dx = dy·σ(x)·(1 + x·(1 − σ(x)))`, elementwise.
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$dy);
  let results = (outs Gecko_FloatTensor:$dx);
  let assemblyFormat = "$x `grad` `(` $dy `)` attr-dict `:` type($dx)";
}

def Gecko_GatedAddOp : Gecko_PureOp<"gated_add"> {
  let summary = "elementwise a·gate + b (or a + b)";
  let description = [{
    `y = a·gate + b` elementwise for equally shaped tensors; without `gate`
    a plain sum `a + b`. The MEGA block's `sca·r + awm` and its residual
    sums (spec §8) are this op.
  }];
  let arguments = (ins Gecko_FloatTensor:$a, Gecko_FloatTensor:$b,
      Optional<Gecko_FloatTensor>:$gate);
  let results = (outs Gecko_FloatTensor:$y);
  let assemblyFormat = [{
    $a `,` $b (`gate` `(` $gate^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Gecko_GatedAddGradOp : Gecko_PureOp<"gated_add_grad"> {
  let summary = "backward of gecko.gated_add";
  let description = [{
    For the upstream `dy` returns `da = dy·gate` (`dy` without gate),
    `db = dy` and, exactly when `gate` is given, `dgate = dy·a`.
  }];
  let arguments = (ins Gecko_FloatTensor:$a, Gecko_FloatTensor:$b,
      Optional<Gecko_FloatTensor>:$gate, Gecko_FloatTensor:$dy);
  let results = (outs Gecko_FloatTensor:$da, Gecko_FloatTensor:$db,
      Optional<Gecko_FloatTensor>:$dgate);
  let assemblyFormat = [{
    $a `,` $b (`gate` `(` $gate^ `)`)? `grad` `(` $dy `)` attr-dict `:`
    type(operands) `->` type($da) `,` type($db)
    (`gate` `(` type($dgate)^ `)`)?
  }];
}

//===----------------------------------------------------------------------===//
// Fused forms (passes/Fusion)
//===----------------------------------------------------------------------===//

def Gecko_FusedNormEmaOp : Gecko_PureOp<"fused_norm_ema",
    [AttrSizedOperandSegments]> {
  let summary = "timestep norm → complex EMA → group RMS norm in one op";
  let description = [{
    The MEGA block's input chain (spec §8) as one op, made by
    `gecko-fuse-norm-ema`:
    `tsn = timestep_norm(x)`, `ce = cema(tsn)` (residual included),
    `y = rms_norm(ce)`. `ce` is never a result: the lowering computes it
    per (batch, time chunk) tile and normalises it in the same tile.
    `tsn` is returned because the block also feeds it to `wv`; when it has
    no uses the lowering does not write it.

    Operands: `x (B, L, D)`; the timestep norm's `norm(weight, bias)` (D)
    and carried `state(count (B) i64, mean (B, G), var (B, G))`; the EMA
    coefficients `ema(p (D, N) f32, q (D, N), gamma_c (D, N) complex<f32>)`
    from `gecko.cema_coeffs` and the optional carried `ema_state(hx
    (B, D, N))` (zero when absent); optional `bos (B, L)` (both scans
    restart there); optional `rms_weight(w (D))` (no affine when absent).
    Attributes: the timestep norm's `num_groups`, `beta1`, `beta2`, `eps`
    and the RMS norm's `rms_num_groups`, `rms_eps`.

    Results: `y (B, L, D)` (the RMS norm output), `tsn (B, L, D)`, the new
    timestep-norm state `new_count`, `new_mean`, `new_var` and the new EMA
    state `new_h (B, D, N)`, exactly as the three unfused ops return them.
    `tsn` and `ce` are rounded to the activation type at the same points as
    in the unfused chain.

    ```mlir
    %y, %tsn, %c, %m, %v, %h = gecko.fused_norm_ema %x norm(%w, %b)
        state(%count, %mean, %var) ema(%p, %q, %gamma) ema_state(%hx)
        bos(%bos) rms_weight(%rw) {num_groups = 2 : i64, beta1 = 0.999 : f64,
        beta2 = 0.9999 : f64, eps = 1.0e-05 : f64, rms_num_groups = 1 : i64,
        rms_eps = 1.0e-05 : f64} : (...) -> (...)
    ```
  }];
  let arguments = (ins Gecko_FloatTensor:$x, Gecko_FloatTensor:$norm_weight,
      Gecko_FloatTensor:$norm_bias, Gecko_IdTensor:$count,
      Gecko_FloatTensor:$mean, Gecko_FloatTensor:$var, Gecko_F32Tensor:$p,
      Gecko_ComplexTensor:$q, Gecko_ComplexTensor:$gamma_c,
      Optional<Gecko_ComplexTensor>:$hx, Optional<Gecko_MaskTensor>:$bos,
      Optional<Gecko_FloatTensor>:$rms_weight,
      I64Attr:$num_groups, F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps,
      I64Attr:$rms_num_groups, F64Attr:$rms_eps);
  let results = (outs Gecko_FloatTensor:$y, Gecko_FloatTensor:$tsn,
      Gecko_IdTensor:$new_count, Gecko_FloatTensor:$new_mean,
      Gecko_FloatTensor:$new_var, Gecko_ComplexTensor:$new_h);
  let assemblyFormat = [{
    $x `norm` `(` $norm_weight `,` $norm_bias `)`
    `state` `(` $count `,` $mean `,` $var `)`
    `ema` `(` $p `,` $q `,` $gamma_c `)`
    (`ema_state` `(` $hx^ `)`)? (`bos` `(` $bos^ `)`)?
    (`rms_weight` `(` $rms_weight^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

#endif // GECKO_DIALECT_GECKO_IR_GECKOOPS_TD
