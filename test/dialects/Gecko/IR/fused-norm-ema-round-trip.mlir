// RUN: gecko-opt %s | gecko-opt | FileCheck %s
// RUN: gecko-opt %s --mlir-print-op-generic | gecko-opt | FileCheck %s
// gecko.fused_norm_ema (made by gecko-fuse-norm-ema) in every optional form;
// the second gecko-opt re-parses the printed form.

// CHECK-LABEL: func.func @full
// CHECK-NEXT: %y, %tsn, %new_count, %new_mean, %new_var, %new_h = gecko.fused_norm_ema %arg0 norm(%arg1, %arg2) state(%arg3, %arg4, %arg5) ema(%arg6, %arg7, %arg8) ema_state(%arg9) bos(%arg10) rms_weight(%arg11) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8xi1>, tensor<4xf32>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
func.func @full(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>, %h: tensor<2x4x3xcomplex<f32>>, %bos: tensor<2x8xi1>, %rw: tensor<4xf32>) {
  %y, %tsn, %nc, %nm, %nv, %nh = gecko.fused_norm_ema %x norm(%w, %b) state(%c, %m, %v) ema(%p, %q, %g) ema_state(%h) bos(%bos) rms_weight(%rw) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>, tensor<2x8xi1>, tensor<4xf32>) -> (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @minimal
// CHECK-NEXT: %y, %tsn, %new_count, %new_mean, %new_var, %new_h = gecko.fused_norm_ema %arg0 norm(%arg1, %arg2) state(%arg3, %arg4, %arg5) ema(%arg6, %arg7, %arg8) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<1x5x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<1x5x4xf32>, tensor<1x5x4xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x4x3xcomplex<f32>>)
func.func @minimal(%x: tensor<1x5x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<1xi64>, %m: tensor<1x2xf32>, %v: tensor<1x2xf32>, %p: tensor<4x3xf32>, %q: tensor<4x3xcomplex<f32>>, %g: tensor<4x3xcomplex<f32>>) {
  %r:6 = gecko.fused_norm_ema %x norm(%w, %b) state(%c, %m, %v) ema(%p, %q, %g) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<1x5x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>) -> (tensor<1x5x4xf32>, tensor<1x5x4xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x4x3xcomplex<f32>>)
  return
}

// CHECK-LABEL: func.func @bf16_bos_rms_weight
// CHECK-NEXT: %y, %tsn, %new_count, %new_mean, %new_var, %new_h = gecko.fused_norm_ema %arg0 norm(%arg1, %arg1) state(%arg2, %arg3, %arg3) ema(%arg4, %arg5, %arg5) bos(%arg6) rms_weight(%arg1) {beta1 = 0.99899999999999999 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x3x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<2xi64>, tensor<2x2xbf16>, tensor<2x2xbf16>, tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>, tensor<2x3xi1>, tensor<4xbf16>) -> (tensor<2x3x4xbf16>, tensor<2x3x4xbf16>, tensor<2xi64>, tensor<2x2xbf16>, tensor<2x2xbf16>, tensor<2x4x2xcomplex<f32>>)
func.func @bf16_bos_rms_weight(%x: tensor<2x3x4xbf16>, %w: tensor<4xbf16>, %c: tensor<2xi64>, %m: tensor<2x2xbf16>, %p: tensor<4x2xf32>, %q: tensor<4x2xcomplex<f32>>, %bos: tensor<2x3xi1>) {
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) bos(%bos) rms_weight(%w) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<2x3x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<2xi64>, tensor<2x2xbf16>, tensor<2x2xbf16>, tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>, tensor<2x3xi1>, tensor<4xbf16>) -> (tensor<2x3x4xbf16>, tensor<2x3x4xbf16>, tensor<2xi64>, tensor<2x2xbf16>, tensor<2x2xbf16>, tensor<2x4x2xcomplex<f32>>)
  return
}
