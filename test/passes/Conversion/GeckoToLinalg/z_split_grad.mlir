// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=2" | FileCheck %s

// dz per tile; dgamma and dbeta rows as eight per-tile partials (2 batch x 3
// token tiles, (H, dz) each), reduced after the forall and stacked into
// (4, Z); dgamma carries the 1/√dz factor after the sum.
// CHECK-LABEL: func.func @zsplit_grad
// CHECK:         %[[R:.+]]:9 = scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (2, 5) step (1, 2) shared_outs({{.*}}) -> (tensor<2x5x2x4xbf16>, tensor<2x3x2x4xf32>, {{.*}})
// CHECK:           math.rsqrt
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK:             arith.truncf {{.*}} : f32 to bf16
// CHECK:           %[[P:.+]]:8 = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]
// CHECK-COUNT-8:     tensor.parallel_insert_slice %[[P]]#{{[0-7]}} into %{{.+}}[%{{.+}}, %{{.+}}, 0, 0] [1, 1, 2, 4]
// CHECK:         linalg.generic {{.*}} ins(%[[R]]#1 : tensor<2x3x2x4xf32>)
// CHECK:           arith.constant 5.000000e-01 : f32
// CHECK:         tensor.insert_slice %{{.+}} into %{{.+}}[0, 0] [1, 8] [1, 1] : tensor<8xbf16> into tensor<4x8xbf16>
// CHECK:         tensor.insert_slice %{{.+}} into %{{.+}}[3, 0] [1, 8] [1, 1] : tensor<8xbf16> into tensor<4x8xbf16>
// CHECK:         linalg.generic {{.*}} ins(%[[R]]#8 : tensor<2x3x2x4xf32>)
// CHECK:         return {{.*}} : tensor<2x5x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>
func.func @zsplit_grad(%z: tensor<2x5x8xbf16>, %g: tensor<4x8xbf16>, %b: tensor<4x8xbf16>, %d0: tensor<2x5x8xbf16>, %d1: tensor<2x5x8xbf16>, %d2: tensor<2x5x8xbf16>, %d3: tensor<2x5x8xbf16>) -> (tensor<2x5x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %dz, %dg, %db = gecko.z_split_grad %z, %g, %b grad(%d0, %d1, %d2, %d3) {num_heads = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x5x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<2x5x8xbf16>, tensor<2x5x8xbf16>, tensor<2x5x8xbf16>, tensor<2x5x8xbf16>) -> (tensor<2x5x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>)
  return %dz, %dg, %db : tensor<2x5x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>
}
