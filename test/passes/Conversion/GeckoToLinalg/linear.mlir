// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=4 linear-column-tile=3" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=8 linear-column-tile=8" | FileCheck %s --check-prefix=TILES

func.func @linear(%x: tensor<2x5x6xbf16>, %w: tensor<7x6xbf16>, %b: tensor<7xbf16>) -> tensor<2x5x7xbf16> {
  %y = gecko.linear %x, %w bias(%b) : (tensor<2x5x6xbf16>, tensor<7x6xbf16>, tensor<7xbf16>) -> tensor<2x5x7xbf16>
  return %y : tensor<2x5x7xbf16>
}

func.func @linear_grad(%x: tensor<2x5x6xf32>, %w: tensor<7x6xf32>, %b: tensor<7xf32>, %dy: tensor<2x5x7xf32>)
    -> (tensor<2x5x6xf32>, tensor<7x6xf32>, tensor<7xf32>) {
  %dx, %dw, %db = gecko.linear_grad %x, %w bias(%b) grad(%dy)
      : tensor<2x5x6xf32>, tensor<7x6xf32>, tensor<7xf32>, tensor<2x5x7xf32> -> tensor<2x5x6xf32>, tensor<7x6xf32> bias(tensor<7xf32>)
  return %dx, %dw, %db : tensor<2x5x6xf32>, tensor<7x6xf32>, tensor<7xf32>
}

// Forward: rows M = 2·5 = 10 folded, a forall over (row, output-column)
// tiles of (token-tile-size, linear-column-tile); 10 rows in 4s and 7
// columns in 3s leave partial tiles (affine.min). Each block multiplies the
// (rows, in) x slice by the transposed (cols, in) weight slice into an f32
// accumulator, then adds the bias slice and rounds to bf16.
// CHECK-DAG:   #[[$ROWS:.+]] = affine_map<(d0) -> (4, -d0 + 10)>
// CHECK-DAG:   #[[$COLS:.+]] = affine_map<(d0) -> (3, -d0 + 7)>
// CHECK-DAG:   #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$COL:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG:   #[[$ROW:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @linear(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x5x6xbf16>, %[[W:[^:]+]]: tensor<7x6xbf16>, %[[B:[^:]+]]: tensor<7xbf16>)
// CHECK:         %[[XM:.+]] = tensor.expand_shape {{.*}} into tensor<10x6xbf16>
// CHECK:         %[[Y:.+]] = scf.forall (%[[R:.+]], %[[C:.+]]) = (0, 0) to (10, 7) step (4, 3) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<10x7xbf16>)
// CHECK:           %[[NR:.+]] = affine.min #[[$ROWS]](%[[R]])
// CHECK:           %[[NC:.+]] = affine.min #[[$COLS]](%[[C]])
// CHECK:           %[[XT:.+]] = tensor.extract_slice %[[XM]][%[[R]], 0] [%[[NR]], 6] [1, 1] : tensor<10x6xbf16> to tensor<?x6xbf16>
// CHECK:           %[[WT:.+]] = tensor.extract_slice %[[W]][%[[C]], 0] [%[[NC]], 6] [1, 1] : tensor<7x6xbf16> to tensor<?x6xbf16>
// CHECK:           %[[WTT:.+]] = linalg.transpose ins(%[[WT]] : tensor<?x6xbf16>) {{.*}} permutation = [1, 0]
// CHECK:           %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<?x?xf32>)
// CHECK:           %[[ACC:.+]] = linalg.matmul ins(%[[XT]], %[[WTT]] : tensor<?x6xbf16>, tensor<6x?xbf16>) outs(%[[ZERO]] : tensor<?x?xf32>)
// CHECK:           %[[BT:.+]] = tensor.extract_slice %[[B]][%[[C]]] [%[[NC]]] [1]
// CHECK:           %[[YT:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$COL]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[ACC]], %[[BT]] : tensor<?x?xf32>, tensor<?xbf16>)
// CHECK:             arith.extf
// CHECK:             arith.addf
// CHECK:             arith.truncf {{.*}} f32 to bf16
// CHECK:           scf.forall.in_parallel
// CHECK-NEXT:        tensor.parallel_insert_slice %[[YT]] into %[[OUT]][%[[R]], %[[C]]] [%[[NR]], %[[NC]]] [1, 1]
// CHECK:         tensor.expand_shape %{{.+}} {{\[}}[0, 1, 2]] output_shape [2, 5, 7]

