// RUN: gecko-opt %s --gecko-convert-to-linalg="tsn-chunk-size=4" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="token-tile-size=3" | FileCheck %s --check-prefix=TOKEN
// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s --check-prefix=CPU

// Timestep norm (spec §1) as a chunked scan over L = 10 with chunks of 4
// (4, 4, 2: the last chunk is partial). Phase A: per (batch, chunk) tile the
// group moments (f32 reductions), the chunk-local step counts / last bos
// (reductions over s <= t), the decay matrices and the local scan as
// linalg.batch_matmul. Phase B: a sequential scf.for over the 3 chunks,
// parallel over batch tiles; the carried-in count's bias correction in f64.
// Phase C: the parallel fix-up and normalisation.
// CHECK-LABEL: func.func @tsn
// CHECK:         %[[A:.+]]:7 = scf.forall (%[[B:.+]], %[[K:.+]]) in (2, 3) shared_outs
// CHECK:           affine.min
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME:        ins(%{{.+}} : tensor<1x?x2x4xf32>) outs(%{{.+}} : tensor<1x?x2xf32>)
// CHECK:           %[[IDX:.+]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:        ins(%{{.+}}, %{{.+}} : tensor<1x?xi1>, tensor<1x?xi1>)
// CHECK:           %[[W:.+]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:             math.exp
// CHECK:           %[[ML:.+]] = linalg.batch_matmul ins(%[[W]]#0, %{{.+}} : tensor<1x?x?xf32>, tensor<1x?x2xf32>)
// CHECK:           %[[VL:.+]] = linalg.batch_matmul ins(%[[W]]#1, %{{.+}} : tensor<1x?x?xf32>, tensor<1x?x2xf32>)
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %[[ML]] into %{{.+}}[%[[B]], %{{.+}}, 0] [1, %{{.+}}, 2]
// CHECK:         %[[C:.+]]:7 = scf.forall (%{{.+}}) in (2) shared_outs
// CHECK:           math.powf %{{.+}}, %{{.+}} : f64
// CHECK:           scf.for %{{.+}} = %c0 to %c3 step %c1 iter_args
// CHECK:             tensor.insert_slice
// CHECK:             affine.min
// CHECK:             linalg.generic
// CHECK:               math.exp
// CHECK:             linalg.generic
// CHECK:               arith.select %{{.+}}, %{{.+}}, %{{.+}} : i64
// CHECK:             scf.yield
// CHECK:         %[[Y:.+]] = scf.forall (%{{.+}}, %{{.+}}) in (2, 3) shared_outs
// CHECK:           linalg.generic
// CHECK:             math.rsqrt
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK:             arith.select
// CHECK:           tensor.parallel_insert_slice
// CHECK:         tensor.collapse_shape %[[Y]]
// CHECK:         %[[YR:.+]] = tensor.expand_shape
// CHECK:         return %[[YR]], %[[C]]#6, %[[C]]#4, %[[C]]#5
// CHECK-NOT:     gecko.timestep_norm

// Without tsn-chunk-size the scan chunk is the token tile: 4 chunks of 3.
// TOKEN: scf.forall (%{{.+}}, %{{.+}}) in (2, 4)
// TOKEN: scf.for %{{.+}} = %c0 to %c4 step %c1

// The whole pipeline reaches LLVM with OpenMP loops.
// CPU-LABEL: llvm.func @tsn
// CPU: omp.parallel
// CPU-NOT: gecko.
// CPU-NOT: linalg.
func.func @tsn(%x: tensor<2x10x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<2xi64>, %m: tensor<2x2xf32>, %v: tensor<2x2xf32>, %bos: tensor<2x10xi1>, %pad: tensor<2x10xi1>) -> (tensor<2x10x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>) {
  %y, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) padding(%pad) {num_groups = 2 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
    : (tensor<2x10x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x10xi1>, tensor<2x10xi1>) -> (tensor<2x10x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  return %y, %nc, %nm, %nv : tensor<2x10x8xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>
}

// bf16 activations: f32 arithmetic, truncation on the stores; no masks
// (all-false masks are materialised), one chunk when L <= chunk.
// CHECK-LABEL: func.func @tsn_bf16
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (3, 1) shared_outs
// CHECK:           arith.extf %{{.+}} : bf16 to f32
// CHECK:         scf.for %{{.+}} = %c0 to %c1 step %c1
// CHECK:         arith.truncf %{{.+}} : f32 to bf16
func.func @tsn_bf16(%x: tensor<3x2x4xbf16>, %w: tensor<4xbf16>, %b: tensor<4xbf16>, %c: tensor<3xi64>, %m: tensor<3x1xbf16>, %v: tensor<3x1xbf16>) -> (tensor<3x2x4xbf16>, tensor<3xi64>, tensor<3x1xbf16>, tensor<3x1xbf16>) {
  %y, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) {num_groups = 1 : i64, beta1 = 0.999 : f64, beta2 = 0.9999 : f64, eps = 1.0e-05 : f64}
    : (tensor<3x2x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<3xi64>, tensor<3x1xbf16>, tensor<3x1xbf16>) -> (tensor<3x2x4xbf16>, tensor<3xi64>, tensor<3x1xbf16>, tensor<3x1xbf16>)
  return %y, %nc, %nm, %nv : tensor<3x2x4xbf16>, tensor<3xi64>, tensor<3x1xbf16>, tensor<3x1xbf16>
}
