// RUN: gecko-opt %s --gecko-fuse-attention-prologue --split-input-file | FileCheck %s
// RUN: gecko-opt %s --gecko-fuse-attention-prologue --gecko-convert-to-linalg --split-input-file | FileCheck %s --check-prefix=LOWER
// gecko-fuse-attention-prologue: z_split (+ rope) feeding chunk_attention /
// working_memory becomes the z split prologue of gecko.fused_chunk_attention /
// gecko.fused_working_memory (q, k, aq, ak never materialised); the cache
// slices of the rotated k and of ak read the fused ops' key_cache. Negative
// cases keep the unfused ops.

// The MEGA block's chunked streaming form (lib/Model/ModelBuilder.cpp): L = 8,
// C = 4, H = 2, dz = 4, dv = 6, cache + memory + segments, rope; the §9 cache
// keeps rows [4, 8) of the rotated k and of ak.
// CHECK-LABEL: func.func @mega_chunked_stream
// CHECK-NOT: gecko.z_split
// CHECK-DAG: %[[Z:.*]] = tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
// CHECK-DAG: %[[G:.*]] = tensor.expand_shape %arg1 {{\[}}[0], [1, 2]] output_shape [4, 2, 4] : tensor<4x8xf32> into tensor<4x2x4xf32>
// CHECK-DAG: %[[B:.*]] = tensor.expand_shape %arg2 {{\[}}[0], [1, 2]] output_shape [4, 2, 4] : tensor<4x8xf32> into tensor<4x2x4xf32>
// CHECK-NOT: gecko.rope
// CHECK: %[[SCA:.*]], %[[KC:.*]] = gecko.fused_chunk_attention chunked zsplit(%[[Z]], %[[G]], %[[B]]) rope(%arg3) values(%arg4) cache(%arg5, %arg6) segments(%arg10, %arg11) {causal, chunk_size = 4 : i64, eps = 1.000000e-05 : f64, rope_base = 5.000000e+05 : f64} : {{.*}} -> (tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>)
// CHECK: %[[AWM:.*]], %[[NM:.*]], %[[NL:.*]], %[[AKC:.*]] = gecko.fused_working_memory chunked zsplit(%[[Z]], %[[G]], %[[B]]) values(%arg4) memory(%arg8, %arg9) cache(%{{.*}}, %arg6) segments(%arg10, %arg11, %arg12) {chunk_size = 4 : i64, eps = 1.000000e-05 : f64} : {{.*}} -> (tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>, tensor<1x4x2x4xf32>)
// CHECK-NOT: gecko.chunk_attention
// CHECK-NOT: gecko.working_memory
// CHECK: %[[NK:.*]] = tensor.extract_slice %[[KC]][0, 0, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1]
// CHECK: %[[NAK:.*]] = tensor.extract_slice %[[AKC]][0, 0, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1]
// CHECK: return %[[SCA]], %[[AWM]], %[[NK]], %[[NAK]], %[[NM]], %[[NL]]
// LOWER-LABEL: func.func @mega_chunked_stream
// LOWER-NOT: gecko.
// LOWER: scf.forall
// LOWER: math.rsqrt
// LOWER: math.cos
// LOWER: return
func.func @mega_chunked_stream(%z: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %start: i64, %v: tensor<1x8x2x6xf32>, %pk: tensor<1x4x2x4xf32>, %pv: tensor<1x4x2x6xf32>, %awk: tensor<1x2x4x4xf32>, %m: tensor<1x2x4x6xf32>, %lnt: tensor<1x2x4xf32>, %seg: tensor<1x8xi64>, %ps: tensor<1x4xi64>, %pc: tensor<1xi64>) -> (tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x4xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qr, %kr, %v cache(%pk, %pv) segments(%seg, %ps) {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x6xf32>, tensor<1x8xi64>, tensor<1x4xi64>) -> tensor<1x8x2x6xf32>
  %init = tensor.empty() : tensor<1x4x2x4xf32>
  %awkt = linalg.transpose ins(%awk : tensor<1x2x4x4xf32>) outs(%init : tensor<1x4x2x4xf32>) permutation = [0, 2, 1, 3]
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v memory(%m, %lnt) cache(%awkt, %pv) segments(%seg, %ps, %pc) {chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x6xf32>, tensor<1x8xi64>, tensor<1x4xi64>, tensor<1xi64>) -> (tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  %nk = tensor.extract_slice %kr[0, 4, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1] : tensor<1x8x2x4xf32> to tensor<1x4x2x4xf32>
  %nak = tensor.extract_slice %akh[0, 4, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1] : tensor<1x8x2x4xf32> to tensor<1x4x2x4xf32>
  return %sca, %out, %nk, %nak, %nm, %nl : tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x4xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>
}

// -----

// Short path (decode, L = 1) with a cache of 5: the cache update is
// [prev ; k], so every row of k is kept (key_cache = k, any use rewired);
// rope on one of the two heads; no rope → the op keeps no rope group.
// CHECK-LABEL: func.func @decode_concat
// CHECK: %[[SCA:.*]], %[[KC:.*]] = gecko.fused_chunk_attention short zsplit(%{{.*}}, %{{.*}}, %{{.*}}) rope(%arg3) values(%arg4) cache(%arg5, %arg6) {causal, chunk_size = 4 : i64, eps = 1.000000e-05 : f64, num_rope_heads = 1 : i64, rope_base = 1.000000e+04 : f64} : {{.*}} -> (tensor<1x1x2x6xf32>, tensor<1x1x2x4xf32>)
// CHECK: %[[AWM:.*]], %{{.*}}, %{{.*}}, %[[AKC:.*]] = gecko.fused_working_memory short
// CHECK: %[[NK:.*]] = tensor.concat dim(1) %arg5, %[[KC]]
// CHECK: %[[NAK:.*]] = tensor.concat dim(1) %arg7, %[[AKC]]
// CHECK: return %[[SCA]], %[[AWM]], %[[NK]], %[[NAK]]
func.func @decode_concat(%z: tensor<1x1x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %start: i64, %v: tensor<1x1x2x6xf32>, %pk: tensor<1x5x2x4xf32>, %pv: tensor<1x5x2x6xf32>, %apk: tensor<1x5x2x4xf32>, %m: tensor<1x2x4x6xf32>, %lnt: tensor<1x2x4xf32>) -> (tensor<1x1x2x6xf32>, tensor<1x1x2x6xf32>, tensor<1x6x2x4xf32>, tensor<1x6x2x4xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x1x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 1, 2, 4] : tensor<1x1x8xf32> into tensor<1x1x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 1, 2, 4] : tensor<1x1x8xf32> into tensor<1x1x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 1, 2, 4] : tensor<1x1x8xf32> into tensor<1x1x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 1, 2, 4] : tensor<1x1x8xf32> into tensor<1x1x2x4xf32>
  %qr = gecko.rope %qh start(%start) {base = 1.000000e+04 : f64, num_rope_heads = 1 : i64} : (tensor<1x1x2x4xf32>, i64) -> tensor<1x1x2x4xf32>
  %kr = gecko.rope %kh start(%start) {base = 1.000000e+04 : f64, num_rope_heads = 1 : i64} : (tensor<1x1x2x4xf32>, i64) -> tensor<1x1x2x4xf32>
  %sca = gecko.chunk_attention short %qr, %kr, %v cache(%pk, %pv) {causal, chunk_size = 4 : i64} : (tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32>, tensor<1x1x2x6xf32>, tensor<1x5x2x4xf32>, tensor<1x5x2x6xf32>) -> tensor<1x1x2x6xf32>
  %out, %nm, %nl = gecko.working_memory short %aqh, %akh, %v memory(%m, %lnt) cache(%apk, %pv) {chunk_size = 4 : i64} : (tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32>, tensor<1x1x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>, tensor<1x5x2x4xf32>, tensor<1x5x2x6xf32>) -> (tensor<1x1x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  %nk = tensor.concat dim(1) %pk, %kr : (tensor<1x5x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x6x2x4xf32>
  %nak = tensor.concat dim(1) %apk, %akh : (tensor<1x5x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x6x2x4xf32>
  return %sca, %out, %nk, %nak : tensor<1x1x2x6xf32>, tensor<1x1x2x6xf32>, tensor<1x6x2x4xf32>, tensor<1x6x2x4xf32>
}

// -----

// Training / scoring form: no rope, no cache, no stream: no key_cache results.
// CHECK-LABEL: func.func @no_rope_no_cache
// CHECK-NOT: gecko.z_split
// CHECK: %[[SCA:.*]] = gecko.fused_chunk_attention chunked zsplit(%{{.*}}, %{{.*}}, %{{.*}}) values(%arg3) {causal, chunk_size = 4 : i64, eps = 1.000000e-05 : f64} : {{.*}} -> tensor<2x8x2x6xf32>
// CHECK: %[[AWM:.*]], %{{.*}}, %{{.*}} = gecko.fused_working_memory chunked zsplit(%{{.*}}, %{{.*}}, %{{.*}}) values(%arg3) {chunk_size = 4 : i64, eps = 1.000000e-05 : f64} : {{.*}} -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
// CHECK: return %[[SCA]], %[[AWM]]
func.func @no_rope_no_cache(%z: tensor<2x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %v: tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [2, 8, 2, 4] : tensor<2x8x8xf32> into tensor<2x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 8, 2, 4] : tensor<2x8x8xf32> into tensor<2x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [2, 8, 2, 4] : tensor<2x8x8xf32> into tensor<2x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [2, 8, 2, 4] : tensor<2x8x8xf32> into tensor<2x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qh, %kh, %v {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return %sca, %out : tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32>
}

// -----

// Negative: the rotated q has another user (it is returned), so q must exist;
// the working memory is still fused and the z split stays for q and k.
// CHECK-LABEL: func.func @q_extra_use
// CHECK: gecko.z_split
// CHECK: gecko.rope
// CHECK: gecko.rope
// CHECK: gecko.chunk_attention chunked
// CHECK: gecko.fused_working_memory chunked
// CHECK-NOT: gecko.working_memory
func.func @q_extra_use(%z: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %start: i64, %v: tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x8x2x4xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qr, %kr, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  return %sca, %out, %qr : tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x8x2x4xf32>
}

// -----

// Negative: mismatched shapes — the z split normalises per 2 heads of 4 but
// the consumers split into 4 heads of 2 (norm groups are not the attention
// heads): nothing is fused.
// CHECK-LABEL: func.func @heads_mismatch
// CHECK: gecko.z_split
// CHECK: gecko.chunk_attention chunked
// CHECK: gecko.working_memory chunked
// CHECK-NOT: gecko.fused
func.func @heads_mismatch(%z: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %v: tensor<1x8x4x6xf32>) -> (tensor<1x8x4x6xf32>, tensor<1x8x4x6xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 4, 2] : tensor<1x8x8xf32> into tensor<1x8x4x2xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 4, 2] : tensor<1x8x8xf32> into tensor<1x8x4x2xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 4, 2] : tensor<1x8x8xf32> into tensor<1x8x4x2xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 4, 2] : tensor<1x8x8xf32> into tensor<1x8x4x2xf32>
  %sca = gecko.chunk_attention chunked %qh, %kh, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x4x2xf32>, tensor<1x8x4x2xf32>, tensor<1x8x4x6xf32>) -> tensor<1x8x4x6xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64} : (tensor<1x8x4x2xf32>, tensor<1x8x4x2xf32>, tensor<1x8x4x6xf32>) -> (tensor<1x8x4x6xf32>, tensor<1x4x2x6xf32>, tensor<1x4x2xf32>)
  return %sca, %out : tensor<1x8x4x6xf32>, tensor<1x8x4x6xf32>
}

