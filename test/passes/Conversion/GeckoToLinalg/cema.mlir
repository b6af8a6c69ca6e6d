// RUN: gecko-opt %s --gecko-convert-to-linalg="cema-chunk-size=3 cema-channel-block=2" | FileCheck %s
// RUN: gecko-opt %s --gecko-convert-to-linalg="cema-chunk-size=3 cema-channel-block=2" --gecko-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: not gecko-opt %s --gecko-convert-to-linalg="cema-chunk-size=0" 2>&1 | FileCheck %s --check-prefix=BAD

// gecko.cema as a chunked scan, L = 7 in chunks of 3 (3 chunks, the last of
// 1 token), D = 5 in channel blocks of 2 (the last of 1 channel).
// CHECK-LABEL: func.func @cema
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x7x5xf32>, %[[P:[^:]+]]: tensor<5x3xf32>, %[[Q:[^:]+]]: tensor<5x3xcomplex<f32>>, %[[G:[^:]+]]: tensor<5x3xcomplex<f32>>, %[[HX:[^:]+]]: tensor<2x5x3xcomplex<f32>>, %[[BOS:[^:]+]]: tensor<2x7xi1>
// Complex operands become (re, im) pairs of f32 tensors.
// CHECK:         %[[QP:.+]]:2 = linalg.generic {{.*}} ins(%[[Q]] : tensor<5x3xcomplex<f32>>)
// CHECK:           complex.re
// CHECK:           complex.im
// CHECK:         %[[HXP:.+]]:2 = linalg.generic {{.*}} ins(%[[HX]] : tensor<2x5x3xcomplex<f32>>)
// Phase 0: the power table q^(k+1), k < 3, by square-and-multiply (2 bits).
// CHECK:         %[[POW:.+]]:2 = linalg.generic {{.*}} ins(%[[QP]]#0, %[[QP]]#1 : {{.*}}) outs({{.*}} : tensor<3x5x3xf32>, tensor<3x5x3xf32>)
// CHECK:           arith.shrui
// CHECK:           arith.select
// CHECK:           arith.shrui
// CHECK:           arith.select
// CHECK-NOT:       arith.shrui
// CHECK:           linalg.yield
// The first bos of each chunk: bos padded to 3 chunks of 3, min over the chunk.
// CHECK:         %[[PAD:.+]] = tensor.pad %[[BOS]] low[0, 0] high[0, 2]
// CHECK:         %[[CHUNKED:.+]] = tensor.expand_shape %[[PAD]] {{\[\[}}0], [1, 2]] output_shape [2, 3, 3]
// CHECK:         %[[FIRST:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[CHUNKED]] : tensor<2x3x3xi1>) outs({{.*}} : tensor<2x3xi64>)
// CHECK:           arith.minsi
// Phase 1: local scans from zero, in parallel over (batch, channel block, chunk).
// CHECK:         %[[LOCAL:.+]]:3 = scf.forall (%[[B:.+]], %[[D:.+]], %[[T:.+]]) = (0, 0, 0) to (2, 5, 7) step (1, 2, 3) shared_outs({{.*}}) -> (tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>, tensor<2x7x5xf32>)
// CHECK:           %[[DS:.+]] = affine.min
// CHECK:           %[[TS:.+]] = affine.min
// CHECK:           scf.for %{{.+}} = %{{.+}} to %[[TS]] step
// CHECK:             tensor.extract %[[BOS]]
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins({{.*}} : tensor<?xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>) outs({{.*}} : tensor<?x3xf32>, tensor<?x3xf32>)
// CHECK:             scf.yield
// The local output x + Σ_n Re(γ h) is a reduction over N.
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice {{.*}}[%[[B]], %{{.+}}, %[[D]], 0] [1, 1, %[[DS]], 3]
// CHECK:             tensor.parallel_insert_slice {{.*}}[%[[B]], %{{.+}}, %[[D]], 0] [1, 1, %[[DS]], 3]
// CHECK:             tensor.parallel_insert_slice {{.*}}[%[[B]], %[[T]], %[[D]]] [1, %[[TS]], %[[DS]]]
// Phase 2: the sequential carry over the 3 chunks, from hx.
// CHECK:         %[[CARRY:.+]]:4 = scf.for %{{.+}} = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %[[HXP]]#0, %{{.+}} = %[[HXP]]#1, {{.*}}) -> (tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x3xf32>)
// CHECK:           affine.min
// CHECK:           linalg.generic {{.*}} ins({{.*}} : tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2xi64>, tensor<5x3xf32>, tensor<5x3xf32>)
// CHECK:             arith.cmpi sge
// Phase 3: the parallel fix-up of the positions before each chunk's first bos.
// CHECK:         %[[Y:.+]] = scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) = (0, 0, 0) to (2, 5, 7) step (1, 2, 3) shared_outs({{.*}}) -> (tensor<2x7x5xf32>)
// CHECK:           tensor.extract %[[FIRST]]
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:             arith.cmpi slt
// CHECK:         %[[H:.+]] = linalg.generic {{.*}} ins(%[[CARRY]]#0, %[[CARRY]]#1 : {{.*}}) outs({{.*}} : tensor<2x5x3xcomplex<f32>>)
// CHECK:           complex.create
// CHECK:         return %[[Y]], %[[H]]
// LLVM-LABEL: llvm.func @cema
// LLVM-NOT:     complex.
// LLVM-NOT:     builtin.unrealized_conversion_cast
// LLVM:         omp.parallel
// BAD: cema-chunk-size and cema-channel-block must be positive, got 0 and 16
func.func @cema(%x: tensor<2x7x5xf32>, %p: tensor<5x3xf32>, %q: tensor<5x3xcomplex<f32>>, %g: tensor<5x3xcomplex<f32>>, %hx: tensor<2x5x3xcomplex<f32>>, %bos: tensor<2x7xi1>) -> (tensor<2x7x5xf32>, tensor<2x5x3xcomplex<f32>>) {
  %y, %h = gecko.cema %x, %p, %q, %g state(%hx) bos(%bos) : (tensor<2x7x5xf32>, tensor<5x3xf32>, tensor<5x3xcomplex<f32>>, tensor<5x3xcomplex<f32>>, tensor<2x5x3xcomplex<f32>>, tensor<2x7xi1>) -> (tensor<2x7x5xf32>, tensor<2x5x3xcomplex<f32>>)
  return %y, %h : tensor<2x7x5xf32>, tensor<2x5x3xcomplex<f32>>
}

