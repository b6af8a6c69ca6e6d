// RUN: gecko-opt %s --split-input-file --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" | FileCheck %s
// The lowered IR bufferizes (no loop-carried copies are needed).
// RUN: gecko-opt %s --split-input-file --gecko-convert-to-linalg="attention-query-tile=3 attention-key-tile=2" --canonicalize --one-shot-bufferize="bufferize-function-boundaries" -o /dev/null
// gecko.fused_chunk_attention / gecko.fused_working_memory lowered by
// gecko-convert-to-linalg: the chunk_attention / working_memory schedules
// with the z split (+ rope) formed per tile from z and the epilogue applied
// to the output tile; q, k, aq, ak never exist as tensors of their own.

// Chunked path (C = 5, query tiles of 3, key tiles of 2), cache, rope on head
// 0 only, epilogue with gate, key cache of the last C = 5 rows.
// CHECK-DAG: #[[KEEP:.+]] = affine_map<(d0, d1) -> (d0 * 5 + d1 + 5)>
// CHECK-LABEL: func.func @sca
// Per-call tables, one forall each: the row statistics rsqrt(mean(z²) + eps)
// as (B, H, L), and the rope's cos / sin of the L positions.
// CHECK:       %[[RSTD:.+]] = scf.forall ({{.*}}) = (0, 0, 0, 0) to (1, 2, 1, 10) step (1, 1, 1, 3) shared_outs({{.*}}) -> (tensor<1x2x10xf32>)
// CHECK:         tensor.extract_slice %arg0
// CHECK:         math.rsqrt
// CHECK:       %[[ANG:.+]]:2 = scf.forall ({{.*}}) = (0, 0, 0, 0) to (1, 1, 1, 10) step (1, 1, 1, 3) shared_outs({{.*}}) -> (tensor<1x10x1x2xf32>, tensor<1x10x1x2xf32>)
// CHECK:         arith.addi %arg3
// CHECK:         arith.sitofp
// CHECK:         math.cos
// CHECK:         math.sin
// The attention: one iteration per (batch, head, chunk, query tile).
// CHECK:       scf.forall (%[[B:.+]], %[[H:.+]], %[[C:.+]], %[[QO:.+]]) = (0, 0, 0, 0) to (1, 2, 2, 5) step (1, 1, 1, 3)
// Query prologue: the affine of z split row 0 of head H ((gamma + 1)/sqrt(dk),
// beta) once per tile, the tile's z rows times their rsqrt, then the rotation
// of the even/odd pairs with the table's cos/sin, kept only for heads < 1.
// CHECK:         tensor.extract_slice %arg1[0, %[[H]], 0] [1, 1, 4] [1, 1, 1] : tensor<4x2x4xf32> to tensor<4xf32>
// CHECK:         tensor.extract_slice %arg2[0, %[[H]], 0] [1, 1, 4] [1, 1, 1] : tensor<4x2x4xf32> to tensor<4xf32>
// CHECK:           arith.divf
// CHECK:         %[[ZQ:.+]] = tensor.extract_slice %arg0[%[[B]], %{{.+}}, %[[H]], 0] [1, %{{.+}}, 1, 4] [1, 1, 1, 1] : tensor<1x10x2x4xf32> to tensor<?x4xf32>
// CHECK:         %[[RQ:.+]] = tensor.extract_slice %[[RSTD]][%[[B]], %[[H]], %{{.+}}] [1, 1, %{{.+}}] [1, 1, 1] : tensor<1x2x10xf32> to tensor<?xf32>
// CHECK:         %[[QS:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[ZQ]], %[[RQ]], %{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<?xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK-NOT:       math.rsqrt
// CHECK:         tensor.extract_slice %[[ANG]]#0
// CHECK:         tensor.extract_slice %[[ANG]]#1
// CHECK:         %[[ROPE:.+]] = arith.cmpi ult, %[[H]], %c1
// CHECK:         tensor.extract_slice %[[QS]][0, 0] [%{{.+}}, 2] [1, 2]
// CHECK:         tensor.extract_slice %[[QS]][0, 1] [%{{.+}}, 2] [1, 2]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-NOT:       math.cos
// CHECK:           arith.select %[[ROPE]]
// CHECK:         %[[Q:.+]] = tensor.collapse_shape %{{.+}} {{\[}}[0], [1, 2]] : tensor<?x2x2xf32> into tensor<?x4xf32>
// The affine of row 1 (keys), once per query tile, outside the key loops.
// CHECK:         tensor.extract_slice %arg1[1, %[[H]], 0] [1, 1, 4] [1, 1, 1]
// CHECK:           arith.divf
// Chunk 0 walks the cache (already rotated keys, read as they are); chunk
// c > 0 forms the keys of chunk c - 1 from z: no reduction, no divide, no
// transcendental per key tile.
// CHECK:         scf.if
// CHECK:           scf.for
// CHECK:             %[[PK:.+]] = tensor.extract_slice %arg5
// CHECK:             linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]], %[[PK]] :
// CHECK:         } else {
// CHECK:           scf.for
// CHECK:             tensor.extract_slice %arg0
// CHECK:             tensor.extract_slice %[[RSTD]]
// CHECK-NOT:         {{math.rsqrt|math.cos|arith.divf}}
// CHECK:             %[[K:.+]] = tensor.collapse_shape
// CHECK:             linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]], %[[K]] :
// The current chunk: keys formed from z again, then the causal mask.
// CHECK:         scf.for
// CHECK:           tensor.extract_slice %arg0
// CHECK:           %[[K2:.+]] = tensor.collapse_shape
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]], %[[K2]] :
// CHECK:           arith.cmpi ule
// Epilogue: acc / l, then ·gate + addend, written once.
// CHECK:         arith.divf
// CHECK:         %[[ADD:.+]] = tensor.extract_slice %arg7[%[[B]], %{{.+}}, %[[H]], 0]
// CHECK:         %[[GATE:.+]] = tensor.extract_slice %arg8[%[[B]], %{{.+}}, %[[H]], 0]
// CHECK:         %[[OUT:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[ADD]], %[[GATE]] :
// CHECK:           %[[G:.+]] = arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK:           %[[S:.+]] = arith.addf %[[G]], %{{.+}} : f32
// CHECK:           linalg.yield %[[S]]
// CHECK:         tensor.parallel_insert_slice %[[OUT]]
// Key cache: its own forall over the last 5 rows, keys formed from z.
// CHECK:       scf.forall (%[[KB:.+]], %[[KH:.+]], %[[KC:.+]], %[[KO:.+]]) = (0, 0, 0, 0) to (1, 2, 1, 5) step (1, 1, 1, 3)
// CHECK:         %[[ROW:.+]] = affine.apply #[[KEEP]](%[[KC]], %[[KO]])
// CHECK:         tensor.extract_slice %arg1[1, %[[KH]], 0]
// CHECK:         tensor.extract_slice %arg0[%[[KB]], %[[ROW]], %[[KH]], 0]
// CHECK:         tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%[[KB]], %{{.+}}, %[[KH]], 0] [1, %{{.+}}, 1, 4] [1, 1, 1, 1] : tensor<?x4xf32> into tensor<1x5x2x4xf32>
// CHECK:       return
func.func @sca(%z: tensor<1x10x2x4xf32>, %g: tensor<4x2x4xf32>, %bt: tensor<4x2x4xf32>, %start: i64, %v: tensor<1x10x2x6xf32>, %pk: tensor<1x5x2x4xf32>, %pv: tensor<1x5x2x6xf32>, %awm: tensor<1x10x2x6xf32>, %r: tensor<1x10x2x6xf32>) -> (tensor<1x10x2x6xf32>, tensor<1x5x2x4xf32>) {
  %out, %kc = gecko.fused_chunk_attention chunked zsplit(%z, %g, %bt) rope(%start) values(%v) cache(%pk, %pv) epilogue(%awm, gate %r) {causal, chunk_size = 5 : i64, eps = 1.0e-5 : f64, num_rope_heads = 1 : i64, rope_base = 1.0e4 : f64} : (tensor<1x10x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, i64, tensor<1x10x2x6xf32>, tensor<1x5x2x4xf32>, tensor<1x5x2x6xf32>, tensor<1x10x2x6xf32>, tensor<1x10x2x6xf32>) -> (tensor<1x10x2x6xf32>, tensor<1x5x2x4xf32>)
  return %out, %kc : tensor<1x10x2x6xf32>, tensor<1x5x2x4xf32>
}

