// gecko-nvvm-mma on hand-written bufferized tiles: an f16/bf16 contraction
// inside a tile forall becomes a 128-thread forall (4 warps of 32) walking
// the 16x8 output tiles with nvvm.mma.sync m16n8k16; dimensions that are not
// static multiples of the instruction (M = 40, a dynamic K) are zero-padded
// on load (clamped index + select) and masked on store (scf.if); f32
// operands are rounded to the other operand's type. f32 x f32 contractions,
// contractions outside a tile, pre-sm_80 chips and block sizes that are not
// a multiple of 32 are left alone.
//
// RUN: gecko-opt %s --gecko-nvvm-mma -canonicalize -cse | FileCheck %s
// RUN: gecko-opt %s --gecko-nvvm-mma=chip=sm_75 | FileCheck %s --check-prefix=OFF
// RUN: gecko-opt %s --gecko-nvvm-mma=block-size=48 | FileCheck %s --check-prefix=OFF
// RUN: gecko-opt %s --gecko-nvvm-mma="chip=sm_80 block-size=64" | FileCheck %s --check-prefix=SM80
// RUN: (gecko-opt %s --gecko-nvvm-mma=block-size=0 2>&1; echo "exit $?") | FileCheck %s --check-prefix=BAD

// BAD: error: gecko-nvvm-mma: block-size must be in [1, 1024], got 0
// BAD: exit 1

// OFF-COUNT-4: linalg.generic
// OFF-NOT:     nvvm.mma.sync

// SM80-LABEL: func.func @qk
// SM80:       scf.forall (%{{.*}}) in (64)
// SM80:       nvvm.mma.sync
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#bt = affine_map<(d0, d1, d2) -> (d2, d1)>
#o = affine_map<(d0, d1, d2) -> (d0, d1)>


// S = Q K^T (bf16; M = 40: rows masked; N = 32, K = 16: unmasked).
// CHECK-LABEL: func.func @qk
// CHECK-DAG:   %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG:   %[[C39:.*]] = arith.constant 39 : index
// CHECK-DAG:   %[[C40:.*]] = arith.constant 40 : index
// CHECK:       scf.forall
// CHECK:       %[[Q:.*]] = memref.subview %arg0
// CHECK:       %[[S:.*]] = memref.subview %arg2
// CHECK:       scf.forall (%[[TID:.*]]) in (128) {
// CHECK:         %[[WARP:.*]] = arith.divui %[[TID]], %[[C32]]
// CHECK:         %[[LANE:.*]] = arith.remui %[[TID]], %[[C32]]
// CHECK:         scf.for %[[T:.*]] = %[[WARP]] to %c12 step %c4 {
// CHECK:           arith.cmpi ult, %{{.*}}, %[[C40]]
// CHECK:           arith.minui %{{.*}}, %[[C39]]
// CHECK:           memref.load %[[S]]
// CHECK:           memref.load %[[Q]]
// CHECK:           arith.select %{{.*}} : bf16
// CHECK-COUNT-6:   vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK:           nvvm.mma.sync A[{{.*}}, {{.*}}, {{.*}}, {{.*}}] B[{{.*}}, {{.*}}] C[{{.*}}, {{.*}}, {{.*}}, {{.*}}] {{{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:           scf.if
// CHECK-NEXT:        memref.store %{{.*}}, %[[S]]
// CHECK:       } {mapping = [#gpu.thread<x>]}
// CHECK-NOT:   linalg.generic
func.func @qk(%q: memref<4x40x16xbf16>, %k: memref<4x32x16xbf16>, %s: memref<4x40x32xf32>) {
  scf.forall (%t) in (4) {
    %qs = memref.subview %q[%t, 0, 0] [1, 40, 16] [1, 1, 1] : memref<4x40x16xbf16> to memref<40x16xbf16, strided<[16, 1], offset: ?>>
    %ks = memref.subview %k[%t, 0, 0] [1, 32, 16] [1, 1, 1] : memref<4x32x16xbf16> to memref<32x16xbf16, strided<[16, 1], offset: ?>>
    %ss = memref.subview %s[%t, 0, 0] [1, 40, 32] [1, 1, 1] : memref<4x40x32xf32> to memref<40x32xf32, strided<[32, 1], offset: ?>>
    linalg.generic {indexing_maps = [#a, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qs, %ks : memref<40x16xbf16, strided<[16, 1], offset: ?>>, memref<32x16xbf16, strided<[16, 1], offset: ?>>) outs(%ss : memref<40x32xf32, strided<[32, 1], offset: ?>>) {
    ^bb0(%x: bf16, %y: bf16, %acc: f32):
      %xe = arith.extf %x : bf16 to f32
      %ye = arith.extf %y : bf16 to f32
      %p = arith.mulf %xe, %ye : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
  }
  return
}

// acc += P V: P f32 rounded to f16, V (k, n)-indexed, dynamic K (a k loop,
// masked in k only), N = 24 = 3 tiles of 8, M = 16: stores unmasked.
// CHECK-LABEL: func.func @pv
// CHECK:       scf.forall (%{{.*}}) in (128)
// CHECK:         %[[K:[0-9]+]]:4 = scf.for %{{.*}} = %c0 to %dim step %c16 iter_args(
// CHECK:           arith.truncf %{{.*}} : f32 to f16
// CHECK:           nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:           scf.yield
// CHECK-NOT:     scf.if
// CHECK:         memref.store %[[K]]#0, %arg2
// CHECK-NOT:   linalg.generic
func.func @pv(%p: memref<16x?xf32>, %v: memref<?x24xf16>, %acc: memref<16x24xf32>) {
  scf.forall (%t) in (2) {
    linalg.generic {indexing_maps = [#a, #bt, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%p, %v : memref<16x?xf32>, memref<?x24xf16>) outs(%acc : memref<16x24xf32>) {
    ^bb0(%x: f32, %y: f16, %c: f32):
      %ye = arith.extf %y : f16 to f32
      %m = arith.mulf %x, %ye : f32
      %r = arith.addf %c, %m : f32
      linalg.yield %r : f32
    }
  }
  return
}

// CHECK-LABEL: func.func @f32
// CHECK-COUNT-2: linalg.generic
// CHECK-NOT:     nvvm.mma.sync
func.func @f32(%x: memref<16x16xf32>, %y: memref<16x16xf32>, %z: memref<16x16xf32>, %h: memref<16x16xbf16>) {
  scf.forall (%t) in (2) {
    linalg.generic {indexing_maps = [#a, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %y : memref<16x16xf32>, memref<16x16xf32>) outs(%z : memref<16x16xf32>) {
    ^bb0(%a0: f32, %b0: f32, %c0: f32):
      %m = arith.mulf %a0, %b0 : f32
      %r = arith.addf %c0, %m : f32
      linalg.yield %r : f32
    }
  }
  linalg.generic {indexing_maps = [#a, #b, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h, %h : memref<16x16xbf16>, memref<16x16xbf16>) outs(%z : memref<16x16xf32>) {
  ^bb0(%a0: bf16, %b0: bf16, %c0: f32):
    %ae = arith.extf %a0 : bf16 to f32
    %be = arith.extf %b0 : bf16 to f32
    %m = arith.mulf %ae, %be : f32
    %r = arith.addf %c0, %m : f32
    linalg.yield %r : f32
  }
  return
}
