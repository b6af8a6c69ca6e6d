// RUN: gecko-opt %s --gecko-convert-to-linalg="batch-tile-size=1 token-tile-size=4" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="batch-tile-size=2 token-tile-size=8" | FileCheck %s --check-prefix=TILES

// The forall tiles (batch, tokens) with the pass options; 5 tokens in tiles
// of 4 leave a partial tile sized by affine.min.
// CHECK-DAG:   #[[$MIN:.+]] = affine_map<(d0) -> (4, -d0 + 5)>
// CHECK-DAG:   #[[$ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[$GROUP:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[$CHAN:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @rms_affine
// CHECK-SAME:    %[[X:.+]]: tensor<2x5x16xf32>
// CHECK:         %[[XV:.+]] = tensor.expand_shape {{.*}} into tensor<2x5x4x4xf32>
// CHECK:         %[[SCALE:.+]] = linalg.generic
// CHECK:           arith.addf
// CHECK:         scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 5) step (1, 4) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<2x5x4x4xf32>)
// CHECK:           %[[TS:.+]] = affine.min #[[$MIN]](%[[T]])
// CHECK:           %[[TILE:.+]] = tensor.extract_slice %[[XV]][%[[B]], %[[T]], 0, 0] [1, %[[TS]], 4, 4]
// Sum of squares over each group, accumulated in f32.
// CHECK:           %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<1x?x4xf32>)
// CHECK:           %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$GROUP]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:        ins(%[[TILE]] : tensor<1x?x4x4xf32>) outs(%[[ZERO]] : tensor<1x?x4xf32>)
// CHECK:             arith.mulf
// CHECK:             arith.addf
// CHECK:           %[[RSTD:.+]] = linalg.generic
// CHECK:             math.rsqrt
// CHECK:           %[[Y:.+]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$GROUP]], #[[$CHAN]], #[[$ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME:        ins(%[[TILE]], %[[RSTD]], %[[SCALE]] :
// CHECK:           scf.forall.in_parallel
// CHECK-NEXT:        tensor.parallel_insert_slice %[[Y]] into %[[OUT]][%[[B]], %[[T]], 0, 0] [1, %[[TS]], 4, 4]
// CHECK:         return {{.*}} : tensor<2x5x16xf32>

// TILES-LABEL: func.func @rms_affine
// TILES:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (2, 5) step (2, 5)
func.func @rms_affine(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>) -> tensor<2x5x16xf32> {
  %y = gecko.rms_norm %x weight(%w) {num_groups = 4 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  return %y : tensor<2x5x16xf32>
}

// bf16: every element is extended to f32 before the arithmetic and the
// result is truncated back on the store.
// CHECK-LABEL: func.func @rms_bf16_no_affine
// CHECK:         scf.forall
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME:        ins(%{{.+}} : tensor<1x?x1x8xbf16>) outs(%{{.+}} : tensor<1x?x1xf32>)
// CHECK-NEXT:      ^bb0(%[[IN:.+]]: bf16, %[[ACC:.+]]: f32):
// CHECK-NEXT:        %[[EXT:.+]] = arith.extf %[[IN]] : bf16 to f32
// CHECK-NEXT:        %[[SQ:.+]] = arith.mulf %[[EXT]], %[[EXT]] : f32
// CHECK-NEXT:        arith.addf %[[ACC]], %[[SQ]] : f32
// CHECK:           linalg.generic
// CHECK:             arith.extf {{.*}} : bf16 to f32
// CHECK:             %[[R:.+]] = arith.truncf {{.*}} : f32 to bf16
// CHECK-NEXT:        linalg.yield %[[R]] : bf16
// CHECK:         return {{.*}} : tensor<3x7x8xbf16>
func.func @rms_bf16_no_affine(%x: tensor<3x7x8xbf16>) -> tensor<3x7x8xbf16> {
  %y = gecko.rms_norm %x {num_groups = 1 : i64, eps = 1.0e-6 : f64}
      : (tensor<3x7x8xbf16>) -> tensor<3x7x8xbf16>
  return %y : tensor<3x7x8xbf16>
}

// Rank 2 input: a unit batch dimension is added for the tiling.
// CHECK-LABEL: func.func @rms_rank2
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (1, 6) step (1, 4)
func.func @rms_rank2(%x: tensor<6x4xf32>) -> tensor<6x4xf32> {
  %y = gecko.rms_norm %x {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<6x4xf32>) -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}
