// The matrix-instruction driver (rewriteTileContractions, shared by
// gecko-nvvm-mma and gecko-rocdl-mfma) run on the CPU with an emulated
// instruction (gecko-test-tile-contractions: 4x4x4 on 2-lane subgroups,
// lane l holding rows 2l, 2l+1 of A and C): three contractions inside tile
// foralls, with sizes that are not multiples of the instruction (padding and
// masking in m, n and k), a dynamic K, f32 operands rounded to f16 / bf16,
// a (k, m)-indexed A, (n, k)- and (k, n)-indexed B and a non-zero initial
// output, are compared with the same contractions outside a tile (left
// alone by the driver). Inputs are small integers, so every result is exact:
// @main returns the summed max |tiled - reference| (0), or a non-zero value
// on any mismatch or an all-zero reference. Block sizes 4 (2 subgroups) and
// 6 (3 subgroups).
//
// RUN: gecko-opt %s --gecko-test-tile-contractions | FileCheck %s --check-prefix=IR
// RUN: gecko-opt %s --gecko-test-tile-contractions | gecko-opt --pass-pipeline="builtin.module(func.func(scf-forall-to-for),convert-linalg-to-loops,expand-strided-metadata,lower-affine,convert-scf-to-cf,convert-math-to-llvm,finalize-memref-to-llvm,convert-arith-to-llvm,convert-ub-to-llvm,convert-cf-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts)" | mlir-runner -e main -entry-point-result=f32 | FileCheck %s
// RUN: gecko-opt %s --gecko-test-tile-contractions=block-size=6 | gecko-opt --pass-pipeline="builtin.module(func.func(scf-forall-to-for),convert-linalg-to-loops,expand-strided-metadata,lower-affine,convert-scf-to-cf,convert-math-to-llvm,finalize-memref-to-llvm,convert-arith-to-llvm,convert-ub-to-llvm,convert-cf-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts)" | mlir-runner -e main -entry-point-result=f32 | FileCheck %s
// RUN: (gecko-opt %s --gecko-test-tile-contractions=block-size=3 2>&1; echo "exit $?") | FileCheck %s --check-prefix=BAD

// CHECK: {{^}}0.000000e+00

// BAD: error: gecko-test-tile-contractions: block-size must be a positive multiple of 2, got 3
// BAD: exit 1

// IR-LABEL: func.func @qk
// IR:       scf.forall (%{{.*}}) in (2)
// IR:       scf.forall (%{{.*}}) in (4)
// IR:       } {mapping = [#gpu.thread<x>]}
// IR:       } else {
// IR:       linalg.generic
// IR-LABEL: func.func @pv
// IR:       scf.forall (%{{.*}}) in (4)
// IR:       arith.truncf %{{.*}} : f32 to f16
// IR:       } else {
// IR:       linalg.generic
// IR-LABEL: func.func @dk
// IR:       scf.forall (%{{.*}}) in (4)
// IR:       arith.truncf %{{.*}} : f32 to bf16
// IR:       } else {
// IR:       linalg.generic

#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#at = affine_map<(d0, d1, d2) -> (d2, d0)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#bt = affine_map<(d0, d1, d2) -> (d2, d1)>
#o = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// x[i, j, l] = ((7 i + 3 j + 5 l + seed) mod 9) - 4: small integers, exact
// in bf16 / f16 and in every f32 sum below.
func.func @fill(%x: memref<?x?x?xf32>, %seed: index) {
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%x : memref<?x?x?xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %l = linalg.index 2 : index
    %c3 = arith.constant 3 : index
    %c5 = arith.constant 5 : index
    %c7 = arith.constant 7 : index
    %c9 = arith.constant 9 : index
    %i7 = arith.muli %i, %c7 : index
    %j3 = arith.muli %j, %c3 : index
    %l5 = arith.muli %l, %c5 : index
    %s0 = arith.addi %i7, %j3 : index
    %s1 = arith.addi %s0, %l5 : index
    %s2 = arith.addi %s1, %seed : index
    %m = arith.remui %s2, %c9 : index
    %mi = arith.index_cast %m : index to i64
    %mf = arith.sitofp %mi : i64 to f32
    %c4f = arith.constant 4.0 : f32
    %v = arith.subf %mf, %c4f : f32
    linalg.yield %v : f32
  }
  return
}

func.func @to_bf16(%x: memref<?x?x?xf32>, %y: memref<?x?x?xbf16>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : memref<?x?x?xf32>) outs(%y : memref<?x?x?xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  }
  return
}

func.func @to_f16(%x: memref<?x?x?xf32>, %y: memref<?x?x?xf16>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : memref<?x?x?xf32>) outs(%y : memref<?x?x?xf16>) {
  ^bb0(%in: f32, %out: f16):
    %r = arith.truncf %in : f32 to f16
    linalg.yield %r : f16
  }
  return
}

