// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=3" | FileCheck %s

// The inverse frequencies are a constant table (fp32(base^(2j/d)))^-1; the
// shared output starts as x and only the first num_rope_heads heads of
// each tile are rewritten.
// CHECK-LABEL: func.func @rope_partial
// CHECK-SAME:    %[[X:.+]]: tensor<2x7x3x6xf32>, %[[START:.+]]: i64
// CHECK:         %[[FREQ:.+]] = arith.constant dense<[1.000000e+00, 0.0125992103, 1.58740106E-4]> : tensor<3xf32>
// CHECK:         scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 7) step (1, 3) shared_outs(%[[OUT:.+]] = %[[X]])
// CHECK:           %[[TS:.+]] = affine.min
// CHECK:           linalg.generic
// CHECK-SAME:        ins(%[[FREQ]] : tensor<3xf32>)
// CHECK:             linalg.index 0
// CHECK:             arith.sitofp {{.*}} : i64 to f32
// CHECK:             math.cos
// CHECK:             math.sin
// CHECK:           %[[EVEN:.+]] = tensor.extract_slice %[[OUT]][%[[B]], %[[T]], 0, 0] [1, %[[TS]], 2, 3] [1, 1, 1, 2]
// CHECK:           %[[ODD:.+]] = tensor.extract_slice %[[OUT]][%[[B]], %[[T]], 0, 1] [1, %[[TS]], 2, 3] [1, 1, 1, 2]
// CHECK:           %[[ROT:.+]] = linalg.generic
// CHECK-SAME:        ins(%[[EVEN]], %[[ODD]], %{{.+}}, %{{.+}} : {{.*}}) outs(%{{.+}} : tensor<1x?x2x3x2xf32>)
// CHECK:             linalg.index 4
// CHECK:             arith.select
// CHECK:           %[[Y:.+]] = tensor.collapse_shape %[[ROT]] {{\[\[}}0], [1], [2], [3, 4]]
// CHECK:           tensor.parallel_insert_slice %[[Y]] into %[[OUT]][%[[B]], %[[T]], 0, 0] [1, %[[TS]], 2, 6]
func.func @rope_partial(%x: tensor<2x7x3x6xf32>, %start: i64) -> tensor<2x7x3x6xf32> {
  %y = gecko.rope %x start(%start) {base = 500000.0 : f64, num_rope_heads = 2 : i64}
      : (tensor<2x7x3x6xf32>, i64) -> tensor<2x7x3x6xf32>
  return %y : tensor<2x7x3x6xf32>
}
