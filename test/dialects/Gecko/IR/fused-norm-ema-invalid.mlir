// RUN: gecko-opt %s -split-input-file -verify-diagnostics
// gecko.fused_norm_ema: one case per verifier error, each naming the operand,
// result or attribute.
func.func @rms_groups_zero(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{expected rms_num_groups to be positive, got 0}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 0 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @rms_groups_divide(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{expected rms_num_groups to divide D = 4, got 3}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 3 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @rms_eps(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{expected rms_eps to be positive, got 0}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 0.0 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @tsn_beta1(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{expected beta1 in (0, 1), got 1.5}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 1.5 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @hx_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x5xcomplex<f32>>) {
  // expected-error @+1 {{'hx' must have shape (B=2, D=4, N=3), got (2, 4, 5)}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) ema_state(%h) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x5xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @bos_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %bos: tensor<2x7xi1>) {
  // expected-error @+1 {{'bos' must have shape (B=2, L=8), got (2, 7)}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x7xi1>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @rms_weight_type(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %rw: tensor<4xbf16>) {
  // expected-error @+1 {{'rms_weight' must have element type 'f32', got 'bf16'}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) rms_weight(%rw) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<4xbf16>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @tsn_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{'tsn' must have shape (B=2, L=8, D=4), got (2, 8, 5)}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x5xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @new_h_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{'new_h' must have shape (B=2, D=4, N=3), got (2, 3, 4)}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x3x4xcomplex<f32>>)
  return
}
