// RUN: gecko-opt %s -split-input-file -verify-diagnostics
// gecko.fused_chunk_attention / gecko.fused_working_memory: one case per
// verifier error, each naming the operand, result or attribute.
func.func @both_prologues(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected exactly one prologue: 'qk(q, k)' or 'zsplit(z, gamma, beta)'}}
  %o = gecko.fused_chunk_attention chunked qk(%z, %z) zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @no_prologue(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected exactly one prologue: 'qk(q, k)' or 'zsplit(z, gamma, beta)'}}
  %o = gecko.fused_chunk_attention chunked values(%v) {chunk_size = 20 : i64} : (tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @split_without_eps(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected 'eps' with a z split prologue}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @split_eps_zero(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected eps to be positive, got 0}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 0.0 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @qk_with_eps(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'eps' is only allowed with a z split prologue}}
  %o = gecko.fused_chunk_attention chunked qk(%z, %z) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @qk_with_rope(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %s: i64) {
  // expected-error @+1 {{'rope' is only allowed with a z split prologue (rotate q and k with gecko.rope)}}
  %o = gecko.fused_chunk_attention chunked qk(%z, %z) rope(%s) values(%v) {chunk_size = 20 : i64, rope_base = 1.0e4 : f64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, i64, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @qk_with_key_cache(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'key_cache' is only produced with a z split prologue}}
  %o:2 = gecko.fused_chunk_attention chunked qk(%z, %z) values(%v) {chunk_size = 20 : i64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>)
  return
}

// -----

func.func @rope_without_base(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %s: i64) {
  // expected-error @+1 {{expected 'rope_base' exactly when 'rope(start)' is given}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) rope(%s) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, i64, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @rope_heads_without_rope(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'num_rope_heads' requires 'rope(start)'}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64, num_rope_heads = 1 : i64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @rope_heads_too_many(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %s: i64) {
  // expected-error @+1 {{expected num_rope_heads in [0, H=3], got 4}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) rope(%s) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64, num_rope_heads = 4 : i64, rope_base = 1.0e4 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, i64, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @rope_odd_dim(%z: tensor<2x40x3x5xf32>, %g: tensor<4x3x5xf32>, %v: tensor<2x40x3x12xf32>, %s: i64) {
  // expected-error @+1 {{expected the head dim dk of 'z' to be even with rope, got 5}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) rope(%s) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64, rope_base = 1.0e4 : f64} : (tensor<2x40x3x5xf32>, tensor<4x3x5xf32>, tensor<4x3x5xf32>, i64, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @gamma_heads(%z: tensor<2x40x3x16xf32>, %g: tensor<4x2x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'gamma' must have shape (4, H=3, dk=16), got (4, 2, 16)}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @key_cache_rows_chunked(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'key_cache' must have shape (B=2, C=20, H=3, dk=16), got (2, 40, 3, 16)}}
  %o:2 = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x40x3x16xf32>)
  return
}

// -----

func.func @key_cache_rows_short(%z: tensor<2x5x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x5x3x12xf32>) {
  // expected-error @+1 {{'key_cache' must have shape (B=2, L=5, H=3, dk=16), got (2, 4, 3, 16)}}
  %o:2 = gecko.fused_chunk_attention short zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x5x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x5x3x12xf32>) -> (tensor<2x5x3x12xf32>, tensor<2x4x3x16xf32>)
  return
}

// -----

func.func @gate_type(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %a: tensor<2x40x3x12xf32>, %r: tensor<2x40x3x12xbf16>) {
  // expected-error @+1 {{'gate' must have element type 'f32', got 'bf16'}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) epilogue(%a, gate %r) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x40x3x12xf32>, tensor<2x40x3x12xbf16>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @addend_shape(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %a: tensor<2x40x3x11xf32>) {
  // expected-error @+1 {{'addend' must have shape (B=2, L=40, H=3, dv=12), got (2, 40, 3, 11)}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) epilogue(%a) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x40x3x11xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @split_chunk_divides(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected chunk_size to divide sequence length 40, got 16}}
  %o = gecko.fused_chunk_attention chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 16 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> tensor<2x40x3x12xf32>
  return
}

// -----

func.func @awm_gamma_rows(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %b: tensor<3x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'beta' must have shape (4, H=3, dz=16), got (3, 3, 16)}}
  %o:3 = gecko.fused_working_memory chunked zsplit(%z, %g, %b) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<3x3x16xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>)
  return
}

// -----

func.func @awm_eps(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{expected eps to be positive, got -1}}
  %o:3 = gecko.fused_working_memory chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = -1.0 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>)
  return
}

// -----

func.func @awm_key_cache(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>) {
  // expected-error @+1 {{'key_cache' must have shape (B=2, C=20, H=3, dz=16), got (2, 20, 3, 8)}}
  %o:4 = gecko.fused_working_memory chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x8xf32>)
  return
}

// -----

func.func @awm_memory_without_cache(%z: tensor<2x40x3x16xf32>, %g: tensor<4x3x16xf32>, %v: tensor<2x40x3x12xf32>, %m: tensor<2x3x16x12xf32>, %l: tensor<2x3x16xf32>) {
  // expected-error @+1 {{'memory' requires 'prev_k'}}
  %o:3 = gecko.fused_working_memory chunked zsplit(%z, %g, %g) values(%v) memory(%m, %l) {chunk_size = 20 : i64, eps = 1.0e-5 : f64} : (tensor<2x40x3x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>)
  return
}
