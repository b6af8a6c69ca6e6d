// RUN: gecko-opt %s --split-input-file --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" | FileCheck %s
// The lowered IR bufferizes in place (the online-softmax state is updated in
// the scf.for iter_args, no loop-carried copies).
// RUN: gecko-opt %s --split-input-file --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" --canonicalize --one-shot-bufferize="bufferize-function-boundaries" -o /dev/null

// Chunked path, C = 5 (query tiles of 3: a partial tile of 2), cache and
// segments. One forall iteration per (batch, head, chunk, query tile); chunk 0
// walks the cache, chunk c > 0 chunk c - 1 (no causal mask needed there);
// then the current chunk up to the tile's last query (causal tile bound).
// CHECK-DAG: #[[QSIZE:.+]] = affine_map<(d0) -> (3, -d0 + 5)>
// CHECK-DAG: #[[QSTART:.+]] = affine_map<(d0, d1) -> (d0 * 5 + d1)>
// CHECK-DAG: #[[CSTART:.+]] = affine_map<(d0) -> (d0 * 5)>
// CHECK-DAG: #[[PSTART:.+]] = affine_map<(d0) -> (d0 * 5 - 5, 0)>
// CHECK-DAG: #[[QEND:.+]] = affine_map<(d0, d1, d2) -> (d0 + d1 * 5 + d2)>
// CHECK-LABEL: func.func @chunked_cache_seg
// CHECK:       scf.forall (%[[B:.+]], %[[H:.+]], %[[C:.+]], %[[QO:.+]]) = (0, 0, 0, 0) to (2, 2, 2, 5) step (1, 1, 1, 3) shared_outs(%[[OUT:.+]] = %{{.+}})
// CHECK:         %[[QS:.+]] = affine.min #[[QSIZE]](%[[QO]])
// CHECK:         %[[Q0:.+]] = affine.apply #[[QSTART]](%[[C]], %[[QO]])
// CHECK:         tensor.extract_slice %arg0[%[[B]], %[[Q0]], %[[H]], 0] [1, %[[QS]], 1, 4] [1, 1, 1, 1] : tensor<2x10x2x4xf32> to tensor<?x4xf32>
// CHECK:         %[[CS:.+]] = affine.apply #[[CSTART]](%[[C]])
// CHECK:         %[[PS:.+]] = affine.max #[[PSTART]](%[[C]])
// CHECK:         %[[FIRST:.+]] = arith.cmpi eq, %[[C]], %c0
// CHECK:         scf.if %[[FIRST]]
// CHECK:           scf.for %{{.+}} = %c0{{.*}} to %c5{{.*}} step %c2
// CHECK:             tensor.extract_slice %arg3
// CHECK-NOT:         arith.cmpi ule
// CHECK:         } else {
// CHECK:           scf.for %{{.+}} = %[[PS]] to %[[CS]] step %c2
// CHECK-NOT:         arith.cmpi ule
// CHECK:             scf.yield
// CHECK:           scf.yield
// CHECK:         }
// CHECK:         %[[END:.+]] = affine.apply #[[QEND]](%[[QS]], %[[C]], %[[QO]])
// CHECK:         scf.for %[[J:.+]] = %[[CS]] to %[[END]] step %c2 iter_args(%[[M:.+]] = %{{.+}}#0, %[[L:.+]] = %{{.+}}#1, %[[ACC:.+]] = %{{.+}}#2)
// S = Q Kᵀ in f32 on one (query tile x key tile) block.
// CHECK:           linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:             arith.mulf
// Causal and segment mask -> -inf.
// CHECK:           %[[S:.+]] = linalg.generic
// CHECK:             linalg.index 0
// CHECK:             linalg.index 1
// CHECK:             arith.cmpi ule
// CHECK:             arith.cmpi eq, {{.*}} : i64
// CHECK:             arith.select {{.*}}, %cst{{.*}} : f32
// CHECK:           %[[BMAX:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[S]] :
// CHECK:             arith.maximumf
// Online-softmax rescale: m' = max(m, block max), alpha = exp(m - m'),
// l' = alpha l (+ rowsum P below), acc' = alpha acc (+ P V below).
// CHECK:           %[[R:.+]]:4 = linalg.generic {{.*}} ins(%[[BMAX]] : tensor<?xf32>) outs(%[[M]], %{{.+}}, %{{.+}}, %[[L]] :
// CHECK:           ^bb0(%[[BM:.+]]: f32, %[[MOLD:.+]]: f32, %{{.+}}: f32, %{{.+}}: f32, %[[LOLD:.+]]: f32):
// CHECK:             %[[MNEW:.+]] = arith.maximumf %[[MOLD]], %[[BM]] : f32
// CHECK:             %[[BASE:.+]] = arith.select %{{.+}}, %cst{{.*}}, %[[MNEW]] : f32
// CHECK:             %[[DIFF:.+]] = arith.subf %[[MOLD]], %[[BASE]] : f32
// CHECK:             %[[ALPHA:.+]] = math.exp %[[DIFF]] : f32
// CHECK:             %[[LS:.+]] = arith.mulf %[[ALPHA]], %[[LOLD]] : f32
// CHECK:             linalg.yield %[[MNEW]], %[[BASE]], %[[ALPHA]], %[[LS]]
// CHECK:           %[[P:.+]] = linalg.generic {{.*}} ins(%[[S]], %[[R]]#1 :
// CHECK:             arith.subf
// CHECK:             math.exp
// CHECK:           %[[LNEW:.+]] = linalg.generic {{.*}} ins(%[[P]] : tensor<?x?xf32>) outs(%[[R]]#3 : tensor<?xf32>)
// CHECK:           %[[ACCS:.+]] = linalg.generic {{.*}} ins(%[[R]]#2 : tensor<?xf32>) outs(%[[ACC]] : tensor<?x6xf32>)
// CHECK:             arith.mulf
// CHECK:           %[[ACCN:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]], %{{.+}} : tensor<?x?xf32>, tensor<?x6xf32>) outs(%[[ACCS]] : tensor<?x6xf32>)
// CHECK:           scf.yield %[[R]]#0, %[[LNEW]], %[[ACCN]]
// Rows without keys (l = 0) output 0, others acc / l.
// CHECK:         linalg.generic
// CHECK:           arith.cmpf oeq
// CHECK:           arith.divf
// CHECK:           arith.select
// CHECK:         scf.forall.in_parallel
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[OUT]][%[[B]], %[[Q0]], %[[H]], 0] [1, %[[QS]], 1, 6] [1, 1, 1, 1] : tensor<?x6xf32> into tensor<2x10x2x6xf32>
func.func @chunked_cache_seg(%q: tensor<2x10x2x4xf32>, %k: tensor<2x10x2x4xf32>, %v: tensor<2x10x2x6xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x6xf32>, %s: tensor<2x10xi64>, %ps: tensor<2x5xi64>) -> tensor<2x10x2x6xf32> {
  %out = gecko.chunk_attention chunked %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 5 : i64} : (tensor<2x10x2x4xf32>, tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x10xi64>, tensor<2x5xi64>) -> tensor<2x10x2x6xf32>
  return %out : tensor<2x10x2x6xf32>
}