// -----

// Negative: a slice of k rows [2, 6) (not within the kept [4, 8)) and q, k
// rotated from different starts; ak is used before the working memory. None
// of the three consumers' prologues can be fused.
// CHECK-LABEL: func.func @not_cache_uses
// CHECK: gecko.z_split
// CHECK: gecko.chunk_attention chunked
// CHECK: gecko.chunk_attention chunked
// CHECK: gecko.working_memory chunked
// CHECK-NOT: gecko.fused
func.func @not_cache_uses(%z: tensor<1x8x8xf32>, %z2: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>, %s1: i64, %s2: i64, %v: tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x4xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qh, %kh, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %early = tensor.extract_slice %kh[0, 2, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1] : tensor<1x8x2x4xf32> to tensor<1x4x2x4xf32>
  %q2, %k2, %aq2, %ak2 = gecko.z_split %z2, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %q2h = tensor.expand_shape %q2 [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %k2h = tensor.expand_shape %k2 [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %q2r = gecko.rope %q2h start(%s1) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %k2r = gecko.rope %k2h start(%s2) {base = 5.000000e+05 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %sca2 = gecko.chunk_attention chunked %q2r, %k2r, %v {causal, chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> tensor<1x8x2x6xf32>
  %before = tensor.extract_slice %akh[0, 4, 0, 0] [1, 4, 2, 4] [1, 1, 1, 1] : tensor<1x8x2x4xf32> to tensor<1x4x2x4xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64} : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x6xf32>) -> (tensor<1x8x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  return %sca, %sca2, %out, %early, %before : tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x8x2x6xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x4xf32>
}
