// RUN: gecko-opt %s --gecko-fuse-attention-epilogue --split-input-file | FileCheck %s
// RUN: gecko-opt %s --gecko-fuse-attention-prologue --gecko-fuse-attention-epilogue --split-input-file | FileCheck %s --check-prefix=BOTH
// RUN: gecko-opt %s --gecko-fuse-attention-epilogue --gecko-fuse-attention-prologue --split-input-file | FileCheck %s --check-prefix=BOTH
// RUN: gecko-opt %s --gecko-fuse-attention-prologue --gecko-fuse-attention-epilogue --gecko-convert-to-linalg --split-input-file | FileCheck %s --check-prefix=LOWER
// gecko-fuse-attention-epilogue: gated_add(collapse(sca), awm, gate r) becomes
// the epilogue of the attention op, placed at the gated_add (awm computed
// first), writing sca·r + awm once. With the prologue fusion too (either
// order) the whole MEGA attention is two fused ops.

// The MEGA block's form: heads merged with collapse_shape, r (B, L, H·dv).
// CHECK-LABEL: func.func @mega
// CHECK: %[[AWM:.*]], %{{.*}}, %{{.*}} = gecko.working_memory chunked
// CHECK: %[[R:.*]] = tensor.expand_shape %arg5 {{\[}}[0], [1], [2, 3]] output_shape [1, 8, 2, 6] : tensor<1x8x12xf32> into tensor<1x8x2x6xf32>
// CHECK: %[[OUT:.*]] = gecko.fused_chunk_attention chunked qk(%{{.*}}, %{{.*}}) values(%arg4) epilogue(%[[AWM]], gate %[[R]]) {causal, chunk_size = 4 : i64} : {{.*}} -> tensor<1x8x2x6xf32>
// CHECK: %[[ATTN:.*]] = tensor.collapse_shape %[[OUT]] {{\[}}[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
// CHECK-NOT: gecko.gated_add %
// CHECK-NOT: gecko.chunk_attention
// CHECK: %[[RES:.*]] = gecko.gated_add %[[ATTN]], %arg6
// CHECK: return %[[RES]]
// BOTH-LABEL: func.func @mega
// BOTH-NOT: gecko.z_split
// BOTH: %[[AWM:.*]], %{{.*}}, %{{.*}} = gecko.fused_working_memory chunked zsplit(
// BOTH: %[[OUT:.*]] = gecko.fused_chunk_attention chunked zsplit(%{{.*}}, %{{.*}}, %{{.*}}) rope(%arg3) values(%arg4) epilogue(%[[AWM]], gate %{{.*}}) {causal, chunk_size = 4 : i64, eps = 1.000000e-05 : f64, rope_base = 5.000000e+05 : f64}
// BOTH-NOT: gecko.rope
// BOTH-NOT: gecko.chunk_attention
// BOTH-NOT: gecko.working_memory
// LOWER-LABEL: func.func @mega
// LOWER-NOT: gecko.fused
// LOWER: scf.forall
// LOWER: return
// LOWER-LABEL: func.func @fused_stream_no_gate
func.func @mega(%z: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %start: i64, %v: tensor<1x8x2x6xf32>, %r: tensor<1x8x12xf32>, %res: tensor<1x8x12xf32>) -> tensor<1x8x12xf32> {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qr, %kr, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  %a = tensor.collapse_shape %sca [[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
  %b = tensor.collapse_shape %out [[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
  %attn = gecko.gated_add %a, %b gate(%r) : (tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>) -> tensor<1x8x12xf32>
  %y = gecko.gated_add %attn, %res : (tensor<1x8x12xf32>, tensor<1x8x12xf32>) -> tensor<1x8x12xf32>
  return %y : tensor<1x8x12xf32>
}

// -----

// A streaming attention already fused with its prologue: the fused op moves to
// the gated_add and keeps its key_cache result (used after it). Without a
// gate the epilogue is a plain sum; the addend (not a head merge) is
// expanded.
// CHECK-LABEL: func.func @fused_stream_no_gate
// BOTH-LABEL: func.func @fused_stream_no_gate
// CHECK: %[[B:.*]] = tensor.expand_shape %arg8
// CHECK: %[[OUT:.*]], %[[KC:.*]] = gecko.fused_chunk_attention short zsplit(%arg0, %arg1, %arg1) rope(%arg2) values(%arg3) cache(%arg4, %arg5) epilogue(%[[B]]) {causal, chunk_size = 4 : i64, eps = 1.000000e-05 : f64, rope_base = 5.000000e+05 : f64}
// CHECK: %[[ATTN:.*]] = tensor.collapse_shape %[[OUT]]
// CHECK: %[[NK:.*]] = tensor.concat dim(1) %arg4, %[[KC]]
// CHECK: return %[[ATTN]], %[[NK]]
func.func @fused_stream_no_gate(%z: tensor<1x2x2x4xf32>, %g: tensor<4x2x4xf32>, %start: i64, %v: tensor<1x2x2x6xf32>, %pk: tensor<1x5x2x4xf32>, %pv: tensor<1x5x2x6xf32>, %x: tensor<1x2x12xf32>, %w: tensor<12x12xf32>, %b: tensor<1x2x12xf32>) -> (tensor<1x2x12xf32>, tensor<1x7x2x4xf32>) {
  %sca, %kc = gecko.fused_chunk_attention short zsplit(%z, %g, %g) rope(%start) values(%v) cache(%pk, %pv) {causal, chunk_size = 4 : i64, eps = 1.0e-5 : f64, rope_base = 5.0e5 : f64} : (tensor<1x2x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, i64, tensor<1x2x2x6xf32>, tensor<1x5x2x4xf32>, tensor<1x5x2x6xf32>) -> (tensor<1x2x2x6xf32>, tensor<1x2x2x4xf32>)
  %a = tensor.collapse_shape %sca [[0], [1], [2, 3]] : tensor<1x2x2x6xf32> into tensor<1x2x12xf32>
  %attn = gecko.gated_add %a, %b : (tensor<1x2x12xf32>, tensor<1x2x12xf32>) -> tensor<1x2x12xf32>
  %nk = tensor.concat dim(1) %pk, %kc : (tensor<1x5x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x7x2x4xf32>
  return %attn, %nk : tensor<1x2x12xf32>, tensor<1x7x2x4xf32>
}

// -----

// Negative: the attention output has another user (returned), the attention
// is the non-gated operand, and the key cache is read before the gated_add.
// CHECK-LABEL: func.func @not_fused
// CHECK-NOT: epilogue
// CHECK: gecko.gated_add
// CHECK: gecko.gated_add
// CHECK: gecko.gated_add
func.func @not_fused(%q: tensor<1x8x2x4xf32>, %v: tensor<1x8x2x6xf32>, %r: tensor<1x8x12xf32>, %z: tensor<1x8x2x4xf32>, %g: tensor<4x2x4xf32>) -> (tensor<1x8x12xf32>, tensor<1x8x2x6xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x4x2x4xf32>) {
  %sca = gecko.chunk_attention chunked %q, %q, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %a = tensor.collapse_shape %sca [[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
  %used = gecko.gated_add %a, %r gate(%r) : (tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>) -> tensor<1x8x12xf32>
  %sca2 = gecko.chunk_attention chunked %q, %q, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %a2 = tensor.collapse_shape %sca2 [[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
  %swapped = gecko.gated_add %r, %a2 gate(%r) : (tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>) -> tensor<1x8x12xf32>
  %sca3, %kc = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {causal, chunk_size = 4 : i64, eps = 1.0e-5 : f64} : (tensor<1x8x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>)
  %early = tensor.extract_slice %kc[0, 0, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1] : tensor<1x4x2x4xf32> to tensor<1x4x2x4xf32>
  %a3 = tensor.collapse_shape %sca3 [[0], [1], [2, 3]] : tensor<1x8x2x6xf32> into tensor<1x8x12xf32>
  %late = gecko.gated_add %a3, %r gate(%r) : (tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>) -> tensor<1x8x12xf32>
  return %used, %sca, %swapped, %late, %early : tensor<1x8x12xf32>, tensor<1x8x2x6xf32>, tensor<1x8x12xf32>, tensor<1x8x12xf32>, tensor<1x4x2x4xf32>
}
