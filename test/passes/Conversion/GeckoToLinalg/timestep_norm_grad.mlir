// RUN: gecko-opt %s --gecko-convert-to-linalg="tsn-chunk-size=4" | FileCheck %s
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=CPU

// Backward of the timestep norm (spec §1) over L = 10 in chunks of 4: the
// forward scan is recomputed (phase A forall + forward carry), then
//  (1) per (batch, chunk): the direct gradients of the raw statistics go
//      through the TRANSPOSED decay matrices (output map (d0, d2, d1)) with
//      linalg.batch_matmul: the chunk-local reverse scan; each tile also
//      writes its partial dweight / dbias and the carry leaving its start;
//  (2) a reverse scf.for over the chunks (chunk K-1-i) carries U, V;
//  (3) a parallel forall forms dx;
//  (4) dweight / dbias: one reduction over the (batch, chunk) partials.
// CHECK-DAG:   #[[$T:.+]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG:   #[[$REV:.+]] = affine_map<(d0) -> (-d0 + 2)>
// CHECK-LABEL: func.func @tsn_grad
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (2, 3) shared_outs
// CHECK:           linalg.batch_matmul
// CHECK:         scf.forall (%{{.+}}) in (2) shared_outs
// CHECK:           scf.for %{{.+}} = %c0 to %c3 step %c1
// CHECK:         %[[L:.+]]:10 = scf.forall (%{{.+}}, %{{.+}}) in (2, 3) shared_outs
// CHECK:           %[[WT:.+]]:2 = linalg.generic {indexing_maps = [{{.+}}, #[[$T]], #[[$T]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK:           linalg.batch_matmul ins(%[[WT]]#0, %{{.+}} : tensor<1x?x?xf32>, tensor<1x?x2xf32>)
// CHECK:           linalg.batch_matmul ins(%[[WT]]#1, %{{.+}} : tensor<1x?x?xf32>, tensor<1x?x2xf32>)
// CHECK:         %[[R:.+]]:4 = scf.forall (%{{.+}}) in (2) shared_outs
// CHECK:           scf.for %[[I:.+]] = %c0 to %c3 step %c1
// CHECK:             affine.apply #[[$REV]](%[[I]])
// CHECK:         %[[DX:.+]] = scf.forall (%{{.+}}, %{{.+}}) in (2, 3) shared_outs
// CHECK:         %[[P:.+]]:2 = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]
// CHECK-SAME:      ins(%[[L]]#8, %[[L]]#9 : tensor<2x3x2x4xf32>, tensor<2x3x2x4xf32>)
// CHECK:         return %{{.+}}, %{{.+}}, %{{.+}}, %[[R]]#2, %[[R]]#3
// CHECK-NOT:     gecko.timestep_norm_grad

// CPU-LABEL: llvm.func @tsn_grad
// CPU: omp.parallel
// CPU-NOT: linalg.
func.func @tsn_grad(%x: tensor<2x10x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %bos: tensor<2x10xi1>, %pad: tensor<2x10xi1>, %dy: tensor<2x10x8xf32>, %dm: tensor<2x2xf32>, %dv: tensor<2x2xf32>) -> (tensor<2x10x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x2xf32>, tensor<2x2xf32>) {
  %dx, %dw, %db, %dmi, %dvi = gecko.timestep_norm_grad %x, %w, %b state(%c, %m, %v) bos(%bos) padding(%pad) grad(%dy) state_grads(%dm, %dv) {num_groups = 2 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
    : (tensor<2x10x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x10xi1>, tensor<2x10xi1>, tensor<2x10x8xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x10x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x2xf32>, tensor<2x2xf32>)
  return %dx, %dw, %db, %dmi, %dvi : tensor<2x10x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x2xf32>, tensor<2x2xf32>
}

// Without state_grads the carries start at zero.
// CHECK-LABEL: func.func @tsn_grad_no_state_grads
// CHECK:         linalg.fill
// CHECK-NOT:     gecko.timestep_norm_grad
func.func @tsn_grad_no_state_grads(%x: tensor<1x3x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<1xi64>, %m: tensor<1x1xf32>, %v: tensor<1x1xf32>, %dy: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1x1xf32>, tensor<1x1xf32>) {
  %dx, %dw, %db, %dmi, %dvi = gecko.timestep_norm_grad %x, %w, %b state(%c, %m, %v) grad(%dy) {num_groups = 1 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
    : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1xi64>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1x1xf32>, tensor<1x1xf32>)
  return %dx, %dw, %db, %dmi, %dvi : tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1x1xf32>, tensor<1x1xf32>
}
