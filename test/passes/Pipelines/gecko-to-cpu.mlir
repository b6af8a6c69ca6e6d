// RUN: gecko-opt %s --gecko-to-cpu | FileCheck %s
// RUN: gecko-opt %s --pass-pipeline="builtin.module(gecko-to-cpu{batch-tile-size=1 token-tile-size=2})" | FileCheck %s

// gecko IR on tensors comes out as LLVM dialect: the scf.forall is an
// OpenMP worksharing loop, per-tile buffers are malloc'ed and freed, and
// nothing of gecko, linalg, tensor, memref, scf or affine is left.
// CHECK-NOT:   {{gecko\.|unrealized_conversion_cast|bufferization\.}}
// CHECK-DAG:   llvm.func @malloc(i64) -> !llvm.ptr
// CHECK-DAG:   llvm.func @free(!llvm.ptr)
// CHECK-LABEL: llvm.func @norm_then_rope
// CHECK:         omp.parallel
// CHECK:           omp.wsloop
// CHECK:             omp.loop_nest
// CHECK:               llvm.intr.sqrt
// CHECK:         omp.parallel
// CHECK:           omp.wsloop
// CHECK:               llvm.intr.cos
// CHECK:               llvm.intr.sin
// CHECK:         llvm.return
// CHECK-LABEL: llvm.func @_mlir_ciface_norm_then_rope
// CHECK-NOT:   {{linalg|tensor|memref|scf|affine|gecko|bufferization|unrealized_conversion_cast}}
func.func @norm_then_rope(%x: tensor<2x5x2x8xf32>, %start: i64) -> tensor<2x5x2x8xf32>
    attributes {llvm.emit_c_interface} {
  %n = gecko.rms_norm %x {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x5x2x8xf32>) -> tensor<2x5x2x8xf32>
  %y = gecko.rope %n start(%start) {base = 10000.0 : f64}
      : (tensor<2x5x2x8xf32>, i64) -> tensor<2x5x2x8xf32>
  return %y : tensor<2x5x2x8xf32>
}

// A rope that returns its updated argument: the result is a copy, so that
// the caller can free it.
// CHECK-LABEL: llvm.func @rope_only
// CHECK:         omp.parallel
// CHECK:         llvm.call @malloc
// CHECK:         "llvm.intr.memcpy"
// CHECK:         llvm.return
// CHECK-NOT:   {{unrealized_conversion_cast|bufferization\.}}
func.func @rope_only(%x: tensor<2x7x2x6xf32>, %start: i64) -> tensor<2x7x2x6xf32>
    attributes {llvm.emit_c_interface} {
  %y = gecko.rope %x start(%start) {base = 500000.0 : f64, num_rope_heads = 1 : i64}
      : (tensor<2x7x2x6xf32>, i64) -> tensor<2x7x2x6xf32>
  return %y : tensor<2x7x2x6xf32>
}
