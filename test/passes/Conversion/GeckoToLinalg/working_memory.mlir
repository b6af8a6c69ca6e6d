// RUN: gecko-opt %s --gecko-convert-to-linalg | FileCheck %s
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=LLVM

// Chunked path with memory, cache and segments: one scf.forall iteration per
// (batch, head); keys/values of [prev_k ; ak] and the segment ids are
// concatenated per head; the chunk recurrence is an scf.for over the L / C
// chunks carrying (out, M, Z, memory segment). Each chunk reads
// softmax(aq_c)·M with a linalg.matmul (rows of another segment zeroed),
// resets with arith.select when the pending chunk's last segment differs,
// and writes the pending chunk at T + (c - 1)·C.
// CHECK-LABEL: func.func @wm_chunked
// CHECK:         scf.forall (%[[B:.+]], %[[H:.+]]) in (2, 3) shared_outs(%[[OUT:.+]] = %{{.+}}, %[[MEM:.+]] = %{{.+}}, %[[LNT:.+]] = %{{.+}})
// CHECK:           tensor.extract_slice %{{.+}}[%[[B]], 0, %[[H]], 0] [1, 8, 1, 4] [1, 1, 1, 1] : tensor<2x8x3x4xf32> to tensor<8x4xf32>
// CHECK:           tensor.insert_slice %{{.+}} into %{{.+}}[4, 0] [8, 4] [1, 1] : tensor<8x4xf32> into tensor<12x4xf32>
// CHECK:           %[[MSEG:.+]] = tensor.extract %{{.+}}[%[[B]]] : tensor<2xi64>
// CHECK:           %[[LOOP:.+]]:4 = scf.for %[[C:.+]] = %c0 to %c2 step %c1 iter_args(%{{.+}} = %{{.+}}, %[[M:.+]] = %{{.+}}, %{{.+}} = %{{.+}}, %[[S:.+]] = %[[MSEG]]) -> (tensor<8x5xf32>, tensor<4x5xf32>, tensor<4xf32>, i64)
// CHECK:             math.exp
// CHECK:             %[[READ:.+]] = linalg.matmul ins(%{{.+}}, %[[M]] : tensor<4x4xf32>, tensor<4x5xf32>)
// CHECK:             linalg.generic {{.*}} ins(%[[READ]], %{{.+}} : tensor<4x5xf32>, tensor<4xi64>)
// CHECK:               arith.cmpi ne, %{{.+}}, %[[S]] : i64
// CHECK:               arith.select
// CHECK:             %[[LAST:.+]] = tensor.extract %{{.+}}[%c3{{.*}}] : tensor<4xi64>
// CHECK:             %[[RESET:.+]] = arith.cmpi ne, %[[LAST]], %[[S]] : i64
// CHECK:             arith.select %[[RESET]]
// CHECK:             math.log1p
// CHECK:             linalg.transpose
// CHECK:             linalg.matmul
// CHECK:             scf.yield %{{.+}}, %{{.+}}, %{{.+}}, %[[LAST]] : tensor<8x5xf32>, tensor<4x5xf32>, tensor<4xf32>, i64
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[OUT]][%[[B]], 0, %[[H]], 0] [1, 8, 1, 5] [1, 1, 1, 1] : tensor<8x5xf32> into tensor<2x8x3x5xf32>
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[MEM]][%[[B]], %[[H]], 0, 0] [1, 1, 4, 5] [1, 1, 1, 1] : tensor<4x5xf32> into tensor<2x3x4x5xf32>
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[LNT]][%[[B]], %[[H]], 0] [1, 1, 4] [1, 1, 1] : tensor<4xf32> into tensor<2x3x4xf32>
// CHECK-NOT:     gecko.
// LLVM-LABEL: llvm.func @wm_chunked
// LLVM-NOT:    gecko.
// LLVM:        omp.wsloop
func.func @wm_chunked(%q: tensor<2x8x3x4xf32>, %k: tensor<2x8x3x4xf32>, %v: tensor<2x8x3x5xf32>, %m: tensor<2x3x4x5xf32>, %z: tensor<2x3x4xf32>, %pk: tensor<2x4x3x4xf32>, %pv: tensor<2x4x3x5xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>) -> (tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>) {
  %out, %nm, %nz = gecko.working_memory chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 4 : i64} : (tensor<2x8x3x4xf32>, tensor<2x8x3x4xf32>, tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x5xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>) -> (tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>)
  return %out, %nm, %nz : tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>
}