// Backward: dx = dy·W per (row, input-column) block; dW = dyᵀ·x per
// (output-row, input-column) block, each block a single matmul over ALL 10
// rows (deterministic, no atomics); dbias = Σ_rows dy per output block.
// CHECK-LABEL: func.func @linear_grad(
// CHECK-SAME:    %[[GX:[^:]+]]: tensor<2x5x6xf32>, %[[GW:[^:]+]]: tensor<7x6xf32>, %{{[^:]+}}: tensor<7xf32>, %{{[^:]+}}: tensor<2x5x7xf32>)
// CHECK:         %[[GXM:.+]] = tensor.expand_shape {{.*}} into tensor<10x6xf32>
// CHECK:         %[[DYM:.+]] = tensor.expand_shape {{.*}} into tensor<10x7xf32>
// CHECK:         %[[DX:.+]] = scf.forall (%[[R2:.+]], %[[I2:.+]]) = (0, 0) to (10, 6) step (4, 3) {{.*}} -> (tensor<10x6xf32>)
// CHECK:           %[[DYT:.+]] = tensor.extract_slice %[[DYM]][%[[R2]], 0] [%{{.+}}, 7] [1, 1]
// CHECK:           %[[WS:.+]] = tensor.extract_slice %[[GW]][0, %[[I2]]] [7, 3] [1, 1] : tensor<7x6xf32> to tensor<7x3xf32>
// CHECK:           linalg.matmul ins(%[[DYT]], %[[WS]] : tensor<?x7xf32>, tensor<7x3xf32>) outs(%{{.+}} : tensor<?x3xf32>)
// CHECK:         %[[DW:.+]] = scf.forall (%[[O3:.+]], %[[I3:.+]]) = (0, 0) to (7, 6) step (3, 3) {{.*}} -> (tensor<7x6xf32>)
// CHECK:           %[[DYC:.+]] = tensor.extract_slice %[[DYM]][0, %[[O3]]] [10, %{{.+}}] [1, 1] : tensor<10x7xf32> to tensor<10x?xf32>
// CHECK:           %[[XC:.+]] = tensor.extract_slice %[[GXM]][0, %[[I3]]] [10, 3] [1, 1] : tensor<10x6xf32> to tensor<10x3xf32>
// CHECK:           %[[DYCT:.+]] = linalg.transpose ins(%[[DYC]] : tensor<10x?xf32>) {{.*}} permutation = [1, 0]
// CHECK:           linalg.matmul ins(%[[DYCT]], %[[XC]] : tensor<?x10xf32>, tensor<10x3xf32>) outs(%{{.+}} : tensor<?x3xf32>)
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%[[O3]], %[[I3]]]
// CHECK:         %[[DB:.+]] = scf.forall (%{{.+}}, %[[O4:.+]]) = (0, 0) to (1, 7) step (1, 3) {{.*}} -> (tensor<1x7xf32>)
// CHECK:           linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK:             arith.addf
// CHECK:         return %{{.+}}, %[[DW]], %{{.+}} : tensor<2x5x6xf32>, tensor<7x6xf32>, tensor<7xf32>

// The tile sizes are the pass options (clamped to the extents): rows in 8s,
// the 7 outputs / 6 inputs in one column block each.
// TILES-LABEL: func.func @linear(
// TILES:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (10, 7) step (8, 7)
// TILES-LABEL: func.func @linear_grad(
// TILES:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (10, 6) step (8, 6)
// TILES:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (7, 6) step (7, 6)
