// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=3" | FileCheck %s

// The rotation of gecko.rope with the sine negated (angle −pos·f_j); the
// shared output starts as dy so heads past num_rope_heads pass through.
// CHECK-LABEL: func.func @rope_grad_partial
// CHECK-SAME:    %[[DY:.+]]: tensor<2x7x3x6xf32>, %[[START:.+]]: i64
// CHECK:         %[[FREQ:.+]] = arith.constant dense<[1.000000e+00, 0.0125992103, 1.58740106E-4]> : tensor<3xf32>
// CHECK:         scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 7) step (1, 3) shared_outs(%[[OUT:.+]] = %[[DY]])
// CHECK:             math.cos
// CHECK:             math.sin
// CHECK:           %[[EVEN:.+]] = tensor.extract_slice %[[OUT]][%[[B]], %[[T]], 0, 0] [1, %{{.+}}, 2, 3] [1, 1, 1, 2]
// CHECK:           %[[ODD:.+]] = tensor.extract_slice %[[OUT]][%[[B]], %[[T]], 0, 1] [1, %{{.+}}, 2, 3] [1, 1, 1, 2]
// CHECK:           linalg.generic
// CHECK-SAME:        ins(%[[EVEN]], %[[ODD]], %{{.+}}, %{{.+}} : {{.*}})
// CHECK-NEXT:      ^bb0(%[[X0:.+]]: f32, %[[X1:.+]]: f32, %[[C:.+]]: f32, %[[S:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:        %[[NS:.+]] = arith.negf %[[S]] : f32
// CHECK-NEXT:        arith.mulf %[[X0]], %[[C]]
// CHECK-NEXT:        arith.mulf %[[X1]], %[[NS]]
// CHECK:           tensor.parallel_insert_slice
func.func @rope_grad_partial(%dy: tensor<2x7x3x6xf32>, %start: i64) -> tensor<2x7x3x6xf32> {
  %dx = gecko.rope_grad %dy start(%start) {base = 500000.0 : f64, num_rope_heads = 2 : i64}
      : (tensor<2x7x3x6xf32>, i64) -> tensor<2x7x3x6xf32>
  return %dx : tensor<2x7x3x6xf32>
}

// No rotated heads: dx is dy.
// CHECK-LABEL: func.func @rope_grad_none
// CHECK-SAME:    %[[DY:.+]]: tensor<1x2x2x4xf32>
// CHECK-NOT:     scf.forall
// CHECK:         return %[[DY]]
func.func @rope_grad_none(%dy: tensor<1x2x2x4xf32>, %start: index) -> tensor<1x2x2x4xf32> {
  %dx = gecko.rope_grad %dy start(%start) {base = 10000.0 : f64, num_rope_heads = 0 : i64}
      : (tensor<1x2x2x4xf32>, index) -> tensor<1x2x2x4xf32>
  return %dx : tensor<1x2x2x4xf32>
}