// max |x - y| (or -1 if y is all zeros: the check would be vacuous).
func.func @compare(%x: memref<?x?x?xf32>, %y: memref<?x?x?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %d0 = memref.dim %x, %c0 : memref<?x?x?xf32>
  %d1 = memref.dim %x, %c1 : memref<?x?x?xf32>
  %d2 = memref.dim %x, %c2 : memref<?x?x?xf32>
  %zero = arith.constant 0.0 : f32
  %r:2 = scf.for %i = %c0 to %d0 step %c1 iter_args(%m0 = %zero, %s0 = %zero) -> (f32, f32) {
    %q:2 = scf.for %j = %c0 to %d1 step %c1 iter_args(%m1 = %m0, %s1 = %s0) -> (f32, f32) {
      %w:2 = scf.for %l = %c0 to %d2 step %c1 iter_args(%m2 = %m1, %s2 = %s1) -> (f32, f32) {
        %xv = memref.load %x[%i, %j, %l] : memref<?x?x?xf32>
        %yv = memref.load %y[%i, %j, %l] : memref<?x?x?xf32>
        %d = arith.subf %xv, %yv : f32
        %ad = math.absf %d : f32
        %ay = math.absf %yv : f32
        %m3 = arith.maximumf %m2, %ad : f32
        %s3 = arith.addf %s2, %ay : f32
        scf.yield %m3, %s3 : f32, f32
      }
      scf.yield %w#0, %w#1 : f32, f32
    }
    scf.yield %q#0, %q#1 : f32, f32
  }
  %empty = arith.cmpf oeq, %r#1, %zero : f32
  %minus1 = arith.constant -1.0 : f32
  %res = arith.select %empty, %minus1, %r#0 : f32
  return %res : f32
}

func.func @alloc_f32(%d0: index, %d1: index, %d2: index, %seed: index) -> memref<?x?x?xf32> {
  %x = memref.alloc(%d0, %d1, %d2) : memref<?x?x?xf32>
  func.call @fill(%x, %seed) : (memref<?x?x?xf32>, index) -> ()
  return %x : memref<?x?x?xf32>
}