// -----

// Decode (short path, L = 1) with a cache of 2C - 1 = 7 bf16 tokens: one
// forall iteration per (batch, head); the cache in key tiles of 2 (the last
// one partial), then the token itself. Products extend bf16 to f32; the
// output is truncated on the store.
// CHECK-DAG: #[[KSIZE:.+]] = affine_map<(d0) -> (2, -d0 + 7)>
// CHECK-LABEL: func.func @decode_bf16
// CHECK:       scf.forall (%[[B:.+]], %[[H:.+]], %{{.+}}, %{{.+}}) in (2, 2, 1, 1)
// CHECK:         scf.for %[[J:.+]] = %c0 to %c7 step %c2
// CHECK:           affine.min #[[KSIZE]](%[[J]])
// CHECK:           arith.extf %{{.+}} : bf16 to f32
// CHECK:           math.exp
// CHECK:         scf.for
// CHECK:           arith.cmpi ule
// CHECK:         arith.truncf %{{.+}} : f32 to bf16
// CHECK:         tensor.parallel_insert_slice %{{.+}} : tensor<1x6xbf16> into tensor<2x1x2x6xbf16>
func.func @decode_bf16(%q: tensor<2x1x2x4xbf16>, %k: tensor<2x1x2x4xbf16>, %v: tensor<2x1x2x6xbf16>, %pk: tensor<2x7x2x4xbf16>, %pv: tensor<2x7x2x6xbf16>, %s: tensor<2x1xi64>, %ps: tensor<2x7xi64>) -> tensor<2x1x2x6xbf16> {
  %out = gecko.chunk_attention short %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 4 : i64} : (tensor<2x1x2x4xbf16>, tensor<2x1x2x4xbf16>, tensor<2x1x2x6xbf16>, tensor<2x7x2x4xbf16>, tensor<2x7x2x6xbf16>, tensor<2x1xi64>, tensor<2x7xi64>) -> tensor<2x1x2x6xbf16>
  return %out : tensor<2x1x2x6xbf16>
}

// -----

// Without `causal` the whole current chunk is visited and nothing is masked.
// CHECK-DAG: #[[CEND:.+]] = affine_map<(d0) -> (d0 * 4 + 4)>
// CHECK-LABEL: func.func @not_causal
// CHECK:       scf.forall (%{{.+}}, %{{.+}}, %[[C:.+]], %{{.+}}) = (0, 0, 0, 0) to (1, 1, 2, 4) step (1, 1, 1, 3)
// CHECK:         %[[END:.+]] = affine.apply #[[CEND]](%[[C]])
// CHECK:         scf.for %{{.+}} = %{{.+}} to %[[END]] step %c2
// CHECK-NOT:     arith.cmpi ule
// CHECK:       return
func.func @not_causal(%q: tensor<1x8x1x4xf32>, %k: tensor<1x8x1x4xf32>, %v: tensor<1x8x1x4xf32>) -> tensor<1x8x1x4xf32> {
  %out = gecko.chunk_attention chunked %q, %k, %v {chunk_size = 4 : i64} : (tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>) -> tensor<1x8x1x4xf32>
  return %out : tensor<1x8x1x4xf32>
}