// A fresh stream (no memory, no cache): the empty memory is M = 0,
// Z = -inf, chunk 0 has nothing pending, so the loop runs over chunks 1..2.
// bf16 activations are extended to f32 and the results truncated.
// CHECK-LABEL: func.func @wm_fresh_bf16
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (1, 2)
// CHECK:           arith.extf %{{.+}} : bf16 to f32
// CHECK:           linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<4x3xf32>)
// CHECK:           %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:           linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.+}} : tensor<4xf32>)
// CHECK:           scf.for %{{.+}} = %c1 to %c3 step %c1
// CHECK-NOT:         arith.cmpi
// CHECK:             linalg.matmul
// CHECK:           arith.truncf %{{.+}} : f32 to bf16
func.func @wm_fresh_bf16(%q: tensor<1x6x2x4xbf16>, %k: tensor<1x6x2x4xbf16>, %v: tensor<1x6x2x3xbf16>) -> (tensor<1x6x2x3xbf16>, tensor<1x2x4x3xbf16>, tensor<1x2x4xf32>) {
  %out, %nm, %nz = gecko.working_memory chunked %q, %k, %v {chunk_size = 2 : i64} : (tensor<1x6x2x4xbf16>, tensor<1x6x2x4xbf16>, tensor<1x6x2x3xbf16>) -> (tensor<1x6x2x3xbf16>, tensor<1x2x4x3xbf16>, tensor<1x2x4xf32>)
  return %out, %nm, %nz : tensor<1x6x2x3xbf16>, tensor<1x2x4x3xbf16>, tensor<1x2x4xf32>
}

// Short path completing a chunk (T + L = 5 + 3 = 2C): one read of the L
// rows, then the write of rows [0, C) of [prev_k ; ak]; no chunk loop.
// CHECK-LABEL: func.func @wm_short_write
// CHECK:         scf.forall
// CHECK-NOT:       scf.for
// CHECK:           linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<4x5xf32>)
// CHECK:           tensor.extract_slice %{{.+}}[0, 0] [4, 4] [1, 1] : tensor<8x4xf32> to tensor<4x4xf32>
// CHECK:           math.log1p
// CHECK:         scf.forall.in_parallel
func.func @wm_short_write(%q: tensor<2x3x2x4xf32>, %k: tensor<2x3x2x4xf32>, %v: tensor<2x3x2x5xf32>, %m: tensor<2x2x4x5xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x5xf32>) -> (tensor<2x3x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>) {
  %out, %nm, %nz = gecko.working_memory short %q, %k, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x5xf32>) -> (tensor<2x3x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>)
  return %out, %nm, %nz : tensor<2x3x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>
}

// Short path read only (T + L = 6 < 2C): no write (no logsumexp).
// CHECK-LABEL: func.func @wm_short_read
// CHECK:         scf.forall
// CHECK:           linalg.matmul
// CHECK-NOT:       math.log1p
// CHECK:         scf.forall.in_parallel
func.func @wm_short_read(%q: tensor<2x1x2x4xf32>, %k: tensor<2x1x2x4xf32>, %v: tensor<2x1x2x5xf32>, %m: tensor<2x2x4x5xf32>, %z: tensor<2x2x4xf32>, %pk: tensor<2x5x2x4xf32>, %pv: tensor<2x5x2x5xf32>) -> (tensor<2x1x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>) {
  %out, %nm, %nz = gecko.working_memory short %q, %k, %v memory(%m, %z) cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<2x1x2x4xf32>, tensor<2x1x2x4xf32>, tensor<2x1x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>, tensor<2x5x2x4xf32>, tensor<2x5x2x5xf32>) -> (tensor<2x1x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>)
  return %out, %nm, %nz : tensor<2x1x2x5xf32>, tensor<2x2x4x5xf32>, tensor<2x2x4xf32>
}
