// RUN: gecko-opt %s --gecko-convert-to-linalg | FileCheck %s
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=LLVM

// Backward of the chunked path: per (batch, head) a replay loop records the
// memory, lnt and memory segment before every chunk's step (insert_slice into
// (n, dz, dv) / (n, dz) / (n) histories), then the reverse chunk loop carries
// dL/dM, dL/dZ (initialised from state_grads) and fills dq, d[prev_k ; ak],
// d[prev_v ; v]: write backward (W^T dU, dU E^T, psi^T dE as
// linalg.matmul), the reset zeroing the carries, read backward (G += phi^T
// dout, masked rows zeroed).
// CHECK-LABEL: func.func @wm_grad
// CHECK:         scf.forall (%[[B:.+]], %[[H:.+]]) in (2, 3) shared_outs(%[[DQ:.+]] = %{{.+}}, %[[DK:.+]] = %{{.+}}, %[[DV:.+]] = %{{.+}}, %[[DM:.+]] = %{{.+}}, %[[DZ:.+]] = %{{.+}}, %[[DPK:.+]] = %{{.+}}, %[[DPV:.+]] = %{{.+}})
// CHECK:           %[[HIST:.+]]:6 = scf.for %{{.+}} = %c0 to %c2 step %c1 iter_args({{.*}}) -> (tensor<2x4x5xf32>, tensor<2x4xf32>, tensor<2xi64>, tensor<4x5xf32>, tensor<4xf32>, i64)
// CHECK:             tensor.insert_slice %{{.+}} into %{{.+}}[%{{.+}}, 0, 0] [1, 4, 5] [1, 1, 1] : tensor<4x5xf32> into tensor<2x4x5xf32>
// CHECK:             tensor.insert %{{.+}} into %{{.+}}[%{{.+}}] : tensor<2xi64>
// CHECK:             linalg.copy
// CHECK:           %[[REV:.+]]:5 = scf.for %[[I:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args({{.*}}) -> (tensor<4x5xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<12x4xf32>, tensor<12x5xf32>)
// CHECK:             %[[C:.+]] = arith.subi %c1{{.*}}, %[[I]] : index
// CHECK:             tensor.extract_slice %[[HIST]]#0[%[[C]], 0, 0] [1, 4, 5] [1, 1, 1] : tensor<2x4x5xf32> to tensor<4x5xf32>
// CHECK:             tensor.extract %[[HIST]]#2[%[[C]]] : tensor<2xi64>
// CHECK:             linalg.matmul
// CHECK:             arith.select
// CHECK:             linalg.transpose
// CHECK:             linalg.matmul
// CHECK:             scf.yield
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DQ]][%[[B]], 0, %[[H]], 0] [1, 8, 1, 4]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DK]][%[[B]], 0, %[[H]], 0] [1, 8, 1, 4]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DV]][%[[B]], 0, %[[H]], 0] [1, 8, 1, 5]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DM]][%[[B]], %[[H]], 0, 0] [1, 1, 4, 5]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DZ]][%[[B]], %[[H]], 0] [1, 1, 4]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DPK]][%[[B]], 0, %[[H]], 0] [1, 4, 1, 4]
// CHECK:             tensor.parallel_insert_slice %{{.+}} into %[[DPV]][%[[B]], 0, %[[H]], 0] [1, 4, 1, 5]
// LLVM-LABEL: llvm.func @wm_grad
// LLVM-NOT:    gecko.
// LLVM:        omp.wsloop
func.func @wm_grad(%q: tensor<2x8x3x4xf32>, %k: tensor<2x8x3x4xf32>, %v: tensor<2x8x3x5xf32>, %m: tensor<2x3x4x5xf32>, %z: tensor<2x3x4xf32>, %pk: tensor<2x4x3x4xf32>, %pv: tensor<2x4x3x5xf32>, %s: tensor<2x8xi64>, %ps: tensor<2x4xi64>, %pc: tensor<2xi64>, %do: tensor<2x8x3x5xf32>)
    -> (tensor<2x8x3x4xf32>, tensor<2x8x3x4xf32>, tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x5xf32>) {
  %dq, %dk, %dv, %dm, %dz, %dpk, %dpv = gecko.working_memory_grad chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) grad(%do) state_grads(%m, %z) {chunk_size = 4 : i64} : tensor<2x8x3x4xf32>, tensor<2x8x3x4xf32>, tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x5xf32>, tensor<2x8xi64>, tensor<2x4xi64>, tensor<2xi64>, tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32> -> tensor<2x8x3x4xf32>, tensor<2x8x3x4xf32>, tensor<2x8x3x5xf32> memory(tensor<2x3x4x5xf32>, tensor<2x3x4xf32>) cache(tensor<2x4x3x4xf32>, tensor<2x4x3x5xf32>)
  return %dq, %dk, %dv, %dm, %dz, %dpk, %dpv : tensor<2x8x3x4xf32>, tensor<2x8x3x4xf32>, tensor<2x8x3x5xf32>, tensor<2x3x4x5xf32>, tensor<2x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x5xf32>
}

// Short path without memory: nothing is read or written, every gradient is
// exactly zero (no loops, fills only).
// CHECK-LABEL: func.func @wm_grad_short_fresh
// CHECK:         scf.forall
// CHECK-NOT:       scf.for
// CHECK-NOT:       linalg.matmul
// CHECK:         scf.forall.in_parallel
func.func @wm_grad_short_fresh(%q: tensor<1x2x2x4xf32>, %k: tensor<1x2x2x4xf32>, %v: tensor<1x2x2x3xf32>, %do: tensor<1x2x2x3xf32>) -> (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>, tensor<1x2x2x3xf32>) {
  %dq, %dk, %dv = gecko.working_memory_grad short %q, %k, %v grad(%do) {chunk_size = 4 : i64} : tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>, tensor<1x2x2x3xf32>, tensor<1x2x2x3xf32> -> tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>, tensor<1x2x2x3xf32>
  return %dq, %dk, %dv : tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>, tensor<1x2x2x3xf32>
}
