// RUN: not gecko-opt %s --gecko-autodiff -split-input-file 2>&1 | FileCheck %s

// An op without an adjoint rule on the differentiated path is an error that
// names the op and points at it.
#id = affine_map<(d0) -> (d0)>
func.func @unsupported(%x: tensor<4xf32>) -> tensor<4xf32>
    attributes {gecko.differentiate} {
  %e = tensor.empty() : tensor<4xf32>
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'linalg.generic' op gecko-autodiff: no adjoint rule for 'linalg.generic'
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.mulf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// The same op off the differentiated path (its result gets no adjoint) is
// fine: only %x's rms_norm is differentiated.
func.func @unused(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
    attributes {gecko.differentiate} {
  %n = gecko.rms_norm %x {num_groups = 1 : i64, eps = 1.0e-05 : f64}
      : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %n, %x : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// RUN: not gecko-opt %s --gecko-autodiff=functions=missing -split-input-file 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: gecko-autodiff: no function named 'missing'
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
