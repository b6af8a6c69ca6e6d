// RUN: gecko-opt %s --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" --canonicalize --one-shot-bufferize="bufferize-function-boundaries" -o /dev/null

// Flash-attention backward, chunked path with a cache (C = 5, query tiles of
// 3, key tiles of 2). Three foralls:
//  1. per query tile: recompute the online-softmax statistics, LSE = m + log l,
//     D = rowsum(dO ∘ O), then dQ += dS K over the same key tiles;
//  2. per key tile of k: the query tiles that see it, causally from its first
//     key up to the end of the next chunk: dK += dSᵀ Q, dV += Pᵀ dO;
//  3. per key tile of the cache: the queries of chunk 0.
// CHECK-DAG: #[[NEXT:.+]] = affine_map<(d0) -> (d0 * 5 + 10, 10)>
// CHECK-DAG: #[[TRANS:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func.func @grad_chunked_cache
// CHECK:       %[[P1:.+]]:3 = scf.forall (%[[B:.+]], %[[H:.+]], %[[C:.+]], %[[QO:.+]]) = (0, 0, 0, 0) to (2, 2, 2, 5) step (1, 1, 1, 3) shared_outs(%[[DQ:.+]] = %{{.+}}, %[[LSE:.+]] = %{{.+}}, %[[DELTA:.+]] = %{{.+}}) -> (tensor<2x10x2x4xf32>, tensor<2x2x10xf32>, tensor<2x2x10xf32>)
// CHECK:         scf.if
// CHECK:         %[[STATS:.+]]:3 = scf.for
// CHECK:         math.log
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%{{.+}}, %{{.+}} : tensor<?x6xf32>, tensor<?x6xf32>)
// CHECK:         scf.if
// CHECK:         scf.for {{.*}} -> (tensor<?x4xf32>)
// CHECK:           math.exp
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:         scf.forall.in_parallel
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[DQ]]
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[LSE]][%[[B]], %[[H]], %{{.+}}] [1, 1, %{{.+}}] [1, 1, 1] : tensor<?xf32> into tensor<2x2x10xf32>
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[DELTA]]
// CHECK:       %[[P2:.+]]:2 = scf.forall (%[[B2:.+]], %[[H2:.+]], %[[C2:.+]], %[[KO:.+]]) = (0, 0, 0, 0) to (2, 2, 2, 5) step (1, 1, 1, 2) shared_outs(%[[DK:.+]] = %{{.+}}, %[[DV:.+]] = %{{.+}}) -> (tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32>)
// CHECK:         %[[K0:.+]] = affine.apply #{{.+}}(%[[C2]], %[[KO]])
// CHECK:         %[[QE:.+]] = affine.min #[[NEXT]](%[[C2]])
// CHECK:         scf.for %{{.+}} = %[[K0]] to %[[QE]] step %c3 iter_args(%[[DKA:.+]] = %{{.+}}, %[[DVA:.+]] = %{{.+}})
// CHECK:           tensor.extract_slice %[[P1]]#1
// CHECK:           tensor.extract_slice %[[P1]]#2
// CHECK:           arith.cmpi ule
// CHECK:           math.exp
// CHECK:           linalg.generic {indexing_maps = [#[[TRANS]], {{.*}}} ins(%{{.+}}, %{{.+}} : tensor<?x?xf32>, tensor<?x4xf32>) outs(%[[DKA]] : tensor<?x4xf32>)
// CHECK:           linalg.generic {indexing_maps = [#[[TRANS]], {{.*}}} ins(%{{.+}}, %{{.+}} : tensor<?x?xf32>, tensor<?x6xf32>) outs(%[[DVA]] : tensor<?x6xf32>)
// CHECK:         scf.forall.in_parallel
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[DK]]
// CHECK:           tensor.parallel_insert_slice %{{.+}} into %[[DV]]
// CHECK:       %[[P3:.+]]:2 = scf.forall ({{.*}}) = (0, 0, 0, 0) to (2, 2, 1, 5) step (1, 1, 1, 2) shared_outs({{.*}}) -> (tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>)
// CHECK:         scf.for %{{.+}} = %c0 to %c5 step %c3
// CHECK-NOT:       arith.cmpi ule
// CHECK:           math.exp
// CHECK:         scf.forall.in_parallel
// CHECK:       return %[[P1]]#0, %[[P2]]#0, %[[P2]]#1, %[[P3]]#0, %[[P3]]#1
func.func @grad_chunked_cache(%q: tensor<2x10x2x4xf32>, %k: tensor<2x10x2x4xf32>, %v: tensor<2x10x2x6xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x6xf32>, %do: tensor<2x10x2x6xf32>) -> (tensor<2x10x2x4xf32>, tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>) {
  %dq, %dk, %dv, %dpk, %dpv = gecko.chunk_attention_grad chunked %q, %k, %v cache(%pk, %pv) grad(%do) {causal, chunk_size = 5 : i64} : tensor<2x10x2x4xf32>, tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>, tensor<2x10x2x6xf32> -> tensor<2x10x2x4xf32>, tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32> cache(tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>)
  return %dq, %dk, %dv, %dpk, %dpv : tensor<2x10x2x4xf32>, tensor<2x10x2x4xf32>, tensor<2x10x2x6xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x6xf32>
}
