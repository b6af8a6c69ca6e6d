// RUN: gecko-opt %s --gecko-convert-to-linalg="batch-tile-size=2 token-tile-size=2" | FileCheck %s

// z split: per-head RMS statistics, then one generic that writes all four
// rows q, k, aq, ak from the shared normalised value.
// CHECK-LABEL: func.func @zsplit
// The scales (gamma_r + 1)/sqrt(dz) are precomputed per row.
// CHECK-COUNT-4: arith.divf
// CHECK:         %[[R:.+]]:4 = scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (2, 5) step (2, 2) shared_outs(
// CHECK-SAME:      -> (tensor<2x5x2x6xf32>, tensor<2x5x2x6xf32>, tensor<2x5x2x6xf32>, tensor<2x5x2x6xf32>)
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:           math.rsqrt
// CHECK:           %[[OUT:.+]]:4 = linalg.generic
// CHECK-SAME:        outs(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<2x?x2x6xf32>, tensor<2x?x2x6xf32>, tensor<2x?x2x6xf32>, tensor<2x?x2x6xf32>)
// CHECK-COUNT-4:     tensor.parallel_insert_slice
// CHECK:         return {{.*}} : tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>
func.func @zsplit(%z: tensor<2x5x12xf32>, %gamma: tensor<4x12xf32>, %beta: tensor<4x12xf32>)
    -> (tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {num_heads = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x5x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>)
      -> (tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>)
  return %q, %k, %aq, %ak : tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>
}
