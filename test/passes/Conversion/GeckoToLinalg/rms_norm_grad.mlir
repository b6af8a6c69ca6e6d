// RUN: gecko-opt %s --gecko-convert-to-linalg="batch-tile-size=1 token-tile-size=2" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="batch-tile-size=2 token-tile-size=8" | FileCheck %s --check-prefix=ONETILE

// dx per tile; dweight as per-tile partial sums: 5 tokens in tiles of 2 give
// 3 token tiles, so the partials are (2, 3, G, n); each tile writes its own
// slot (tile index = offset floordiv 2) and one reduction after the forall
// sums the slots.
// CHECK-DAG:   #[[$MIN:.+]] = affine_map<(d0) -> (2, -d0 + 5)>
// CHECK-DAG:   #[[$IDX:.+]] = affine_map<(d0) -> (d0 floordiv 2)>
// CHECK-DAG:   #[[$ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[$GROUP:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[$CHAN:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @rms_grad_affine
// CHECK:         %[[PARTIALS:.+]] = tensor.empty() : tensor<2x3x4x4xf32>
// CHECK:         %[[R:.+]]:2 = scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 5) step (1, 2) shared_outs(%[[DX:.+]] = %{{.+}}, %[[DW:.+]] = %[[PARTIALS]]) -> (tensor<2x5x4x4xf32>, tensor<2x3x4x4xf32>)
// CHECK:           %[[TS:.+]] = affine.min #[[$MIN]](%[[T]])
// CHECK:           %[[TI:.+]] = affine.apply #[[$IDX]](%[[T]])
// CHECK:           math.rsqrt
// Σ g·x̂ per group (reduction over n).
// CHECK:           %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$ID4]], #[[$GROUP]], #[[$CHAN]], #[[$GROUP]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// dx = r·(g − x̂·mean(g·x̂)).
// CHECK:           %[[TDX:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME:        ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[SUM]] :
// CHECK:             arith.subf
// The tile's share of dweight = Σ dy·x̂ over its rows.
// CHECK:           %[[TDW:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$ID4]], #[[$GROUP]], #[[$CHAN]], #[[$CHAN]]], iterator_types = ["reduction", "reduction", "parallel", "parallel"]}
// CHECK-SAME:        outs(%{{.+}} : tensor<4x4xf32>)
// CHECK:           scf.forall.in_parallel
// CHECK-NEXT:        tensor.parallel_insert_slice %[[TDX]] into %[[DX]][%[[B]], %[[T]], 0, 0] [1, %[[TS]], 4, 4]
// CHECK-NEXT:        tensor.parallel_insert_slice %[[TDW]] into %[[DW]][%[[B]], %[[TI]], 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<4x4xf32> into tensor<2x3x4x4xf32>
// Deterministic reduction of the partials, in index order.
// CHECK:         %[[W:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$CHAN]]], iterator_types = ["reduction", "reduction", "parallel", "parallel"]} ins(%[[R]]#1 : tensor<2x3x4x4xf32>) outs(%{{.+}} : tensor<4x4xf32>)
// CHECK:         %[[WF:.+]] = tensor.collapse_shape %[[W]] {{\[\[}}0, 1]] : tensor<4x4xf32> into tensor<16xf32>
// CHECK:         return %{{.+}}, %[[WF]] : tensor<2x5x16xf32>, tensor<16xf32>

// ONETILE-LABEL: func.func @rms_grad_affine
// ONETILE:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (2, 5) step (2, 5) shared_outs(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (tensor<2x5x4x4xf32>, tensor<1x1x4x4xf32>)
func.func @rms_grad_affine(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>, %dy: tensor<2x5x16xf32>) -> (tensor<2x5x16xf32>, tensor<16xf32>) {
  %dx, %dw = gecko.rms_norm_grad %x weight(%w) grad(%dy) {num_groups = 4 : i64, eps = 1.0e-5 : f64}
      : tensor<2x5x16xf32>, tensor<16xf32>, tensor<2x5x16xf32> -> tensor<2x5x16xf32> weight(tensor<16xf32>)
  return %dx, %dw : tensor<2x5x16xf32>, tensor<16xf32>
}

// No affine: no partials, a single shared output; bf16 extended to f32 and
// dx truncated on the store.
// CHECK-LABEL: func.func @rms_grad_bf16_no_affine
// CHECK:         scf.forall {{.*}} -> (tensor<3x7x1x8xbf16>) {
// CHECK:           arith.extf {{.*}} : bf16 to f32
// CHECK:           %[[D:.+]] = arith.truncf {{.*}} : f32 to bf16
// CHECK-NEXT:      linalg.yield %[[D]] : bf16
// CHECK:           scf.forall.in_parallel
// CHECK-NEXT:        tensor.parallel_insert_slice
// CHECK-NEXT:      }
// CHECK:         return {{.*}} : tensor<3x7x8xbf16>
func.func @rms_grad_bf16_no_affine(%x: tensor<3x7x8xbf16>, %dy: tensor<3x7x8xbf16>) -> tensor<3x7x8xbf16> {
  %dx = gecko.rms_norm_grad %x grad(%dy) {num_groups = 1 : i64, eps = 1.0e-6 : f64}
      : tensor<3x7x8xbf16>, tensor<3x7x8xbf16> -> tensor<3x7x8xbf16>
  return %dx : tensor<3x7x8xbf16>
}
