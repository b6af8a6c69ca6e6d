// RUN: gecko-opt %s --gecko-fuse-norm-ema --split-input-file | FileCheck %s
// RUN: gecko-opt %s --gecko-fuse-norm-ema --gecko-convert-to-linalg --split-input-file | FileCheck %s --check-prefix=LOWER
// gecko-fuse-norm-ema: timestep_norm -> cema -> rms_norm becomes one
// gecko.fused_norm_ema (ce never materialised); negative cases keep the chain.

// -----

// The MEGA block's form (spec §8): the coefficients are made after the timestep
// norm, tsn also feeds wv (a gecko.linear), carried state in and out. The fused
// op goes after the coefficients; wv reads its tsn result.
// CHECK-LABEL: func.func @mega_stream
// CHECK-NOT: gecko.timestep_norm
// CHECK: %[[P:.*]], %[[Q:.*]], %[[G:.*]] = gecko.cema_coeffs
// CHECK-NEXT: %[[Y:.*]], %[[TSN:.*]], %[[NC:.*]], %[[NM:.*]], %[[NV:.*]], %[[NH:.*]] = gecko.fused_norm_ema %arg0 norm(%arg1, %arg2) state(%arg3, %arg4, %arg5) ema(%[[P]], %[[Q]], %[[G]]) ema_state(%arg9) bos(%arg10) rms_weight(%arg11) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64}
// CHECK-NOT: gecko.cema
// CHECK-NOT: gecko.rms_norm
// CHECK: %[[V:.*]] = gecko.linear %[[TSN]], %arg12
// CHECK: return %[[Y]], %[[V]], %[[NC]], %[[NM]], %[[NV]], %[[NH]]
// LOWER-LABEL: func.func @mega_stream
// LOWER-NOT: gecko.fused_norm_ema
// LOWER-NOT: gecko.timestep_norm
// LOWER-NOT: gecko.cema {
// LOWER: scf.forall
// LOWER: return
func.func @mega_stream(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>, %hx: tensor<2x8x3xcomplex<f32>>, %bos: tensor<2x7xi1>, %rw: tensor<8xf32>, %wv: tensor<6x8xf32>) -> (tensor<2x7x8xf32>, tensor<2x7x6xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8x3xcomplex<f32>>) {
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %ce, %nh = gecko.cema %t, %p, %q, %g state(%hx) bos(%bos) : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>, tensor<2x8x3xcomplex<f32>>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%rw) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>) -> tensor<2x7x8xf32>
  %lin = gecko.linear %t, %wv : (tensor<2x7x8xf32>, tensor<6x8xf32>) -> tensor<2x7x6xf32>
  return %mx, %lin, %nc, %nm, %nv, %nh : tensor<2x7x8xf32>, tensor<2x7x6xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x8x3xcomplex<f32>>
}

// -----

// No carried EMA state, no bos, no affine RMS, two RMS groups; tsn unused.
// CHECK-LABEL: func.func @fresh
// CHECK: %[[Y:.*]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} = gecko.fused_norm_ema %arg0 norm(%arg1, %arg2) state(%arg3, %arg4, %arg5) ema(%{{.*}}, %{{.*}}, %{{.*}}) {{{.*}}rms_num_groups = 2 : i64}
// CHECK-NEXT: return %[[Y]]
func.func @fresh(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx : tensor<2x7x8xf32>
}

// -----

// Negative: the EMA output has another user (it is returned), so ce must exist.
// CHECK-LABEL: func.func @ce_extra_user
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: gecko.rms_norm
func.func @ce_extra_user(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>) -> (tensor<2x7x8xf32>, tensor<2x7x8xf32>) {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx, %ce : tensor<2x7x8xf32>, tensor<2x7x8xf32>
}

// -----

// Negative: the RMS norm sees ce through a reshape (a (B, L, 2, 4) view, not
// the (B, L, D) activation).
// CHECK-LABEL: func.func @reshaped
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: tensor.expand_shape
// CHECK: gecko.rms_norm
func.func @reshaped(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>) -> tensor<2x7x2x4xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %ce4 = tensor.expand_shape %ce [[0], [1], [2, 3]] output_shape [2, 7, 2, 4] : tensor<2x7x8xf32> into tensor<2x7x2x4xf32>
  %mx = gecko.rms_norm %ce4 {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x2x4xf32>) -> tensor<2x7x2x4xf32>
  return %mx : tensor<2x7x2x4xf32>
}

// -----

// Negative: the two scans restart at different bos masks.
// CHECK-LABEL: func.func @bos_mismatch
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: gecko.rms_norm
func.func @bos_mismatch(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>, %bos: tensor<2x7xi1>, %bos2: tensor<2x7xi1>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g bos(%bos2) : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx : tensor<2x7x8xf32>
}

// -----

// Negative: only the timestep norm restarts at bos.
// CHECK-LABEL: func.func @bos_only_tsn
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: gecko.rms_norm
func.func @bos_only_tsn(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>, %bos: tensor<2x7xi1>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx : tensor<2x7x8xf32>
}

// -----

// Negative: padded timestep norm (the fused op has no padding mask).
// CHECK-LABEL: func.func @padding
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: gecko.rms_norm
func.func @padding(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>, %pad: tensor<2x7xi1>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) padding(%pad) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x7xi1>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx : tensor<2x7x8xf32>
}

// -----

// Negative: the RMS weight is computed from the timestep norm's new state, so
// no point both follows every operand and precedes every use of that state.
// CHECK-LABEL: func.func @state_feeds_operand
// CHECK-NOT: gecko.fused_norm_ema
// CHECK: gecko.timestep_norm
// CHECK: gecko.cema %
// CHECK: gecko.rms_norm
func.func @state_feeds_operand(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %flat = tensor.collapse_shape %nm [[0, 1]] : tensor<2x2xf32> into tensor<4xf32>
  %rw = tensor.concat dim(0) %flat, %flat : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%rw) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>) -> tensor<2x7x8xf32>
  return %mx : tensor<2x7x8xf32>
}

// -----

// Two layers: both chains fuse, the second reads the first's output.
// CHECK-LABEL: func.func @two_layers
// CHECK-COUNT-2: gecko.fused_norm_ema
// CHECK-NOT: gecko.rms_norm
func.func @two_layers(%x: tensor<2x7x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>) -> tensor<2x7x8xf32> {
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce, %nh = gecko.cema %t, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  %t2, %nc2, %nm2, %nv2 = gecko.timestep_norm %mx, %w, %b state(%c, %m, %v) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<2x7x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x7x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %ce2, %nh2 = gecko.cema %t2, %p, %q, %g : (tensor<2x7x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<2x7x8xf32>, tensor<2x8x3xcomplex<f32>>)
  %mx2 = gecko.rms_norm %ce2 {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x7x8xf32>) -> tensor<2x7x8xf32>
  return %mx2 : tensor<2x7x8xf32>
}
