// RUN: gecko-opt %s -split-input-file -verify-diagnostics
// One case per verifier error: each names the offending operand or attribute.
func.func @tsn_groups_zero(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{expected num_groups to be positive, got 0}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 0 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_groups_divide(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x3xf32>) {
  // expected-error @+1 {{expected num_groups to divide D = 4, got 3}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x3xf32>, tensor<2x3xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x3xf32>, tensor<2x3xf32>)
  return
}

// -----

func.func @tsn_beta1(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{expected beta1 in (0, 1), got 1.5}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 1.5 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_beta2(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{expected beta2 in (0, 1), got 0}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 0.0 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_eps(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{expected eps to be positive, got 0}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 0.0 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_mean_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x3xf32>) {
  // expected-error @+1 {{'mean' must have shape (B=2, G=2), got (2, 3)}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x3xf32>, tensor<2x3xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x3xf32>, tensor<2x3xf32>)
  return
}

// -----

func.func @tsn_weight_type(%x: tensor<2x8x4xf32>, %w: tensor<4xbf16>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{'weight' must have element type 'f32', got 'bf16'}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_count_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<3xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{'count' must have shape (B=2), got (3)}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<3xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_bos_rank(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %bos: tensor<8xi1>) {
  // expected-error @+1 {{'bos' must have rank 2 (B=2, L=8), got rank 1}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_padding_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %pad: tensor<2x7xi1>) {
  // expected-error @+1 {{'padding' must have shape (B=2, L=8), got (2, 7)}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) padding(%pad) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x7xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_result_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{'y' must have shape (B=2, L=8, D=4), got (2, 8, 5)}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x5xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_bos_type(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %bos: tensor<2x8xi32>) {
  // expected-error @+1 {{operand #6 must be tensor of 1-bit signless integer values}}
  %y:4 = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_grad_state_grads_together(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %dy: tensor<2x8x4xf32>) {
  // expected-error @+1 {{expected 'd_new_mean' and 'd_new_var' to be given together, but only 'd_new_mean' is present}}
  %r:5 = "gecko.timestep_norm_grad"(%x, %w, %w, %c, %m, %m, %dy, %m) <{beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0>}> : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8x4xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

func.func @tsn_grad_dvar_shape(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %dy: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'dvar' must have shape (B=2, G=2), got (2, 4)}}
  %r:5 = gecko.timestep_norm_grad %x, %w, %w state(%c, %m, %m) grad(%dy) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8x4xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x4xf32>)
  return
}

// -----

func.func @cema_coeffs_gamma_shape(%a: tensor<4x3xbf16>, %t: tensor<4xbf16>, %g: tensor<4x3x3xbf16>) {
  // expected-error @+1 {{'gamma' must have shape (D=4, N=3, 2), got (4, 3, 3)}}
  %r:3 = gecko.cema_coeffs %a, %a, %t, %g : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x3xbf16>) -> (tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_coeffs_delta_type(%a: tensor<4x3xbf16>, %d: tensor<4x3xf16>, %t: tensor<4xbf16>, %g: tensor<4x3x2xbf16>) {
  // expected-error @+1 {{'delta' must have element type 'bf16', got 'f16'}}
  %r:3 = gecko.cema_coeffs %a, %d, %t, %g : (tensor<4x3xbf16>, tensor<4x3xf16>, tensor<4xbf16>, tensor<4x3x2xbf16>) -> (tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_coeffs_q_shape(%a: tensor<4x3xbf16>, %t: tensor<4xbf16>, %g: tensor<4x3x2xbf16>) {
  // expected-error @+1 {{'q' must have shape (D=4, N=3), got (3, 4)}}
  %r:3 = gecko.cema_coeffs %a, %a, %t, %g : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>) -> (tensor<4x3xf32>, tensor<3x4xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_coeffs_grad_dtheta(%a: tensor<4x3xbf16>, %t: tensor<4xbf16>, %g: tensor<4x3x2xbf16>, %dp: tensor<4x3xf32>, %dq: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{'dtheta' must have shape (D=4), got (3)}}
  %r:4 = gecko.cema_coeffs_grad %a, %a, %t, %g grad(%dp, %dq, %dq) : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<3xbf16>, tensor<4x3x2xbf16>)
  return
}

// -----

func.func @cema_hx_shape(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x5xcomplex<f32>>) {
  // expected-error @+1 {{'hx' must have shape (B=2, D=4, N=3), got (2, 4, 5)}}
  %y, %h1 = gecko.cema %x, %p, %q, %q state(%h) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x5xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_hx_type(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x3xf32>) {
  // expected-error @+1 {{operand #4 must be tensor of complex type with 32-bit float elements values}}
  %y, %h1 = gecko.cema %x, %p, %q, %q state(%h) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xf32>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_y_type(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{'y' must have element type 'bf16', got 'f32'}}
  %y, %h1 = gecko.cema %x, %p, %q, %q : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_p_shape(%x: tensor<2x8x4xbf16>, %p: tensor<5x3xf32>, %q: tensor<4x3xcomplex<f32>>) {
  // expected-error @+1 {{'p' must have shape (D=4, N), got (5, 3)}}
  %y, %h1 = gecko.cema %x, %p, %q, %q : (tensor<2x8x4xbf16>, tensor<5x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_grad_dhx_present(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %dy: tensor<2x8x4xbf16>) {
  // expected-error @+1 {{expected 'dhx' exactly when 'hx' is given, but it is present}}
  %r:5 = gecko.cema_grad %x, %p, %q, %q grad(%dy) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x8x4xbf16> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>> state(tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @cema_grad_dhx_absent(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x3xcomplex<f32>>, %dy: tensor<2x8x4xbf16>) {
  // expected-error @+1 {{expected 'dhx' exactly when 'hx' is given, but it is absent}}
  %r:4 = gecko.cema_grad %x, %p, %q, %q state(%h) grad(%dy) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8x4xbf16> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>
  return
}

// -----

func.func @cema_grad_dnewh_shape(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x3xcomplex<f32>>, %dh: tensor<2x4x4xcomplex<f32>>, %dy: tensor<2x8x4xbf16>) {
  // expected-error @+1 {{'d_new_h' must have shape (B=2, D=4, N=3), got (2, 4, 4)}}
  %r:5 = gecko.cema_grad %x, %p, %q, %q state(%h) grad(%dy) state_grad(%dh) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8x4xbf16>, tensor<2x4x4xcomplex<f32>> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>> state(tensor<2x4x3xcomplex<f32>>)
  return
}

// -----

func.func @rms_rank0(%x: tensor<f16>) {
  // expected-error @+1 {{'x' must have rank >= 1, got rank 0}}
  %y = gecko.rms_norm %x {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<f16>) -> tensor<f16>
  return
}

// -----

func.func @rms_weight_shape(%x: tensor<?x8x6xf16>, %w: tensor<5xf16>) {
  // expected-error @+1 {{'weight' must have shape (D=6), got (5)}}
  %y = gecko.rms_norm %x weight(%w) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<5xf16>) -> tensor<?x8x6xf16>
  return
}

// -----

func.func @rms_groups_divide(%x: tensor<?x8x6xf16>) {
  // expected-error @+1 {{expected num_groups to divide D = 6, got 4}}
  %y = gecko.rms_norm %x {eps = 1.000000e-05 : f64, num_groups = 4 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
  return
}

// -----

func.func @rms_result_shape(%x: tensor<?x8x6xf16>) {
  // expected-error @+1 {{'y' must have shape (N0, N1=8, D=6), got (3, 7, 6)}}
  %y = gecko.rms_norm %x {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<3x7x6xf16>
  return
}

// -----

func.func @layer_norm_eps(%x: tensor<?x8x6xf16>) {
  // expected-error @+1 {{expected eps to be positive, got -1}}
  %y = gecko.layer_norm %x {eps = -1.000000e+00 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
  return
}

// -----

func.func @layer_norm_bias_type(%x: tensor<?x8x6xf16>, %b: tensor<6xf32>) {
  // expected-error @+1 {{'bias' must have element type 'f16', got 'f32'}}
  %y = gecko.layer_norm %x bias(%b) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf32>) -> tensor<?x8x6xf16>
  return
}

// -----

func.func @rms_grad_dweight_absent(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>) {
  // expected-error @+1 {{expected 'dweight' exactly when 'weight' is given, but it is absent}}
  %dx = gecko.rms_norm_grad %x weight(%w) grad(%x) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16>
  return
}

// -----

func.func @layer_norm_grad_dbias_present(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>) {
  // expected-error @+1 {{expected 'dbias' exactly when 'bias' is given, but it is present}}
  %dx, %dw, %db = gecko.layer_norm_grad %x weight(%w) grad(%x) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> weight(tensor<6xf16>) bias(tensor<6xf16>)
  return
}

// -----

func.func @layer_norm_grad_dy_shape(%x: tensor<?x8x6xf16>, %dy: tensor<2x8x5xf16>) {
  // expected-error @+1 {{'dy' must have shape (N0, N1=8, D=6), got (2, 8, 5)}}
  %dx = gecko.layer_norm_grad %x grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<2x8x5xf16> -> tensor<?x8x6xf16>
  return
}

// -----

func.func @z_split_heads_divide(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{expected num_heads to divide Z = 8, got 3}}
  %r:4 = gecko.z_split %z, %g, %g {eps = 1.000000e-05 : f64, num_heads = 3 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
  return
}

// -----

func.func @z_split_heads_zero(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{expected num_heads to be positive, got 0}}
  %r:4 = gecko.z_split %z, %g, %g {eps = 1.000000e-05 : f64, num_heads = 0 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
  return
}

// -----

func.func @z_split_gamma_shape(%z: tensor<2x8x8xf32>, %g: tensor<3x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+1 {{'gamma' must have shape (4, Z=8), got (3, 8)}}
  %r:4 = gecko.z_split %z, %g, %b {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<3x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
  return
}

// -----

func.func @z_split_aq_shape(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{'aq' must have shape (B=2, L=8, Z=8), got (2, 4, 8)}}
  %r:4 = gecko.z_split %z, %g, %g {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x4x8xf32>, tensor<2x8x8xf32>)
  return
}

// -----

func.func @z_split_grad_dbeta(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{'dbeta' must have element type 'f32', got 'bf16'}}
  %r:3 = gecko.z_split_grad %z, %g, %g grad(%z, %z, %z, %z) {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>) -> (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xbf16>)
  return
}

// -----

func.func @rope_base(%x: tensor<2x8x2x4xbf16>, %s: i64) {
  // expected-error @+1 {{expected base to be positive, got 0}}
  %y = gecko.rope %x start(%s) {base = 0.0 : f64} : (tensor<2x8x2x4xbf16>, i64) -> tensor<2x8x2x4xbf16>
  return
}

// -----

func.func @rope_odd(%x: tensor<2x8x2x5xbf16>, %s: i64) {
  // expected-error @+1 {{expected the head dim d of 'x' to be even, got 5}}
  %y = gecko.rope %x start(%s) {base = 5.000000e+05 : f64} : (tensor<2x8x2x5xbf16>, i64) -> tensor<2x8x2x5xbf16>
  return
}

// -----

func.func @rope_heads(%x: tensor<2x8x2x4xbf16>, %s: i64) {
  // expected-error @+1 {{expected num_rope_heads in [0, H=2], got 3}}
  %y = gecko.rope %x start(%s) {base = 5.000000e+05 : f64, num_rope_heads = 3 : i64} : (tensor<2x8x2x4xbf16>, i64) -> tensor<2x8x2x4xbf16>
  return
}

// -----

func.func @rope_rank(%x: tensor<2x8x8xbf16>, %s: i64) {
  // expected-error @+1 {{'x' must have rank 4 (B, L, H, d), got rank 3}}
  %y = gecko.rope %x start(%s) {base = 5.000000e+05 : f64} : (tensor<2x8x8xbf16>, i64) -> tensor<2x8x8xbf16>
  return
}

// -----

func.func @rope_start_type(%x: tensor<2x8x2x4xbf16>, %s: i32) {
  // expected-error @+1 {{operand #1 must be 64-bit signless integer or index}}
  %y = gecko.rope %x start(%s) {base = 5.000000e+05 : f64} : (tensor<2x8x2x4xbf16>, i32) -> tensor<2x8x2x4xbf16>
  return
}

// -----

func.func @rope_grad_dx(%x: tensor<2x8x2x4xbf16>, %s: index) {
  // expected-error @+1 {{'dx' must have element type 'bf16', got 'f32'}}
  %y = gecko.rope_grad %x start(%s) {base = 5.000000e+05 : f64} : (tensor<2x8x2x4xbf16>, index) -> tensor<2x8x2x4xf32>
  return
}

// -----

func.func @sca_divide(%q: tensor<2x6x2x4xf32>, %v: tensor<2x6x2x6xf32>) {
  // expected-error @+1 {{expected chunk_size to divide sequence length 6, got 4}}
  %o = gecko.chunk_attention chunked %q, %q, %v {chunk_size = 4 : i64} : (tensor<2x6x2x4xf32>, tensor<2x6x2x4xf32>, tensor<2x6x2x6xf32>) -> tensor<2x6x2x6xf32>
  return
}

// -----

func.func @sca_chunk_zero(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{expected chunk_size to be positive, got 0}}
  %o = gecko.chunk_attention chunked %q, %q, %v {chunk_size = 0 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_cache_len(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x3x2x4xf32>, %pv: tensor<2x3x2x6xf32>) {
  // expected-error @+1 {{'prev_k' must have shape (B=2, C=4, H=2, dk=4), got (2, 3, 2, 4)}}
  %o = gecko.chunk_attention chunked %q, %q, %v cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_short_len(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{short path expects sequence length 8 to be less than chunk_size 4 (use path = chunked)}}
  %o = gecko.chunk_attention short %q, %q, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_short_cache(%q: tensor<2x1x2x4xf32>, %v: tensor<2x1x2x6xf32>, %pk: tensor<2x8x2x4xf32>, %pv: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{short path expects a cache of at most 2 * chunk_size - 1 = 7 tokens, got 8}}
  %o = gecko.chunk_attention short %q, %q, %v cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x1x2x6xf32>
  return
}

// -----

func.func @sca_cache_together(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>) {
  // expected-error @+1 {{expected 'prev_k' and 'prev_v' to be given together, but only 'prev_k' is present}}
  %o = "gecko.chunk_attention"(%q, %q, %v, %pk) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 0>, path = 0 : i32}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_prev_seg_requires_seg(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %ps: tensor<2x4xi64>) {
  // expected-error @+1 {{'prev_seg' requires 'seg'}}
  %o = "gecko.chunk_attention"(%q, %q, %v, %pk, %pv, %ps) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 1>, path = 0 : i32}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x4xi64>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_prev_seg_requires_cache(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>) {
  // expected-error @+1 {{'prev_seg' requires 'prev_k'}}
  %o = gecko.chunk_attention chunked %q, %q, %v segments(%s, %ps) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_missing_prev_seg(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>) {
  // expected-error @+1 {{expected 'prev_seg' when both a cache and 'seg' are given}}
  %o = gecko.chunk_attention chunked %q, %q, %v cache(%pk, %pv) segments(%s) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_k_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %k: tensor<2x8x2x5xf32>) {
  // expected-error @+1 {{'k' must have shape (B=2, L=8, H=2, dk=4), got (2, 8, 2, 5)}}
  %o = gecko.chunk_attention chunked %q, %k, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x5xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_v_type(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xbf16>) {
  // expected-error @+1 {{'v' must have element type 'f32', got 'bf16'}}
  %o = gecko.chunk_attention chunked %q, %q, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xbf16>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_seg_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x4xi64>) {
  // expected-error @+1 {{'seg' must have shape (B=2, L=8), got (2, 4)}}
  %o = gecko.chunk_attention chunked %q, %q, %v segments(%s) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4xi64>) -> tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_grad_dprev_absent(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{expected 'dprev_k' exactly when a cache is given, but it is absent}}
  %r:3 = gecko.chunk_attention_grad chunked %q, %q, %v cache(%pk, %pv) grad(%v) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
  return
}

// -----

func.func @sca_grad_dprev_present(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{expected 'dprev_k' exactly when a cache is given, but it is present}}
  %r:5 = gecko.chunk_attention_grad chunked %q, %q, %v grad(%v) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
  return
}

// -----

func.func @sca_grad_dout(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{'dout' must have shape (B=2, L=8, H=2, dv=6), got (2, 8, 2, 4)}}
  %r:3 = gecko.chunk_attention_grad chunked %q, %q, %v grad(%q) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x4xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
  return
}

// -----

func.func @awm_memory_requires_cache(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>) {
  // expected-error @+1 {{'memory' requires 'prev_k'}}
  %r:3 = gecko.working_memory chunked %q, %q, %v memory(%m, %z) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_memory_together(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{expected 'memory' and 'lnt' to be given together, but only 'memory' is present}}
  %r:3 = "gecko.working_memory"(%q, %q, %v, %m, %pk, %pv) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 0, 0, 0>, path = 0 : i32}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_prev_count_together(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>) {
  // expected-error @+1 {{expected 'prev_seg' and 'prev_count' to be given together, but only 'prev_seg' is present}}
  %r:3 = "gecko.working_memory"(%q, %q, %v, %pk, %pv, %s, %ps) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 1, 1, 1, 0>, path = 0 : i32}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_prev_seg_requires_seg(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>) {
  // expected-error @+1 {{'prev_seg' requires 'seg'}}
  %r:3 = "gecko.working_memory"(%q, %q, %v, %pk, %pv, %ps, %pc) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 1, 0, 1, 1>, path = 0 : i32}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x4xi64>, tensor<2xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_prev_seg_requires_cache(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>) {
  // expected-error @+1 {{'prev_seg' requires 'prev_k'}}
  %r:3 = gecko.working_memory chunked %q, %q, %v segments(%s, %ps, %pc) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_missing_prev_seg(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>) {
  // expected-error @+1 {{expected 'prev_seg' and 'prev_count' when both a cache and 'seg' are given}}
  %r:3 = gecko.working_memory chunked %q, %q, %v cache(%pk, %pv) segments(%s) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_short_fresh_overflow(%q: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x6xf32>, %pk: tensor<2x3x2x4xf32>, %pv: tensor<2x3x2x6xf32>) {
  // expected-error @+1 {{short path without memory expects T + L <= chunk_size = 4, got 6}}
  %r:3 = gecko.working_memory short %q, %q, %v cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_short_memory_range(%q: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x1x2x4xf32>, %pv: tensor<2x1x2x6xf32>) {
  // expected-error @+1 {{short path with memory expects chunk_size = 4 < T + L <= 8, got 4}}
  %r:3 = gecko.working_memory short %q, %q, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_short_len(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{short path expects sequence length 8 to be less than chunk_size 8 (use path = chunked)}}
  %r:3 = gecko.working_memory short %q, %q, %v {chunk_size = 8 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_divide(%q: tensor<2x6x2x4xf32>, %v: tensor<2x6x2x6xf32>) {
  // expected-error @+1 {{expected chunk_size to divide sequence length 6, got 4}}
  %r:3 = gecko.working_memory chunked %q, %q, %v {chunk_size = 4 : i64} : (tensor<2x6x2x4xf32>, tensor<2x6x2x4xf32>, tensor<2x6x2x6xf32>) -> (tensor<2x6x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_lnt_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x5xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{'lnt' must have shape (B=2, H=2, dz=4), got (2, 2, 5)}}
  %r:3 = gecko.working_memory chunked %q, %q, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x5xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_lnt_type(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xbf16>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{operand #4 must be tensor of 32-bit float values}}
  %r:3 = gecko.working_memory chunked %q, %q, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xbf16>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_memory_type(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xbf16>, %z: tensor<2x2x4xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{'memory' must have element type 'f32', got 'bf16'}}
  %r:3 = gecko.working_memory chunked %q, %q, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xbf16>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_prev_count_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<1xi64>) {
  // expected-error @+1 {{'prev_count' must have shape (B=2), got (1)}}
  %r:3 = gecko.working_memory chunked %q, %q, %v cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<1xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_new_memory_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{'new_memory' must have shape (B=2, H=2, dz=4, dv=6), got (2, 2, 6, 4)}}
  %r:3 = gecko.working_memory chunked %q, %q, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x6x4xf32>, tensor<2x2x4xf32>)
  return
}

// -----

func.func @awm_grad_state_grads_together(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>) {
  // expected-error @+1 {{expected 'd_new_memory' and 'd_new_lnt' to be given together, but only 'd_new_memory' is present}}
  %r:3 = "gecko.working_memory_grad"(%q, %q, %v, %v, %m) <{chunk_size = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0>, path = 0 : i32, resultSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0>}> : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>) -> (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>)
  return
}

// -----

func.func @awm_grad_dmemory_absent(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{expected 'dmemory' exactly when 'memory' is given, but it is absent}}
  %r:5 = gecko.working_memory_grad chunked %q, %q, %v memory(%m, %z) cache(%pk, %pv) grad(%v) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
  return
}

// -----

func.func @awm_grad_dprev_present(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  // expected-error @+1 {{expected 'dprev_k' exactly when a cache is given, but it is present}}
  %r:5 = gecko.working_memory_grad chunked %q, %q, %v grad(%v) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
  return
}

// -----

func.func @awm_grad_dlnt_shape(%q: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  // expected-error @+1 {{'dlnt' must have shape (B=2, H=2, dz=4), got (2, 2, 3)}}
  %r:7 = gecko.working_memory_grad chunked %q, %q, %v memory(%m, %z) cache(%pk, %pv) grad(%v) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> memory(tensor<2x2x4x6xf32>, tensor<2x2x3xf32>) cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
  return
}

// -----

func.func @embedding_out_shape(%t: tensor<100x4xbf16>, %tok: tensor<2x8xi64>) {
  // expected-error @+1 {{'out' must have shape (B=2, L=8, D=4), got (2, 8, 5)}}
  %o = gecko.embedding %t[%tok] : (tensor<100x4xbf16>, tensor<2x8xi64>) -> tensor<2x8x5xbf16>
  return
}

// -----

func.func @embedding_out_type(%t: tensor<100x4xbf16>, %tok: tensor<2x8xi64>) {
  // expected-error @+1 {{'out' must have element type 'bf16', got 'f32'}}
  %o = gecko.embedding %t[%tok] : (tensor<100x4xbf16>, tensor<2x8xi64>) -> tensor<2x8x4xf32>
  return
}

// -----

func.func @embedding_tokens_rank(%t: tensor<100x4xbf16>, %tok: tensor<8xi64>) {
  // expected-error @+1 {{'tokens' must have rank 2 (B, L), got rank 1}}
  %o = gecko.embedding %t[%tok] : (tensor<100x4xbf16>, tensor<8xi64>) -> tensor<2x8x4xbf16>
  return
}

// -----

func.func @cross_entropy_labels(%l: tensor<2x8x100xf32>, %tok: tensor<2x7xi64>) {
  // expected-error @+1 {{'labels' must have shape (B=2, L=8), got (2, 7)}}
  %o = gecko.cross_entropy %l, %tok : (tensor<2x8x100xf32>, tensor<2x7xi64>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_loss_rank(%l: tensor<2x8x100xf32>, %tok: tensor<2x8xi64>) {
  // expected-error @+1 {{result #0 must be 0D tensor of 32-bit float values}}
  %o = gecko.cross_entropy %l, %tok : (tensor<2x8x100xf32>, tensor<2x8xi64>) -> tensor<1xf32>
  return
}

// -----

func.func @swiglu_types(%a: tensor<4xf32>, %b: tensor<4xbf16>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %o = "gecko.swiglu"(%a, %b) : (tensor<4xf32>, tensor<4xbf16>) -> tensor<4xf32>
  return
}

// -----

func.func @linear_in_mismatch(%x: tensor<2x8x4xf32>, %w: tensor<6x5xf32>) {
  // expected-error @+1 {{'weight'}}
  %0 = gecko.linear %x, %w : (tensor<2x8x4xf32>, tensor<6x5xf32>) -> tensor<2x8x6xf32>
  return
}

// -----

func.func @linear_out_mismatch(%x: tensor<2x8x4xf32>, %w: tensor<6x4xf32>) {
  // expected-error @+1 {{'y'}}
  %0 = gecko.linear %x, %w : (tensor<2x8x4xf32>, tensor<6x4xf32>) -> tensor<2x8x7xf32>
  return
}

// -----

func.func @linear_bias_shape(%x: tensor<2x8x4xf32>, %w: tensor<6x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'bias'}}
  %0 = gecko.linear %x, %w bias(%b) : (tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<4xf32>) -> tensor<2x8x6xf32>
  return
}

// -----

func.func @linear_weight_type(%x: tensor<2x8x4xf32>, %w: tensor<6x4xbf16>) {
  // expected-error @+1 {{'weight'}}
  %0 = gecko.linear %x, %w : (tensor<2x8x4xf32>, tensor<6x4xbf16>) -> tensor<2x8x6xf32>
  return
}

// -----

func.func @linear_grad_dy(%x: tensor<2x8x4xf32>, %w: tensor<6x4xf32>, %dy: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'dy'}}
  %dx, %dw = gecko.linear_grad %x, %w grad(%dy) : tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4xf32>, tensor<6x4xf32>
  return
}

// -----

func.func @linear_grad_dbias(%x: tensor<2x8x4xf32>, %w: tensor<6x4xf32>, %dy: tensor<2x8x6xf32>) {
  // expected-error @+1 {{expected 'dbias' exactly when 'bias' is given, but it is present}}
  %dx, %dw, %db = "gecko.linear_grad"(%x, %w, %dy) : (tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<2x8x6xf32>) -> (tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<6xf32>)
  return
}

// -----

func.func @silu_types(%x: tensor<4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "gecko.silu"(%x) : (tensor<4xf32>) -> tensor<4xbf16>
  return
}

// -----

func.func @gated_add_gate_shape(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>, %g: tensor<2x5xf32>) {
  // expected-error @+1 {{'gate'}}
  %0 = gecko.gated_add %a, %b gate(%g) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x5xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @gated_add_grad_dgate(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>, %dy: tensor<2x4xf32>) {
  // expected-error @+1 {{expected 'dgate' exactly when 'gate' is given, but it is present}}
  %0:3 = "gecko.gated_add_grad"(%a, %b, %dy) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
  return
}
