// RUN: gecko-opt %s --gecko-to-cpu="fuse-norm-ema=1" --mlir-print-ir-after=gecko-fuse-norm-ema -o /dev/null 2>&1 | FileCheck %s
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: gecko-opt %s --gecko-to-cpu="fuse-norm-ema=1" | FileCheck %s --check-prefix=LLVM
// gecko-to-cpu's fuse-norm-ema option runs gecko-fuse-norm-ema first (off by
// default); both forms lower to the LLVM dialect.

// CHECK: IR Dump After GeckoFuseNormEma
// CHECK: gecko.fused_norm_ema %arg0 norm(%arg1, %arg2) state(%arg3, %arg4, %arg5) ema(%{{.*}}, %{{.*}}, %{{.*}}) ema_state(%arg9) bos(%arg10) rms_weight(%arg11)
// CHECK-NOT: gecko.rms_norm
// LLVM: llvm.func @block_input
// LLVM-NOT: gecko.
func.func @block_input(%x: tensor<1x21x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<1xi64>, %m: tensor<1x2xf32>, %v: tensor<1x2xf32>, %al: tensor<8x3xf32>, %th: tensor<8xf32>, %ga: tensor<8x3x2xf32>, %hx: tensor<1x8x3xcomplex<f32>>, %bos: tensor<1x21xi1>, %rw: tensor<8xf32>) -> (tensor<1x21x8xf32>, tensor<1x21x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x8x3xcomplex<f32>>) {
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 2 : i64} : (tensor<1x21x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x21xi1>) -> (tensor<1x21x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>)
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<8x3x2xf32>) -> (tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>)
  %ce, %nh = gecko.cema %t, %p, %q, %g state(%hx) bos(%bos) : (tensor<1x21x8xf32>, tensor<8x3xf32>, tensor<8x3xcomplex<f32>>, tensor<8x3xcomplex<f32>>, tensor<1x8x3xcomplex<f32>>, tensor<1x21xi1>) -> (tensor<1x21x8xf32>, tensor<1x8x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%rw) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<1x21x8xf32>, tensor<8xf32>) -> tensor<1x21x8xf32>
  return %mx, %t, %nc, %nm, %nv, %nh : tensor<1x21x8xf32>, tensor<1x21x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x8x3xcomplex<f32>>
}
