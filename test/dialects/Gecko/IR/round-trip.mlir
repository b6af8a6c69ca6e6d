// RUN: gecko-opt %s | gecko-opt | FileCheck %s
// RUN: gecko-opt %s --mlir-print-op-generic | gecko-opt | FileCheck %s
// Every gecko op in every optional form; the second gecko-opt re-parses the
// printed form, so the CHECK lines prove print(parse(print(x))) == print(x).

// CHECK-LABEL: func.func @timestep_norm
// CHECK-NEXT: %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>) {
  %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @timestep_norm_bos
// CHECK-NEXT: %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) bos(%arg6) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm_bos(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %bos: tensor<2x8xi1>) {
  %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @timestep_norm_pad
// CHECK-NEXT: %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) padding(%arg6) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm_pad(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %pad: tensor<2x8xi1>) {
  %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) padding(%pad) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @timestep_norm_bos_pad
// CHECK-NEXT: %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) bos(%arg6) padding(%arg7) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm_bos_pad(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %bos: tensor<2x8xi1>, %pad: tensor<2x8xi1>) {
  %y, %new_count, %new_mean, %new_var = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) padding(%pad) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8xi1>) -> (tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @timestep_norm_grad
// CHECK-NEXT: %dx, %dweight, %dbias, %dmean, %dvar = gecko.timestep_norm_grad %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) bos(%arg6) grad(%arg7) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8x4xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm_grad(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %bos: tensor<2x8xi1>, %dy: tensor<2x8x4xf32>) {
  %dx, %dweight, %dbias, %dmean, %dvar = gecko.timestep_norm_grad %x, %w, %b state(%c, %m, %v) bos(%bos) grad(%dy) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8x4xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @timestep_norm_grad_state
// CHECK-NEXT: %dx, %dweight, %dbias, %dmean, %dvar = gecko.timestep_norm_grad %arg0, %arg1, %arg2 state(%arg3, %arg4, %arg5) padding(%arg6) grad(%arg7) state_grads(%arg4, %arg5) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8x4xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
func.func @timestep_norm_grad_state(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %pad: tensor<2x8xi1>, %dy: tensor<2x8x4xf32>) {
  %dx, %dweight, %dbias, %dmean, %dvar = gecko.timestep_norm_grad %x, %w, %b state(%c, %m, %v) padding(%pad) grad(%dy) state_grads(%m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8xi1>, tensor<2x8x4xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// CHECK-LABEL: func.func @cema_coeffs
// CHECK-NEXT: %p, %q, %gamma_c = gecko.cema_coeffs %arg0, %arg1, %arg2, %arg3 : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>) -> (tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
func.func @cema_coeffs(%a: tensor<4x3xbf16>, %d: tensor<4x3xbf16>, %t: tensor<4xbf16>, %g: tensor<4x3x2xbf16>) {
  %p, %q, %gamma_c = gecko.cema_coeffs %a, %d, %t, %g : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>) -> (tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @cema_coeffs_grad
// CHECK-NEXT: %dalpha, %ddelta, %dtheta, %dgamma = gecko.cema_coeffs_grad %arg0, %arg1, %arg2, %arg3 grad(%arg4, %arg5, %arg6) : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>)
func.func @cema_coeffs_grad(%a: tensor<4x3xbf16>, %d: tensor<4x3xbf16>, %t: tensor<4xbf16>, %g: tensor<4x3x2xbf16>, %dp: tensor<4x3xf32>, %dq: tensor<4x3xcomplex<f32>>, %dg: tensor<4x3xcomplex<f32>>) {
  %dalpha, %ddelta, %dtheta, %dgamma = gecko.cema_coeffs_grad %a, %d, %t, %g grad(%dp, %dq, %dg) : (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<4x3xbf16>, tensor<4x3xbf16>, tensor<4xbf16>, tensor<4x3x2xbf16>)
  return
}

// CHECK-LABEL: func.func @cema
// CHECK-NEXT: %y, %new_h = gecko.cema %arg0, %arg1, %arg2, %arg3 : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
func.func @cema(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>) {
  %y, %new_h = gecko.cema %x, %p, %q, %g : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @cema_state
// CHECK-NEXT: %y, %new_h = gecko.cema %arg0, %arg1, %arg2, %arg3 state(%arg4) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
func.func @cema_state(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %hx: tensor<2x4x3xcomplex<f32>>) {
  %y, %new_h = gecko.cema %x, %p, %q, %g state(%hx) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @cema_bos
// CHECK-NEXT: %y, %new_h = gecko.cema %arg0, %arg1, %arg2, %arg3 bos(%arg4) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x8xi1>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
func.func @cema_bos(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %bos: tensor<2x8xi1>) {
  %y, %new_h = gecko.cema %x, %p, %q, %g bos(%bos) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x8xi1>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @cema_state_bos
// CHECK-NEXT: %y, %new_h = gecko.cema %arg0, %arg1, %arg2, %arg3 state(%arg4) bos(%arg5) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8xi1>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
func.func @cema_state_bos(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %hx: tensor<2x4x3xcomplex<f32>>, %bos: tensor<2x8xi1>) {
  %y, %new_h = gecko.cema %x, %p, %q, %g state(%hx) bos(%bos) : (tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8xi1>) -> (tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @cema_grad
// CHECK-NEXT: %dx, %dp, %dq, %dgamma_c = gecko.cema_grad %arg0, %arg1, %arg2, %arg3 bos(%arg4) grad(%arg5) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x8xi1>, tensor<2x8x4xbf16> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>
func.func @cema_grad(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %bos: tensor<2x8xi1>, %dy: tensor<2x8x4xbf16>) {
  %dx, %dp, %dq, %dgamma_c = gecko.cema_grad %x, %p, %q, %g bos(%bos) grad(%dy) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x8xi1>, tensor<2x8x4xbf16> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>
  return
}

// CHECK-LABEL: func.func @cema_grad_state
// CHECK-NEXT: %dx, %dp, %dq, %dgamma_c, %dhx = gecko.cema_grad %arg0, %arg1, %arg2, %arg3 state(%arg4) grad(%arg5) state_grad(%arg4) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>> state(tensor<2x4x3xcomplex<f32>>)
func.func @cema_grad_state(%x: tensor<2x8x4xbf16>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %hx: tensor<2x4x3xcomplex<f32>>, %dy: tensor<2x8x4xbf16>) {
  %dx, %dp, %dq, %dgamma_c, %dhx = gecko.cema_grad %x, %p, %q, %g state(%hx) grad(%dy) state_grad(%hx) : tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8x4xbf16>, tensor<2x4x3xcomplex<f32>> -> tensor<2x8x4xbf16>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>> state(tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @rms_norm
// CHECK-NEXT: %0 = gecko.rms_norm %arg0 {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
func.func @rms_norm(%x: tensor<?x8x6xf16>) {
  %y = gecko.rms_norm %x {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @rms_norm_weight
// CHECK-NEXT: %0 = gecko.rms_norm %arg0 weight(%arg1) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
func.func @rms_norm_weight(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>) {
  %y = gecko.rms_norm %x weight(%w) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @rms_norm_grad
// CHECK-NEXT: %dx = gecko.rms_norm_grad %arg0 grad(%arg1) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16>
func.func @rms_norm_grad(%x: tensor<?x8x6xf16>, %dy: tensor<?x8x6xf16>) {
  %dx = gecko.rms_norm_grad %x grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @rms_norm_grad_weight
// CHECK-NEXT: %dx, %dweight = gecko.rms_norm_grad %arg0 weight(%arg1) grad(%arg2) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> weight(tensor<6xf16>)
func.func @rms_norm_grad_weight(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>, %dy: tensor<?x8x6xf16>) {
  %dx, %dweight = gecko.rms_norm_grad %x weight(%w) grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> weight(tensor<6xf16>)
  return
}

// CHECK-LABEL: func.func @layer_norm
// CHECK-NEXT: %0 = gecko.layer_norm %arg0 {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
func.func @layer_norm(%x: tensor<?x8x6xf16>) {
  %y = gecko.layer_norm %x {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm_weight
// CHECK-NEXT: %0 = gecko.layer_norm %arg0 weight(%arg1) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
func.func @layer_norm_weight(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>) {
  %y = gecko.layer_norm %x weight(%w) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm_bias
// CHECK-NEXT: %0 = gecko.layer_norm %arg0 bias(%arg1) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
func.func @layer_norm_bias(%x: tensor<?x8x6xf16>, %b: tensor<6xf16>) {
  %y = gecko.layer_norm %x bias(%b) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm_affine
// CHECK-NEXT: %0 = gecko.layer_norm %arg0 weight(%arg1) bias(%arg2) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
func.func @layer_norm_affine(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>, %b: tensor<6xf16>) {
  %y = gecko.layer_norm %x weight(%w) bias(%b) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : (tensor<?x8x6xf16>, tensor<6xf16>, tensor<6xf16>) -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm_grad
// CHECK-NEXT: %dx = gecko.layer_norm_grad %arg0 grad(%arg1) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16>
func.func @layer_norm_grad(%x: tensor<?x8x6xf16>, %dy: tensor<?x8x6xf16>) {
  %dx = gecko.layer_norm_grad %x grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm_grad_bias
// CHECK-NEXT: %dx, %dbias = gecko.layer_norm_grad %arg0 bias(%arg1) grad(%arg2) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> bias(tensor<6xf16>)
func.func @layer_norm_grad_bias(%x: tensor<?x8x6xf16>, %b: tensor<6xf16>, %dy: tensor<?x8x6xf16>) {
  %dx, %dbias = gecko.layer_norm_grad %x bias(%b) grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> bias(tensor<6xf16>)
  return
}

// CHECK-LABEL: func.func @layer_norm_grad_affine
// CHECK-NEXT: %dx, %dweight, %dbias = gecko.layer_norm_grad %arg0 weight(%arg1) bias(%arg2) grad(%arg3) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> weight(tensor<6xf16>) bias(tensor<6xf16>)
func.func @layer_norm_grad_affine(%x: tensor<?x8x6xf16>, %w: tensor<6xf16>, %b: tensor<6xf16>, %dy: tensor<?x8x6xf16>) {
  %dx, %dweight, %dbias = gecko.layer_norm_grad %x weight(%w) bias(%b) grad(%dy) {eps = 1.000000e-05 : f64, num_groups = 3 : i64} : tensor<?x8x6xf16>, tensor<6xf16>, tensor<6xf16>, tensor<?x8x6xf16> -> tensor<?x8x6xf16> weight(tensor<6xf16>) bias(tensor<6xf16>)
  return
}

// CHECK-LABEL: func.func @z_split
// CHECK-NEXT: %q, %k, %aq, %ak = gecko.z_split %arg0, %arg1, %arg2 {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
func.func @z_split(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4x8xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %g, %b {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> (tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>)
  return
}

// CHECK-LABEL: func.func @z_split_grad
// CHECK-NEXT: %dz, %dgamma, %dbeta = gecko.z_split_grad %arg0, %arg1, %arg2 grad(%arg3, %arg4, %arg5, %arg6) {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>) -> (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
func.func @z_split_grad(%z: tensor<2x8x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4x8xf32>, %d0: tensor<2x8x8xf32>, %d1: tensor<2x8x8xf32>, %d2: tensor<2x8x8xf32>, %d3: tensor<2x8x8xf32>) {
  %dz, %dgamma, %dbeta = gecko.z_split_grad %z, %g, %b grad(%d0, %d1, %d2, %d3) {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>) -> (tensor<2x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
  return
}

// CHECK-LABEL: func.func @rope
// CHECK-NEXT: %0 = gecko.rope %arg0 start(%arg1) {base = 5.000000e+05 : f64} : (tensor<2x?x2x4xbf16>, i64) -> tensor<2x?x2x4xbf16>
func.func @rope(%x: tensor<2x?x2x4xbf16>, %s: i64) {
  %y = gecko.rope %x start(%s) {base = 5.000000e+05 : f64} : (tensor<2x?x2x4xbf16>, i64) -> tensor<2x?x2x4xbf16>
  return
}

// CHECK-LABEL: func.func @rope_heads
// CHECK-NEXT: %0 = gecko.rope %arg0 start(%arg1) {base = 5.000000e+05 : f64, num_rope_heads = 1 : i64} : (tensor<2x?x2x4xbf16>, index) -> tensor<2x?x2x4xbf16>
func.func @rope_heads(%x: tensor<2x?x2x4xbf16>, %i: index) {
  %y = gecko.rope %x start(%i) {base = 5.000000e+05 : f64, num_rope_heads = 1 : i64} : (tensor<2x?x2x4xbf16>, index) -> tensor<2x?x2x4xbf16>
  return
}

// CHECK-LABEL: func.func @rope_grad
// CHECK-NEXT: %0 = gecko.rope_grad %arg0 start(%arg1) {base = 1.000000e+04 : f64} : (tensor<2x?x2x4xbf16>, i64) -> tensor<2x?x2x4xbf16>
func.func @rope_grad(%x: tensor<2x?x2x4xbf16>, %s: i64) {
  %dx = gecko.rope_grad %x start(%s) {base = 1.000000e+04 : f64} : (tensor<2x?x2x4xbf16>, i64) -> tensor<2x?x2x4xbf16>
  return
}

// CHECK-LABEL: func.func @chunk_attention
// CHECK-NEXT: %0 = gecko.chunk_attention chunked %arg0, %arg1, %arg2 {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
func.func @chunk_attention(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  %out = gecko.chunk_attention chunked %q, %k, %v {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_cache
// CHECK-NEXT: %0 = gecko.chunk_attention chunked %arg0, %arg1, %arg2 cache(%arg3, %arg4) {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> tensor<2x8x2x6xf32>
func.func @chunk_attention_cache(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  %out = gecko.chunk_attention chunked %q, %k, %v cache(%pk, %pv) {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_seg
// CHECK-NEXT: %0 = gecko.chunk_attention chunked %arg0, %arg1, %arg2 segments(%arg3) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>) -> tensor<2x8x2x6xf32>
func.func @chunk_attention_seg(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x8xi64>) {
  %out = gecko.chunk_attention chunked %q, %k, %v segments(%s) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>) -> tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_cache_seg
// CHECK-NEXT: %0 = gecko.chunk_attention chunked %arg0, %arg1, %arg2 cache(%arg3, %arg4) segments(%arg5, %arg6) {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>) -> tensor<2x8x2x6xf32>
func.func @chunk_attention_cache_seg(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>) {
  %out = gecko.chunk_attention chunked %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>) -> tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_short
// CHECK-NEXT: %0 = gecko.chunk_attention short %arg0, %arg1, %arg2 cache(%arg3, %arg4) segments(%arg5, %arg6) {causal, chunk_size = 4 : i64} : (tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>, tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>, tensor<2x1xi64>, tensor<2x7xi64>) -> tensor<2x1x2x6xf32>
func.func @chunk_attention_short(%q: tensor<2x1x2x4xf32>, %k: tensor<2x1x2x4xf32>, %v: tensor<2x1x2x6xf32>, %pk: tensor<2x7x2x4xf32>, %pv: tensor<2x7x2x6xf32>, %s: tensor<2x1xi64>, %ps: tensor<2x7xi64>) {
  %out = gecko.chunk_attention short %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 4 : i64} : (tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>, tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>, tensor<2x1xi64>, tensor<2x7xi64>) -> tensor<2x1x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_grad
// CHECK-NEXT: %dq, %dk, %dv = gecko.chunk_attention_grad chunked %arg0, %arg1, %arg2 segments(%arg3) grad(%arg4) {causal, chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
func.func @chunk_attention_grad(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x8xi64>, %do: tensor<2x8x2x6xf32>) {
  %dq, %dk, %dv = gecko.chunk_attention_grad chunked %q, %k, %v segments(%s) grad(%do) {causal, chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @chunk_attention_grad_cache
// CHECK-NEXT: %dq, %dk, %dv, %dprev_k, %dprev_v = gecko.chunk_attention_grad short %arg0, %arg1, %arg2 cache(%arg3, %arg4) grad(%arg5) {causal, chunk_size = 4 : i64} : tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>, tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>, tensor<2x1x2x6xf32> -> tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32> cache(tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>)
func.func @chunk_attention_grad_cache(%q: tensor<2x1x2x4xf32>, %k: tensor<2x1x2x4xf32>, %v: tensor<2x1x2x6xf32>, %pk: tensor<2x7x2x4xf32>, %pv: tensor<2x7x2x6xf32>, %do: tensor<2x1x2x6xf32>) {
  %dq, %dk, %dv, %dprev_k, %dprev_v = gecko.chunk_attention_grad short %q, %k, %v cache(%pk, %pv) grad(%do) {causal, chunk_size = 4 : i64} : tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>, tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>, tensor<2x1x2x6xf32> -> tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32> cache(tensor<2x7x2x4xf32>, tensor<2x7x2x6xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory chunked %arg0, %arg1, %arg2 {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>) {
  %out, %new_memory, %new_lnt = gecko.working_memory chunked %q, %k, %v {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_cache
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory chunked %arg0, %arg1, %arg2 cache(%arg3, %arg4) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_cache(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  %out, %new_memory, %new_lnt = gecko.working_memory chunked %q, %k, %v cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_memory
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory chunked %arg0, %arg1, %arg2 memory(%arg3, %arg4) cache(%arg5, %arg6) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_memory(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>) {
  %out, %new_memory, %new_lnt = gecko.working_memory chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_seg
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory chunked %arg0, %arg1, %arg2 segments(%arg3) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_seg(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %s: tensor<2x8xi64>) {
  %out, %new_memory, %new_lnt = gecko.working_memory chunked %q, %k, %v segments(%s) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_all
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory chunked %arg0, %arg1, %arg2 memory(%arg3, %arg4) cache(%arg5, %arg6) segments(%arg7, %arg8, %arg9) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_all(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>) {
  %out, %new_memory, %new_lnt = gecko.working_memory chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 4 : i64} : (tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_short
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory short %arg0, %arg1, %arg2 memory(%arg3, %arg4) cache(%arg5, %arg6) segments(%arg7, %arg8, %arg9) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x3xi64>, tensor<2x5xi64>, tensor<2xi64>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_short(%q: tensor<2x3x2x4xf32>, %k: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x6xf32>, %s: tensor<2x3xi64>, %ps: tensor<2x5xi64>, %pc: tensor<2xi64>) {
  %out, %new_memory, %new_lnt = gecko.working_memory short %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x3xi64>, tensor<2x5xi64>, tensor<2xi64>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_short_fresh
// CHECK-NEXT: %out, %new_memory, %new_lnt = gecko.working_memory short %arg0, %arg1, %arg2 cache(%arg3, %arg4) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
func.func @working_memory_short_fresh(%q: tensor<2x3x2x4xf32>, %k: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x6xf32>, %pk1: tensor<2x1x2x4xf32>, %pv1: tensor<2x1x2x6xf32>) {
  %out, %new_memory, %new_lnt = gecko.working_memory short %q, %k, %v cache(%pk1, %pv1) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x6xf32>) -> (tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_grad
// CHECK-NEXT: %daq, %dak, %dv = gecko.working_memory_grad chunked %arg0, %arg1, %arg2 grad(%arg3) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
func.func @working_memory_grad(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %do: tensor<2x8x2x6xf32>) {
  %daq, %dak, %dv = gecko.working_memory_grad chunked %q, %k, %v grad(%do) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>
  return
}

// CHECK-LABEL: func.func @working_memory_grad_cache
// CHECK-NEXT: %daq, %dak, %dv, %dprev_k, %dprev_v = gecko.working_memory_grad chunked %arg0, %arg1, %arg2 cache(%arg3, %arg4) segments(%arg5, %arg6, %arg7) grad(%arg8) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
func.func @working_memory_grad_cache(%q: tensor<2x8x2x4xf32>, %k: tensor<2x8x2x4xf32>, %v: tensor<2x8x2x6xf32>, %pk: tensor<2x4x2x4xf32>, %pv: tensor<2x4x2x6xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>, %do: tensor<2x8x2x6xf32>) {
  %daq, %dak, %dv, %dprev_k, %dprev_v = gecko.working_memory_grad chunked %q, %k, %v cache(%pk, %pv) segments(%s, %ps, %pc) grad(%do) {chunk_size = 4 : i64} : tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>, tensor<2x8x2x6xf32> -> tensor<2x8x2x4xf32>, tensor<2x8x2x4xf32>, tensor<2x8x2x6xf32> cache(tensor<2x4x2x4xf32>, tensor<2x4x2x6xf32>)
  return
}

// CHECK-LABEL: func.func @working_memory_grad_all
// CHECK-NEXT: %daq, %dak, %dv, %dmemory, %dlnt, %dprev_k, %dprev_v = gecko.working_memory_grad short %arg0, %arg1, %arg2 memory(%arg3, %arg4) cache(%arg5, %arg6) grad(%arg7) state_grads(%arg3, %arg4) {chunk_size = 4 : i64} : tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32> -> tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32> memory(tensor<2x2x4x6xf32>, tensor<2x2x4xf32>) cache(tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>)
func.func @working_memory_grad_all(%q: tensor<2x3x2x4xf32>, %k: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x6xf32>, %m: tensor<2x2x4x6xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x6xf32>, %do: tensor<2x3x2x6xf32>) {
  %daq, %dak, %dv, %dmemory, %dlnt, %dprev_k, %dprev_v = gecko.working_memory_grad short %q, %k, %v memory(%m, %z) cache(%pk, %pv) grad(%do) state_grads(%m, %z) {chunk_size = 4 : i64} : tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x3x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32> -> tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x6xf32> memory(tensor<2x2x4x6xf32>, tensor<2x2x4xf32>) cache(tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>)
  return
}

// CHECK-LABEL: func.func @embedding
// CHECK-NEXT: %0 = gecko.embedding %arg0[%arg1] : (tensor<100x4xbf16>, tensor<2x8xi64>) -> tensor<2x8x4xbf16>
func.func @embedding(%t: tensor<100x4xbf16>, %tok: tensor<2x8xi64>) {
  %out = gecko.embedding %t[%tok] : (tensor<100x4xbf16>, tensor<2x8xi64>) -> tensor<2x8x4xbf16>
  return
}

// CHECK-LABEL: func.func @swiglu
// CHECK-NEXT: %0 = gecko.swiglu %arg0, %arg1 : tensor<2x8x4xbf16>
func.func @swiglu(%a: tensor<2x8x4xbf16>, %b: tensor<2x8x4xbf16>) {
  %out = gecko.swiglu %a, %b : tensor<2x8x4xbf16>
  return
}

// CHECK-LABEL: func.func @cross_entropy
// CHECK-NEXT: %0 = gecko.cross_entropy %arg0, %arg1 : (tensor<2x8x100xf32>, tensor<2x8xi64>) -> tensor<f32>
func.func @cross_entropy(%l: tensor<2x8x100xf32>, %tok: tensor<2x8xi64>) {
  %loss = gecko.cross_entropy %l, %tok : (tensor<2x8x100xf32>, tensor<2x8xi64>) -> tensor<f32>
  return
}

// CHECK-LABEL: func.func @linear
// CHECK-NEXT: %0 = gecko.linear %arg0, %arg1 : (tensor<2x8x4xf32>, tensor<6x4xf32>) -> tensor<2x8x6xf32>
// CHECK-NEXT: %1 = gecko.linear %arg0, %arg1 bias(%arg2) : (tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<2x8x6xf32>
func.func @linear(%x: tensor<2x8x4xf32>, %w: tensor<6x4xf32>, %b: tensor<6xf32>) {
  %0 = gecko.linear %x, %w : (tensor<2x8x4xf32>, tensor<6x4xf32>) -> tensor<2x8x6xf32>
  %1 = gecko.linear %x, %w bias(%b) : (tensor<2x8x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<2x8x6xf32>
  return
}

// CHECK-LABEL: func.func @linear_grad
// CHECK-NEXT: %dx, %dweight = gecko.linear_grad %arg0, %arg1 grad(%arg3) : tensor<2x8x4xbf16>, tensor<6x4xbf16>, tensor<2x8x6xbf16> -> tensor<2x8x4xbf16>, tensor<6x4xbf16>
// CHECK-NEXT: %dx_0, %dweight_1, %dbias = gecko.linear_grad %arg0, %arg1 bias(%arg2) grad(%arg3) : tensor<2x8x4xbf16>, tensor<6x4xbf16>, tensor<6xbf16>, tensor<2x8x6xbf16> -> tensor<2x8x4xbf16>, tensor<6x4xbf16> bias(tensor<6xbf16>)
func.func @linear_grad(%x: tensor<2x8x4xbf16>, %w: tensor<6x4xbf16>, %b: tensor<6xbf16>, %dy: tensor<2x8x6xbf16>) {
  %dx, %dw = gecko.linear_grad %x, %w grad(%dy) : tensor<2x8x4xbf16>, tensor<6x4xbf16>, tensor<2x8x6xbf16> -> tensor<2x8x4xbf16>, tensor<6x4xbf16>
  %dx2, %dw2, %db = gecko.linear_grad %x, %w bias(%b) grad(%dy) : tensor<2x8x4xbf16>, tensor<6x4xbf16>, tensor<6xbf16>, tensor<2x8x6xbf16> -> tensor<2x8x4xbf16>, tensor<6x4xbf16> bias(tensor<6xbf16>)
  return
}

// CHECK-LABEL: func.func @silu
// CHECK-NEXT: %0 = gecko.silu %arg0 : tensor<2x8x4xf32>
// CHECK-NEXT: %1 = gecko.silu_grad %arg0 grad(%arg1) : tensor<2x8x4xf32>
func.func @silu(%x: tensor<2x8x4xf32>, %dy: tensor<2x8x4xf32>) {
  %0 = gecko.silu %x : tensor<2x8x4xf32>
  %1 = gecko.silu_grad %x grad(%dy) : tensor<2x8x4xf32>
  return
}

// CHECK-LABEL: func.func @gated_add
// CHECK-NEXT: %0 = gecko.gated_add %arg0, %arg1 : (tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
// CHECK-NEXT: %1 = gecko.gated_add %arg0, %arg1 gate(%arg2) : (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
// CHECK-NEXT: %da, %db = gecko.gated_add_grad %arg0, %arg1 grad(%arg3) : tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4xf32>, tensor<2x8x4xf32>
// CHECK-NEXT: %da_0, %db_1, %dgate = gecko.gated_add_grad %arg0, %arg1 gate(%arg2) grad(%arg3) : tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4xf32>, tensor<2x8x4xf32> gate(tensor<2x8x4xf32>)
func.func @gated_add(%a: tensor<2x8x4xf32>, %b: tensor<2x8x4xf32>, %g: tensor<2x8x4xf32>, %dy: tensor<2x8x4xf32>) {
  %0 = gecko.gated_add %a, %b : (tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  %1 = gecko.gated_add %a, %b gate(%g) : (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  %da, %db = gecko.gated_add_grad %a, %b grad(%dy) : tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4xf32>, tensor<2x8x4xf32>
  %da2, %db2, %dg = gecko.gated_add_grad %a, %b gate(%g) grad(%dy) : tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4xf32>, tensor<2x8x4xf32> gate(tensor<2x8x4xf32>)
  return
}
