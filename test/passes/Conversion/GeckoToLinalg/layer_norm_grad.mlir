// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=3" | FileCheck %s

// Two per-group sums (Σ g·x̂, Σ g) in one reduction; dweight and dbias are
// two per-tile partials (3 batch tiles x 2 token tiles), each summed after
// the forall.
// CHECK-LABEL: func.func @ln_grad
// CHECK:         %[[R:.+]]:3 = scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (3, 4) step (1, 3) shared_outs({{.*}}) -> (tensor<3x4x1x8xf32>, tensor<3x2x1x8xf32>, tensor<3x2x1x8xf32>)
// Mean, centred squares, then the chain-rule sums.
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:           math.rsqrt
// CHECK:           %{{.+}}:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:           %[[P:.+]]:2 = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %[[P]]#0 into
// CHECK-SAME:          [1, 1, 1, 8] [1, 1, 1, 1] : tensor<1x8xf32> into tensor<3x2x1x8xf32>
// CHECK:             tensor.parallel_insert_slice %[[P]]#1 into
// CHECK:         linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]} ins(%[[R]]#1 : tensor<3x2x1x8xf32>)
// CHECK:         linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]} ins(%[[R]]#2 : tensor<3x2x1x8xf32>)
// CHECK:         return {{.*}} : tensor<3x4x8xf32>, tensor<8xf32>, tensor<8xf32>
func.func @ln_grad(%x: tensor<3x4x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %dy: tensor<3x4x8xf32>) -> (tensor<3x4x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %dx, %dw, %db = gecko.layer_norm_grad %x weight(%w) bias(%b) grad(%dy) {num_groups = 1 : i64, eps = 1.0e-5 : f64}
      : tensor<3x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3x4x8xf32> -> tensor<3x4x8xf32> weight(tensor<8xf32>) bias(tensor<8xf32>)
  return %dx, %dw, %db : tensor<3x4x8xf32>, tensor<8xf32>, tensor<8xf32>
}

// Only a bias: one partial.
// CHECK-LABEL: func.func @ln_grad_bias_only
// CHECK:         scf.forall {{.*}} -> (tensor<2x6x2x3xf32>, tensor<2x2x2x3xf32>)
// CHECK:         return {{.*}} : tensor<2x6x6xf32>, tensor<6xf32>
func.func @ln_grad_bias_only(%x: tensor<2x6x6xf32>, %b: tensor<6xf32>, %dy: tensor<2x6x6xf32>) -> (tensor<2x6x6xf32>, tensor<6xf32>) {
  %dx, %db = gecko.layer_norm_grad %x bias(%b) grad(%dy) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : tensor<2x6x6xf32>, tensor<6xf32>, tensor<2x6x6xf32> -> tensor<2x6x6xf32> bias(tensor<6xf32>)
  return %dx, %db : tensor<2x6x6xf32>, tensor<6xf32>
}