// -----

// Plain q, k with an epilogue (no gate), bf16: the sum is formed in f32 from
// the rounded attention output and rounded once more.
// CHECK-LABEL: func.func @sca_qk_bf16
// CHECK:       scf.forall
// CHECK-NOT:     math.rsqrt
// CHECK:         tensor.extract_slice %arg0
// CHECK:         linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<{{.+}}x6xf32>, tensor<{{.+}}x6xbf16>)
// CHECK:           %[[R:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK:           %[[E:.+]] = arith.extf %[[R]] : bf16 to f32
// CHECK:           %[[A:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK:           %[[S:.+]] = arith.addf %[[E]], %[[A]] : f32
// CHECK:           arith.truncf %[[S]] : f32 to bf16
// CHECK-NOT:   scf.forall (
func.func @sca_qk_bf16(%q: tensor<1x2x2x4xbf16>, %v: tensor<1x2x2x6xbf16>, %a: tensor<1x2x2x6xbf16>) -> tensor<1x2x2x6xbf16> {
  %out = gecko.fused_chunk_attention short qk(%q, %q) values(%v) epilogue(%a) {causal, chunk_size = 4 : i64} : (tensor<1x2x2x4xbf16>, tensor<1x2x2x4xbf16>, tensor<1x2x2x6xbf16>, tensor<1x2x2x6xbf16>) -> tensor<1x2x2x6xbf16>
  return %out : tensor<1x2x2x6xbf16>
}

