// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=2" | FileCheck %s

// Embedding: a gather per (batch, token) tile; ids are clamped to [0, V−1]
// before tensor.extract, so no read is out of bounds.
// CHECK-DAG:   #[[$IDX:.+]] = affine_map<(d0) -> (d0 floordiv 2)>
// CHECK-LABEL: func.func @embedding
// CHECK-SAME:    %[[TABLE:.+]]: tensor<10x4xf32>, %[[IDS:.+]]: tensor<2x5xi64>
// CHECK:         scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 5) step (1, 2) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<2x5x4xf32>)
// CHECK:           %[[TS:.+]] = affine.min
// CHECK:           %[[TILE:.+]] = tensor.extract_slice %[[IDS]][%[[B]], %[[T]]] [1, %[[TS]]] [1, 1]
// CHECK:           linalg.generic {{.*}} ins(%[[TILE]] : tensor<1x?xi64>) outs(%{{.+}} : tensor<1x?x4xf32>)
// CHECK-NEXT:      ^bb0(%[[ID:.+]]: i64, %{{.+}}: f32):
// CHECK-NEXT:        %[[C0:.+]] = arith.constant 0 : i64
// CHECK-NEXT:        %[[C9:.+]] = arith.constant 9 : i64
// CHECK-NEXT:        %[[LO:.+]] = arith.maxsi %[[ID]], %[[C0]] : i64
// CHECK-NEXT:        %[[HI:.+]] = arith.minsi %[[LO]], %[[C9]] : i64
// CHECK-NEXT:        %[[ROW:.+]] = arith.index_cast %[[HI]] : i64 to index
// CHECK-NEXT:        %[[COL:.+]] = linalg.index 2 : index
// CHECK-NEXT:        %[[V:.+]] = tensor.extract %[[TABLE]][%[[ROW]], %[[COL]]] : tensor<10x4xf32>
// CHECK-NEXT:        linalg.yield %[[V]] : f32
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[OUT]][%[[B]], %[[T]], 0] [1, %[[TS]], 4]
func.func @embedding(%table: tensor<10x4xf32>, %ids: tensor<2x5xi64>) -> tensor<2x5x4xf32> {
  %out = gecko.embedding %table[%ids] : (tensor<10x4xf32>, tensor<2x5xi64>) -> tensor<2x5x4xf32>
  return %out : tensor<2x5x4xf32>
}

// SwiGLU: one elementwise generic per tile, f32 arithmetic on bf16 data.
// CHECK-LABEL: func.func @swiglu_bf16
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) = (0, 0) to (2, 5) step (1, 2)
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<1x?x6xbf16>, tensor<1x?x6xbf16>)
// CHECK:             %[[G:.+]] = arith.extf {{.*}} : bf16 to f32
// CHECK:             %[[U:.+]] = arith.extf {{.*}} : bf16 to f32
// CHECK:             %[[NG:.+]] = arith.negf %[[G]] : f32
// CHECK-NEXT:        %[[E:.+]] = math.exp %[[NG]] : f32
// CHECK-NEXT:        %[[D:.+]] = arith.addf %{{.+}}, %[[E]] : f32
// CHECK-NEXT:        %[[S:.+]] = arith.divf %[[G]], %[[D]] : f32
// CHECK-NEXT:        %[[Y:.+]] = arith.mulf %[[S]], %[[U]] : f32
// CHECK-NEXT:        arith.truncf %[[Y]] : f32 to bf16
func.func @swiglu_bf16(%gate: tensor<2x5x6xbf16>, %up: tensor<2x5x6xbf16>) -> tensor<2x5x6xbf16> {
  %out = gecko.swiglu %gate, %up : tensor<2x5x6xbf16>
  return %out : tensor<2x5x6xbf16>
}

// Rank 1 SwiGLU gets unit leading dimensions.
// CHECK-LABEL: func.func @swiglu_rank1
// CHECK:         tensor.expand_shape {{.*}} into tensor<1x1x7xf32>
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (1, 1) {{.*}} -> (tensor<1x1x7xf32>)
func.func @swiglu_rank1(%gate: tensor<7xf32>, %up: tensor<7xf32>) -> tensor<7xf32> {
  %out = gecko.swiglu %gate, %up : tensor<7xf32>
  return %out : tensor<7xf32>
}

// Cross-entropy: per tile the row max and Σ exp(x − max) over V, then the
// tile's Σ (max + log Σ − logits[label]) into its slot of a (2, 3) partials
// tensor; after the forall the slots are summed and scaled by 1/(B·L).
// CHECK-LABEL: func.func @cross_entropy
// CHECK-SAME:    %[[LOGITS:.+]]: tensor<2x5x7xf32>, %[[LABELS:.+]]: tensor<2x5xi64>
// CHECK:         %[[P:.+]] = scf.forall (%[[B:.+]], %[[T:.+]]) = (0, 0) to (2, 5) step (1, 2) shared_outs(%[[PART:.+]] = %{{.+}}) -> (tensor<2x3xf32>)
// CHECK:           %[[TI:.+]] = affine.apply #[[$IDX]](%[[T]])
// CHECK:           %[[TL:.+]] = tensor.extract_slice %[[LOGITS]]
// CHECK:           %[[MAX:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[TL]] : tensor<1x?x7xf32>)
// CHECK:             arith.maximumf
// CHECK:           %[[SUM:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[TL]], %[[MAX]] :
// CHECK:             math.exp
// CHECK:           %[[TSUM:.+]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]} ins(%{{.+}}, %[[MAX]], %[[SUM]] : tensor<1x?xi64>, tensor<1x?xf32>, tensor<1x?xf32>) outs(%{{.+}} : tensor<f32>)
// CHECK:             arith.maxsi
// CHECK:             arith.minsi
// CHECK:             tensor.extract %[[TL]]
// CHECK:             math.log
// CHECK:           tensor.parallel_insert_slice %[[TSUM]] into %[[PART]][%[[B]], %[[TI]]] [1, 1] [1, 1] : tensor<f32> into tensor<2x3xf32>
// CHECK:         %[[TOTAL:.+]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]} ins(%[[P]] : tensor<2x3xf32>) outs(%{{.+}} : tensor<f32>)
// CHECK:         %[[LOSS:.+]] = linalg.generic {{.*}} ins(%[[TOTAL]] : tensor<f32>)
// CHECK:           arith.constant 1.000000e-01 : f32
// CHECK:         return %[[LOSS]] : tensor<f32>
func.func @cross_entropy(%logits: tensor<2x5x7xf32>, %labels: tensor<2x5xi64>) -> tensor<f32> {
  %loss = gecko.cross_entropy %logits, %labels : (tensor<2x5x7xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}
