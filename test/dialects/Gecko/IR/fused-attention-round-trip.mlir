// RUN: gecko-opt %s | gecko-opt | FileCheck %s
// RUN: gecko-opt %s --mlir-print-op-generic | gecko-opt | FileCheck %s
// gecko.fused_chunk_attention and gecko.fused_working_memory (made by
// gecko-fuse-attention-prologue / -epilogue) in their optional forms; the
// second gecko-opt re-parses the printed form.

// CHECK-LABEL: func.func @sca_full
// CHECK-NEXT: %out, %key_cache = gecko.fused_chunk_attention chunked zsplit(%arg0, %arg1, %arg2) rope(%arg3) values(%arg4) cache(%arg5, %arg6) segments(%arg7, %arg8) epilogue(%arg9, gate %arg10) {causal, chunk_size = 20 : i64, eps = 1.000000e-05 : f64, num_rope_heads = 2 : i64, rope_base = 5.000000e+05 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, i64, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>, tensor<2x40x3x12xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>)
func.func @sca_full(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %bt: tensor<4x3x16xf32>, %start: i64, %v: tensor<2x40x3x12xf32>, %pk: tensor<2x20x3x16xf32>, %pv: tensor<2x20x3x12xf32>, %s: tensor<2x40xi64>, %ps: tensor<2x20xi64>, %awm: tensor<2x40x3x12xf32>, %r: tensor<2x40x3x12xf32>) {
  %out, %kc = gecko.fused_chunk_attention chunked zsplit(%z, %g, %bt) rope(%start) values(%v) cache(%pk, %pv) segments(%s, %ps) epilogue(%awm, gate %r) {causal, chunk_size = 20 : i64, eps = 1.0e-5 : f64, num_rope_heads = 2 : i64, rope_base = 5.0e5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, i64, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>, tensor<2x40x3x12xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>)
  return
}

// Short path without rope or key cache, bf16.
// CHECK-LABEL: func.func @sca_short_split
// CHECK-NEXT: %{{.*}} = gecko.fused_chunk_attention short zsplit(%arg0, %arg1, %arg1) values(%arg2) {causal, chunk_size = 8 : i64, eps = 1.000000e-05 : f64} : (tensor<1x3x2x4xbf16>, tensor<4x2x4xbf16>, tensor<4x2x4xbf16>, tensor<1x3x2x6xbf16>) -> tensor<1x3x2x6xbf16>
func.func @sca_short_split(%z: tensor<1x3x2x4xbf16>, %g: tensor<4x2x4xbf16>, %v: tensor<1x3x2x6xbf16>) {
  %out = gecko.fused_chunk_attention short zsplit(%z, %g, %g) values(%v) {causal, chunk_size = 8 : i64, eps = 1.0e-5 : f64} : (tensor<1x3x2x4xbf16>, tensor<4x2x4xbf16>, tensor<4x2x4xbf16>, tensor<1x3x2x6xbf16>) -> tensor<1x3x2x6xbf16>
  return
}

// Epilogue only (plain q, k), without a gate; short path with a cache.
// CHECK-LABEL: func.func @sca_qk_epilogue
// CHECK-NEXT: %{{.*}} = gecko.fused_chunk_attention short qk(%arg0, %arg1) values(%arg2) cache(%arg3, %arg4) epilogue(%arg5) {chunk_size = 8 : i64} : (tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32>, tensor<1x1x2x6xf32>, tensor<1x9x2x4xf32>, tensor<1x9x2x6xf32>, tensor<1x1x2x6xf32>) -> tensor<1x1x2x6xf32>
func.func @sca_qk_epilogue(%q: tensor<1x1x2x4xf32>, %k: tensor<1x1x2x4xf32>, %v: tensor<1x1x2x6xf32>, %pk: tensor<1x9x2x4xf32>, %pv: tensor<1x9x2x6xf32>, %awm: tensor<1x1x2x6xf32>) {
  %out = gecko.fused_chunk_attention short qk(%q, %k) values(%v) cache(%pk, %pv) epilogue(%awm) {chunk_size = 8 : i64} : (tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32>, tensor<1x1x2x6xf32>, tensor<1x9x2x4xf32>, tensor<1x9x2x6xf32>, tensor<1x1x2x6xf32>) -> tensor<1x1x2x6xf32>
  return
}

// CHECK-LABEL: func.func @awm_full
// CHECK-NEXT: %out, %new_memory, %new_lnt, %key_cache = gecko.fused_working_memory chunked zsplit(%arg0, %arg1, %arg2) values(%arg3) memory(%arg4, %arg5) cache(%arg6, %arg7) segments(%arg8, %arg9, %arg10) {chunk_size = 20 : i64, eps = 1.000000e-05 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>, tensor<2xi64>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x16xf32>)
func.func @awm_full(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %bt: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %m: tensor<2x3x16x12xf32>, %lnt: tensor<2x3x16xf32>, %pk: tensor<2x20x3x16xf32>, %pv: tensor<2x20x3x12xf32>, %s: tensor<2x40xi64>, %ps: tensor<2x20xi64>, %pc: tensor<2xi64>) {
  %out, %nm, %nl, %kc = gecko.fused_working_memory chunked zsplit(%z, %g, %bt) values(%v) memory(%m, %lnt) cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>, tensor<2xi64>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x16xf32>)
  return
}

// Fresh stream, short path, no key cache.
// CHECK-LABEL: func.func @awm_fresh
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.fused_working_memory short zsplit(%arg0, %arg1, %arg1) values(%arg2) {chunk_size = 8 : i64, eps = 1.000000e-05 : f64} : (tensor<1x3x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, tensor<1x3x2x6xf32>) -> (tensor<1x3x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
func.func @awm_fresh(%z: tensor<1x3x2x4xf32>, %g: tensor<4x2x4xf32>, %v: tensor<1x3x2x6xf32>) {
  %out:3 = gecko.fused_working_memory short zsplit(%z, %g, %g) values(%v) {chunk_size = 8 : i64, eps = 1.0e-5 : f64} : (tensor<1x3x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, tensor<1x3x2x6xf32>) -> (tensor<1x3x2x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>)
  return
}