// Without hx and bos: the carry starts from zeros and every chunk is clean
// (first bos = C); bf16 x is extended for the scan and y is rounded back.
// CHECK-LABEL: func.func @cema_fresh_bf16
// CHECK-NOT:     tensor.pad
// CHECK:         linalg.fill ins(%{{.+}} : i64) outs(%{{.+}} : tensor<1x2xi64>)
// CHECK:         scf.forall
// CHECK:           arith.extf {{.*}} : bf16 to f32
// CHECK:         scf.for
// CHECK:         scf.forall
// CHECK:           arith.truncf {{.*}} : f32 to bf16
// CHECK:       return
func.func @cema_fresh_bf16(%x: tensor<1x6x4xbf16>, %p: tensor<4x2xf32>, %q: tensor<4x2xcomplex<f32>>, %g: tensor<4x2xcomplex<f32>>) -> (tensor<1x6x4xbf16>, tensor<1x4x2xcomplex<f32>>) {
  %y, %h = gecko.cema %x, %p, %q, %g : (tensor<1x6x4xbf16>, tensor<4x2xf32>, tensor<4x2xcomplex<f32>>, tensor<4x2xcomplex<f32>>) -> (tensor<1x6x4xbf16>, tensor<1x4x2xcomplex<f32>>)
  return %y, %h : tensor<1x6x4xbf16>, tensor<1x4x2xcomplex<f32>>
}