// 1. S += Q K^T: bf16, M = 13, N = 10, K = 6 (none a multiple of 4), over 2
//    tiles; the output starts non-zero (the C fragment is loaded).
func.func @qk(%q: memref<2x13x6xbf16>, %k: memref<2x10x6xbf16>, %s: memref<2x13x10xf32>, %tiled: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.if %tiled {
    scf.forall (%t) in (2) {
      %qs = memref.subview %q[%t, 0, 0] [1, 13, 6] [1, 1, 1] : memref<2x13x6xbf16> to memref<13x6xbf16, strided<[6, 1], offset: ?>>
      %ks = memref.subview %k[%t, 0, 0] [1, 10, 6] [1, 1, 1] : memref<2x10x6xbf16> to memref<10x6xbf16, strided<[6, 1], offset: ?>>
      %ss = memref.subview %s[%t, 0, 0] [1, 13, 10] [1, 1, 1] : memref<2x13x10xf32> to memref<13x10xf32, strided<[10, 1], offset: ?>>
      linalg.generic {indexing_maps = [#a, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qs, %ks : memref<13x6xbf16, strided<[6, 1], offset: ?>>, memref<10x6xbf16, strided<[6, 1], offset: ?>>) outs(%ss : memref<13x10xf32, strided<[10, 1], offset: ?>>) {
      ^bb0(%x: bf16, %y: bf16, %acc: f32):
        %xe = arith.extf %x : bf16 to f32
        %ye = arith.extf %y : bf16 to f32
        %p = arith.mulf %xe, %ye : f32
        %r = arith.addf %acc, %p : f32
        linalg.yield %r : f32
      }
    }
  } else {
    scf.for %t = %c0 to %c2 step %c1 {
      %qs = memref.subview %q[%t, 0, 0] [1, 13, 6] [1, 1, 1] : memref<2x13x6xbf16> to memref<13x6xbf16, strided<[6, 1], offset: ?>>
      %ks = memref.subview %k[%t, 0, 0] [1, 10, 6] [1, 1, 1] : memref<2x10x6xbf16> to memref<10x6xbf16, strided<[6, 1], offset: ?>>
      %ss = memref.subview %s[%t, 0, 0] [1, 13, 10] [1, 1, 1] : memref<2x13x10xf32> to memref<13x10xf32, strided<[10, 1], offset: ?>>
      linalg.generic {indexing_maps = [#a, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qs, %ks : memref<13x6xbf16, strided<[6, 1], offset: ?>>, memref<10x6xbf16, strided<[6, 1], offset: ?>>) outs(%ss : memref<13x10xf32, strided<[10, 1], offset: ?>>) {
      ^bb0(%x: bf16, %y: bf16, %acc: f32):
        %xe = arith.extf %x : bf16 to f32
        %ye = arith.extf %y : bf16 to f32
        %p = arith.mulf %xe, %ye : f32
        %r = arith.addf %acc, %p : f32
        linalg.yield %r : f32
      }
    }
  }
  return
}

// 2. acc += P V: P f32 (rounded to f16), V f16 indexed (k, n), a dynamic K
//    (10), M = 13, N = 7.
func.func @pv(%p: memref<13x?xf32>, %v: memref<?x7xf16>, %acc: memref<13x7xf32>, %tiled: i1) {
  scf.if %tiled {
    scf.forall (%t) in (1) {
      linalg.generic {indexing_maps = [#a, #bt, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%p, %v : memref<13x?xf32>, memref<?x7xf16>) outs(%acc : memref<13x7xf32>) {
      ^bb0(%x: f32, %y: f16, %c: f32):
        %ye = arith.extf %y : f16 to f32
        %m = arith.mulf %x, %ye : f32
        %r = arith.addf %c, %m : f32
        linalg.yield %r : f32
      }
    }
  } else {
    linalg.generic {indexing_maps = [#a, #bt, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%p, %v : memref<13x?xf32>, memref<?x7xf16>) outs(%acc : memref<13x7xf32>) {
    ^bb0(%x: f32, %y: f16, %c: f32):
      %ye = arith.extf %y : f16 to f32
      %m = arith.mulf %x, %ye : f32
      %r = arith.addf %c, %m : f32
      linalg.yield %r : f32
    }
  }
  return
}

// 3. dK += dS^T Q: dS f32 (10 queries x 9 keys) indexed (k, m) and rounded
//    to bf16, Q bf16 (10 x 5) indexed (k, n): M = 9, N = 5, K = 10.
func.func @dk(%ds: memref<10x9xf32>, %q: memref<10x5xbf16>, %dk: memref<9x5xf32>, %tiled: i1) {
  scf.if %tiled {
    scf.forall (%t) in (1) {
      linalg.generic {indexing_maps = [#at, #bt, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ds, %q : memref<10x9xf32>, memref<10x5xbf16>) outs(%dk : memref<9x5xf32>) {
      ^bb0(%x: f32, %y: bf16, %c: f32):
        %ye = arith.extf %y : bf16 to f32
        %m = arith.mulf %x, %ye : f32
        %r = arith.addf %c, %m : f32
        linalg.yield %r : f32
      }
    }
  } else {
    linalg.generic {indexing_maps = [#at, #bt, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ds, %q : memref<10x9xf32>, memref<10x5xbf16>) outs(%dk : memref<9x5xf32>) {
    ^bb0(%x: f32, %y: bf16, %c: f32):
      %ye = arith.extf %y : bf16 to f32
      %m = arith.mulf %x, %ye : f32
      %r = arith.addf %c, %m : f32
      linalg.yield %r : f32
    }
  }
  return
}

func.func @main() -> f32 {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c5 = arith.constant 5 : index
  %c6 = arith.constant 6 : index
  %c7 = arith.constant 7 : index
  %c9 = arith.constant 9 : index
  %c10 = arith.constant 10 : index
  %c13 = arith.constant 13 : index
  %true = arith.constant true
  %false = arith.constant false

  // 1.
  %qf = func.call @alloc_f32(%c2, %c13, %c6, %c1) : (index, index, index, index) -> memref<?x?x?xf32>
  %kf = func.call @alloc_f32(%c2, %c10, %c6, %c2) : (index, index, index, index) -> memref<?x?x?xf32>
  %qd = memref.alloc(%c2, %c13, %c6) : memref<?x?x?xbf16>
  %kd = memref.alloc(%c2, %c10, %c6) : memref<?x?x?xbf16>
  func.call @to_bf16(%qf, %qd) : (memref<?x?x?xf32>, memref<?x?x?xbf16>) -> ()
  func.call @to_bf16(%kf, %kd) : (memref<?x?x?xf32>, memref<?x?x?xbf16>) -> ()
  %s1 = func.call @alloc_f32(%c2, %c13, %c10, %c5) : (index, index, index, index) -> memref<?x?x?xf32>
  %s2 = func.call @alloc_f32(%c2, %c13, %c10, %c5) : (index, index, index, index) -> memref<?x?x?xf32>
  %q = memref.cast %qd : memref<?x?x?xbf16> to memref<2x13x6xbf16>
  %k = memref.cast %kd : memref<?x?x?xbf16> to memref<2x10x6xbf16>
  %s1s = memref.cast %s1 : memref<?x?x?xf32> to memref<2x13x10xf32>
  %s2s = memref.cast %s2 : memref<?x?x?xf32> to memref<2x13x10xf32>
  func.call @qk(%q, %k, %s1s, %true) : (memref<2x13x6xbf16>, memref<2x10x6xbf16>, memref<2x13x10xf32>, i1) -> ()
  func.call @qk(%q, %k, %s2s, %false) : (memref<2x13x6xbf16>, memref<2x10x6xbf16>, memref<2x13x10xf32>, i1) -> ()
  %e1 = func.call @compare(%s1, %s2) : (memref<?x?x?xf32>, memref<?x?x?xf32>) -> f32

  // 2.
  %pf = func.call @alloc_f32(%c1, %c13, %c10, %c7) : (index, index, index, index) -> memref<?x?x?xf32>
  %vf = func.call @alloc_f32(%c1, %c10, %c7, %c9) : (index, index, index, index) -> memref<?x?x?xf32>
  %vd = memref.alloc(%c1, %c10, %c7) : memref<?x?x?xf16>
  func.call @to_f16(%vf, %vd) : (memref<?x?x?xf32>, memref<?x?x?xf16>) -> ()
  %a1 = func.call @alloc_f32(%c1, %c13, %c7, %c2) : (index, index, index, index) -> memref<?x?x?xf32>
  %a2 = func.call @alloc_f32(%c1, %c13, %c7, %c2) : (index, index, index, index) -> memref<?x?x?xf32>
  %p2 = memref.collapse_shape %pf [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %p = memref.cast %p2 : memref<?x?xf32> to memref<13x?xf32>
  %v2 = memref.collapse_shape %vd [[0, 1], [2]] : memref<?x?x?xf16> into memref<?x?xf16>
  %v = memref.cast %v2 : memref<?x?xf16> to memref<?x7xf16>
  %a1c = memref.collapse_shape %a1 [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %a2c = memref.collapse_shape %a2 [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %a1s = memref.cast %a1c : memref<?x?xf32> to memref<13x7xf32>
  %a2s = memref.cast %a2c : memref<?x?xf32> to memref<13x7xf32>
  func.call @pv(%p, %v, %a1s, %true) : (memref<13x?xf32>, memref<?x7xf16>, memref<13x7xf32>, i1) -> ()
  func.call @pv(%p, %v, %a2s, %false) : (memref<13x?xf32>, memref<?x7xf16>, memref<13x7xf32>, i1) -> ()
  %e2 = func.call @compare(%a1, %a2) : (memref<?x?x?xf32>, memref<?x?x?xf32>) -> f32

  // 3.
  %dsf = func.call @alloc_f32(%c1, %c10, %c9, %c6) : (index, index, index, index) -> memref<?x?x?xf32>
  %qf3 = func.call @alloc_f32(%c1, %c10, %c5, %c10) : (index, index, index, index) -> memref<?x?x?xf32>
  %qd3 = memref.alloc(%c1, %c10, %c5) : memref<?x?x?xbf16>
  func.call @to_bf16(%qf3, %qd3) : (memref<?x?x?xf32>, memref<?x?x?xbf16>) -> ()
  %d1 = func.call @alloc_f32(%c1, %c9, %c5, %c13) : (index, index, index, index) -> memref<?x?x?xf32>
  %d2 = func.call @alloc_f32(%c1, %c9, %c5, %c13) : (index, index, index, index) -> memref<?x?x?xf32>
  %ds2 = memref.collapse_shape %dsf [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %ds = memref.cast %ds2 : memref<?x?xf32> to memref<10x9xf32>
  %q32 = memref.collapse_shape %qd3 [[0, 1], [2]] : memref<?x?x?xbf16> into memref<?x?xbf16>
  %q3 = memref.cast %q32 : memref<?x?xbf16> to memref<10x5xbf16>
  %d1c = memref.collapse_shape %d1 [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %d2c = memref.collapse_shape %d2 [[0, 1], [2]] : memref<?x?x?xf32> into memref<?x?xf32>
  %d1s = memref.cast %d1c : memref<?x?xf32> to memref<9x5xf32>
  %d2s = memref.cast %d2c : memref<?x?xf32> to memref<9x5xf32>
  func.call @dk(%ds, %q3, %d1s, %true) : (memref<10x9xf32>, memref<10x5xbf16>, memref<9x5xf32>, i1) -> ()
  func.call @dk(%ds, %q3, %d2s, %false) : (memref<10x9xf32>, memref<10x5xbf16>, memref<9x5xf32>, i1) -> ()
  %e3 = func.call @compare(%d1, %d2) : (memref<?x?x?xf32>, memref<?x?x?xf32>) -> f32

  // Any mismatch (or an all-zero reference) shows up as a non-zero sum.
  %abs1 = math.absf %e1 : f32
  %abs2 = math.absf %e2 : f32
  %abs3 = math.absf %e3 : f32
  %t1 = arith.addf %abs1, %abs2 : f32
  %t2 = arith.addf %t1, %abs3 : f32
  return %t2 : f32
}
