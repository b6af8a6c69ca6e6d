// RUN: gecko-opt %s --gecko-convert-to-linalg="cema-chunk-size=3 cema-channel-block=2" | FileCheck %s
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=LLVM

// gecko.cema_grad: the forward phases give every chunk's incoming state, a
// reverse local scan + reverse carry pass give every chunk's incoming G from
// the right (from d_new_h), then one parallel pass rescans both per chunk and
// writes dx and per-(batch, chunk) partial sums, reduced at the end.
// CHECK-LABEL: func.func @cema_grad
// CHECK-SAME:    %[[DH:[^:]+]]: tensor<2x5x3xcomplex<f32>>) ->
// Forward phase 1 (end states only) and the forward carry.
// CHECK:         scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) = (0, 0, 0) to (2, 5, 7) step (1, 2, 3) {{.*}} -> (tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>)
// CHECK:         %[[FWD:.+]]:4 = scf.for
// Reverse phase 1: G from zero, backwards through each chunk.
// CHECK:         %[[LEFT:.+]]:2 = scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) = (0, 0, 0) to (2, 5, 7) step (1, 2, 3) {{.*}} -> (tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>)
// CHECK:           scf.for %[[I:.+]] = %{{.+}} to %[[LEN:.+]] step
// CHECK:             %[[LAST:.+]] = arith.subi %[[LEN]], %{{.+}}
// CHECK:             arith.subi %[[LAST]], %[[I]]
// CHECK:             linalg.generic
// Reverse carry: from d_new_h, over the chunks from the last one.
// CHECK:         %[[DHP:.+]]:2 = linalg.generic {{.*}} ins(%[[DH]] : tensor<2x5x3xcomplex<f32>>)
// CHECK:         %[[RIGHT:.+]]:4 = scf.for %[[C:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %[[DHP]]#0, %{{.+}} = %[[DHP]]#1, {{.*}})
// CHECK:           arith.subi %c2{{.*}}, %[[C]]
// Phase 3: forward rescan from the carry, reverse rescan from the right
// carry with dx, dp, dgamma, dq accumulated per tile.
// CHECK:         %[[PARTS:.+]]:6 = scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) = (0, 0, 0) to (2, 5, 7) step (1, 2, 3) {{.*}} -> (tensor<2x7x5xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>)
// CHECK:           scf.for
// CHECK:           scf.for {{.*}} -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x?xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>)
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK:           scf.forall.in_parallel
// The partial sums reduced over (batch, chunk).
// CHECK:         %[[SUMS:.+]]:5 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%[[PARTS]]#1, %[[PARTS]]#2, %[[PARTS]]#3, %[[PARTS]]#4, %[[PARTS]]#5 : {{.*}}) outs({{.*}} : tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>)
// CHECK:         %[[DQ:.+]] = linalg.generic {{.*}} ins(%[[SUMS]]#3, %[[SUMS]]#4 :
// CHECK:         %[[DG:.+]] = linalg.generic {{.*}} ins(%[[SUMS]]#1, %[[SUMS]]#2 :
// CHECK:         %[[DHX:.+]] = linalg.generic {{.*}} ins(%[[RIGHT]]#0, %[[RIGHT]]#1 :
// CHECK:         return %[[PARTS]]#0, %[[SUMS]]#0, %[[DQ]], %[[DG]], %[[DHX]]
func.func @cema_grad(%x: tensor<2x7x5xf32>, %p: tensor<5x3xf32>, %q: tensor<5x3xcomplex<f32>>, %g: tensor<5x3xcomplex<f32>>, %hx: tensor<2x5x3xcomplex<f32>>, %bos: tensor<2x7xi1>, %dy: tensor<2x7x5xf32>, %dh: tensor<2x5x3xcomplex<f32>>) -> (tensor<2x7x5xf32>, tensor<5x3xf32>, tensor<5x3xcomplex<f32>>, tensor<5x3xcomplex<f32>>, tensor<2x5x3xcomplex<f32>>) {
  %dx, %dp, %dq, %dg, %dhx = gecko.cema_grad %x, %p, %q, %g state(%hx) bos(%bos) grad(%dy) state_grad(%dh) : tensor<2x7x5xf32>, tensor<5x3xf32>, tensor<5x3xcomplex<f32>>, tensor<5x3xcomplex<f32>>, tensor<2x5x3xcomplex<f32>>, tensor<2x7xi1>, tensor<2x7x5xf32>, tensor<2x5x3xcomplex<f32>> -> tensor<2x7x5xf32>, tensor<5x3xf32>, tensor<5x3xcomplex<f32>>, tensor<5x3xcomplex<f32>> state(tensor<2x5x3xcomplex<f32>>)
  return %dx, %dp, %dq, %dg, %dhx : tensor<2x7x5xf32>, tensor<5x3xf32>, tensor<5x3xcomplex<f32>>, tensor<5x3xcomplex<f32>>, tensor<2x5x3xcomplex<f32>>
}

// The coefficients: elementwise over (D, N) in f64, rounded to f32 / complex<f32>.
// CHECK-LABEL: func.func @coeffs
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<4x2xbf16>, tensor<4x2xbf16>, tensor<4xbf16>, tensor<4x2xbf16>, tensor<4x2xbf16>) outs({{.*}} : tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>)
// CHECK:           arith.extf {{.*}} : bf16 to f64
// CHECK:           math.exp {{.*}} : f64
// CHECK:           math.cos {{.*}} : f64
// CHECK:           math.sin {{.*}} : f64
// CHECK:           complex.create
// CHECK:           complex.create
func.func @coeffs(%a: tensor<4x2xbf16>, %d: tensor<4x2xbf16>, %t: tensor<4xbf16>, %g: tensor<4x2x2xbf16>) -> (tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>) {
  %p, %q, %gc = gecko.cema_coeffs %a, %d, %t, %g : (tensor<4x2xbf16>, tensor<4x2xbf16>, tensor<4xbf16>, tensor<4x2x2xbf16>) -> (tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>)
  return %p, %q, %gc : tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>
}

// Its backward: dalpha, ddelta elementwise; dtheta a reduction over N.
// CHECK-LABEL: func.func @coeffs_grad
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} {{.*}} outs({{.*}} : tensor<4x2xf32>, tensor<4x2xf32>)
// CHECK:         %[[SUM:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} {{.*}} outs({{.*}} : tensor<4xf64>)
// CHECK:         linalg.generic {{.*}} ins(%[[SUM]], %{{.+}} : tensor<4xf64>, tensor<4xf32>) outs({{.*}} : tensor<4xf32>)
// CHECK:         linalg.generic {{.*}} ins(%{{.+}} : tensor<4x2xcomplex<f32>>) outs({{.*}} : tensor<4x2x2xf32>)
// CHECK:           linalg.index 2
func.func @coeffs_grad(%a: tensor<4x2xf32>, %d: tensor<4x2xf32>, %t: tensor<4xf32>, %g: tensor<4x2x2xf32>, %dp: tensor<4x2xf32>, %dq: tensor<4x2xcomplex<f32>>, %dg: tensor<4x2xcomplex<f32>>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<4x2x2xf32>) {
  %da, %dd, %dt, %dgg = gecko.cema_coeffs_grad %a, %d, %t, %g grad(%dp, %dq, %dg) : (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<4x2x2xf32>, tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<4x2x2xf32>)
  return %da, %dd, %dt, %dgg : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<4x2x2xf32>
}

// LLVM-LABEL: llvm.func @cema_grad
// LLVM:         omp.parallel
// LLVM-LABEL: llvm.func @coeffs
// LLVM:         llvm.intr.cos
// LLVM-NOT:     complex.
