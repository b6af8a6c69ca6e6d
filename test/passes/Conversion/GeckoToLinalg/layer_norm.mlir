// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=2" | FileCheck %s

// Layer norm: two f32 reductions per group (the mean, then the centred
// squares), then one elementwise generic with the scale and the bias.
// CHECK-DAG:   #[[$ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[$GROUP:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[$CHAN:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @ln
// CHECK:         scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 5) step (1, 2)
// CHECK:           %[[TILE:.+]] = tensor.extract_slice
// CHECK:           %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$GROUP]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:        ins(%[[TILE]] : tensor<1x?x2x8xf32>) outs(%{{.+}} : tensor<1x?x2xf32>)
// CHECK:           %[[MEAN:.+]] = linalg.generic
// CHECK:           %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$GROUP]], #[[$GROUP]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:        ins(%[[TILE]], %[[MEAN]] :
// CHECK:             arith.subf
// CHECK:           %[[RSTD:.+]] = linalg.generic
// CHECK:             math.rsqrt
// CHECK:           %[[Y:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$GROUP]], #[[$GROUP]], #[[$CHAN]], #[[$CHAN]], #[[$ID4]]]
// CHECK-SAME:        ins(%[[TILE]], %[[RSTD]], %[[MEAN]], %{{.+}}, %{{.+}} :
// CHECK:             arith.subf
// CHECK:             arith.mulf
// CHECK:             arith.mulf
// CHECK:             arith.addf
// CHECK:           tensor.parallel_insert_slice %[[Y]]
func.func @ln(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x5x16xf32> {
  %y = gecko.layer_norm %x weight(%w) bias(%b) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x5x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  return %y : tensor<2x5x16xf32>
}