// -----

// Working memory: per (batch, head) aq = row 2 and ak = row 3 of the z
// split, both formed from one read of the head's z rows (one norm); the key
// cache gets ak's last C rows.
// CHECK-LABEL: func.func @awm
// CHECK:       scf.forall (%[[B:.+]], %[[H:.+]]) in (2, 2) shared_outs({{.*}}) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>)
// CHECK:         %[[Z:.+]] = tensor.extract_slice %arg0[%[[B]], 0, %[[H]], 0] [1, 8, 1, 4] [1, 1, 1, 1] : tensor<2x8x2x4xf32> to tensor<8x4xf32>
// CHECK:         math.rsqrt
// CHECK-NOT:     tensor.extract_slice %arg0
// CHECK:         tensor.extract_slice %arg1[2, %[[H]], 0] [1, 1, 4] [1, 1, 1] : tensor<4x2x4xf32> to tensor<4xf32>
// CHECK-NOT:     tensor.extract_slice %arg0
// CHECK:         tensor.extract_slice %arg1[3, %[[H]], 0] [1, 1, 4] [1, 1, 1] : tensor<4x2x4xf32> to tensor<4xf32>
// CHECK:         %[[AK:.+]] = linalg.generic
// CHECK:         scf.for
// CHECK:         %[[KEPT:.+]] = tensor.extract_slice %[[AK]][4, 0] [4, 4] [1, 1] : tensor<8x4xf32> to tensor<4x4xf32>
// CHECK:         scf.forall.in_parallel
// CHECK:           tensor.parallel_insert_slice %[[KEPT]] into %{{.+}}[%[[B]], 0, %[[H]], 0] [1, 4, 1, 4] [1, 1, 1, 1] : tensor<4x4xf32> into tensor<2x4x2x4xf32>
func.func @awm(%z: tensor<2x8x2x4xf32>, %g: tensor<4x2x4xf32>, %v: tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>) {
  %out, %nm, %nl, %kc = gecko.fused_working_memory chunked zsplit(%z, %g, %g) values(%v) {chunk_size = 4 : i64, eps = 1.0e-5 : f64} : (tensor<2x8x2x4xf32>, tensor<4x2x4xf32>, tensor<4x2x4xf32>, tensor<2x8x2x6xf32>) -> (tensor<2x8x2x6xf32>, tensor<2x2x4x6xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32>)
  return %out, %kc : tensor<2x8x2x6xf32>, tensor<2x4x2x4xf32>
}
