// RUN: gecko-opt %s --gecko-convert-to-linalg -split-input-file -verify-diagnostics
// RUN: not gecko-opt %s --gecko-convert-to-linalg="cema-chunk-size=0" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=CHUNK
// gecko.fused_norm_ema inputs the lowering refuses get a clear error on the
// op and fail the pass (never a crash): dynamic shapes, a zero time chunk.

// CHUNK: error: 'gecko.fused_norm_ema' op gecko-convert-to-linalg supports only static shapes, got 'tensor<1x?x8xf32>'
// CHUNK: error: 'gecko.fused_norm_ema' op cema-chunk-size and cema-channel-block must be positive, got 0 and 16

func.func @dynamic_length(%x: tensor<1x?x8xf32>, %w: tensor<8xf32>, %c: tensor<1xi64>, %m: tensor<1x2xf32>, %p: tensor<8x3xf32>, %q: tensor<8x3xcomplex<f32>>) -> tensor<1x?x8xf32> {
  // expected-error @+1 {{gecko-convert-to-linalg supports only static shapes, got 'tensor<1x?x8xf32>'}}
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<1x?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<1x?x8xf32>, tensor<1x?x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x8x3xcomplex<f32>>)
  return %r#0 : tensor<1x?x8xf32>
}

// -----

// Lowers with the default tiles (no diagnostic in the first RUN).
func.func @static(%x: tensor<1x5x8xf32>, %w: tensor<8xf32>, %c: tensor<1xi64>, %m: tensor<1x2xf32>, %p: tensor<8x3xf32>, %q: tensor<8x3xcomplex<f32>>) -> tensor<1x5x8xf32> {
  %r:6 = gecko.fused_norm_ema %x norm(%w, %w) state(%c, %m, %m) ema(%p, %q, %q) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64, rms_eps = 1.000000e-05 : f64, rms_num_groups = 1 : i64} : (tensor<1x5x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>) -> (tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x8x3xcomplex<f32>>)
  return %r#0 : tensor<1x5x8xf32>
}
