// RUN: gecko-opt %s --split-input-file --gecko-vectorize-cpu | FileCheck %s
// RUN: gecko-opt %s --split-input-file --gecko-vectorize-cpu="contraction-m-tile=4 contraction-n-tile=16" | FileCheck %s --check-prefix=SMALL
// RUN: gecko-opt %s --split-input-file --gecko-vectorize-cpu="max-rows=6" | FileCheck %s --check-prefix=ROWS

// A row reduction (a norm's sum of squares): one row per scf.for step, the
// whole row as one vector, reduced with vector.reduction.
// CHECK-LABEL: func.func @row_sum_of_squares
// CHECK:         scf.for %{{.+}} = %c0 to %c6 step %c1
// CHECK:           vector.load %{{.+}} : memref<6x512xf32>, vector<512xf32>
// CHECK:           arith.mulf %{{.+}} : vector<512xf32>
// CHECK:           vector.reduction <add>, %{{.+}} : vector<512xf32> into f32
// CHECK-NOT:     linalg.generic
func.func @row_sum_of_squares(%x: memref<6x512xf32>, %s: memref<6xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<6x512xf32>) outs(%s : memref<6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    %sum = arith.addf %out, %sq : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

// A matmul of full tiles: (8 x 32) register tiles, the accumulator loaded
// once per tile and carried through the k loop (hoisted transfers), the k
// loop an FMA chain (outer products).
// CHECK-LABEL: func.func @matmul_full_tiles
// CHECK:         scf.for %{{.+}} = %c0 to %c16 step %c8
// CHECK:           scf.for %{{.+}} = %c0 to %c64 step %c32
// CHECK-COUNT-8:     vector.load %{{.+}} : memref<16x64xf32>, vector<32xf32>
// CHECK:             scf.for %{{.+}} = %c0 to %c24 step %c1 iter_args(%{{.+}} = %{{.+}}) -> (vector<8x32xf32>)
// CHECK-COUNT-8:       vector.fma %{{.+}} : vector<32xf32>
// CHECK:               scf.yield
// CHECK-COUNT-8:     vector.store %{{.+}} : memref<16x64xf32>, vector<32xf32>
// CHECK-NOT:     linalg.matmul
// SMALL-LABEL: func.func @matmul_full_tiles
// SMALL:         scf.for %{{.+}} = %c0 to %c16 step %c4
// SMALL:           scf.for %{{.+}} = %c0 to %c64 step %c16
// SMALL:             iter_args(%{{.+}} = %{{.+}}) -> (vector<4x16xf32>)
// SMALL-COUNT-4:       vector.fma %{{.+}} : vector<16xf32>
func.func @matmul_full_tiles(%a: memref<16x24xf32>, %b: memref<24x64xf32>, %c: memref<16x64xf32>) {
  linalg.matmul ins(%a, %b : memref<16x24xf32>, memref<24x64xf32>) outs(%c : memref<16x64xf32>)
  return
}

// -----

// Partial tiles (20 = 2x8 + 4 rows, 40 = 32 + 8 columns): masked loads and
// stores of the accumulator at the edges (not hoisted: masked transfers
// stay in the k loop), FMAs on vector<32xf32>.
// CHECK-LABEL: func.func @matmul_partial_tiles
// CHECK:         scf.for %{{.+}} = %c0 to %c20 step %c8
// CHECK:           scf.for %{{.+}} = %c0 to %c40 step %c32
// CHECK:             scf.for %{{.+}} = %c0 to %c24 step %c1
// CHECK:               vector.create_mask %{{.+}} : vector<32xi1>
// CHECK-COUNT-8:       vector.maskedload %{{.+}} : memref<20x40xf32>, vector<32xi1>, vector<32xf32> into vector<32xf32>
// CHECK-COUNT-8:       vector.fma %{{.+}} : vector<32xf32>
// CHECK-COUNT-8:       vector.maskedstore %{{.+}} : memref<20x40xf32>, vector<32xi1>, vector<32xf32>
// CHECK-NOT:     linalg.matmul
func.func @matmul_partial_tiles(%a: memref<20x24xf32>, %b: memref<24x40xf32>, %c: memref<20x40xf32>) {
  linalg.matmul ins(%a, %b : memref<20x24xf32>, memref<24x40xf32>) outs(%c : memref<20x40xf32>)
  return
}

// -----

// A dynamic (affine.min) tile of at most 4 rows: vectorized with masks at
// its bound, no tiling loop.
// CHECK-LABEL: func.func @bounded_tile
// CHECK:         %[[N:.+]] = affine.min
// CHECK-NOT:     scf.for
// CHECK-COUNT-4: vector.maskedload %{{.+}} : memref<10x16xf32>, vector<16xi1>, vector<16xf32>
// CHECK:         math.exp %{{.+}} : vector<4x16xf32>
// CHECK:         vector.maskedstore
// CHECK-NOT:     linalg.generic
func.func @bounded_tile(%x: memref<10x16xf32>, %y: memref<10x16xf32>, %i: index) {
  %n = affine.min affine_map<(d0) -> (-d0 + 10, 4)>(%i)
  %xs = memref.subview %x[%i, 0] [%n, 16] [1, 1] : memref<10x16xf32> to memref<?x16xf32, strided<[16, 1], offset: ?>>
  %ys = memref.subview %y[%i, 0] [%n, 16] [1, 1] : memref<10x16xf32> to memref<?x16xf32, strided<[16, 1], offset: ?>>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%xs : memref<?x16xf32, strided<[16, 1], offset: ?>>) outs(%ys : memref<?x16xf32, strided<[16, 1], offset: ?>>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// complex<f32> elements are not vectorized: the op is left for the scalar
// loops. A strided tile copy is vectorized, an identity copy stays a
// memref.copy (one memcpy).
// CHECK-LABEL: func.func @left_alone_and_copies
// CHECK:         linalg.generic
// CHECK:           complex.mul
// CHECK:         vector.load %{{.+}} : memref<4x32xf32>, vector<32xf32>
// CHECK:         vector.store %{{.+}} : memref<8x32xf32>, vector<32xf32>
// CHECK:         memref.copy %{{.+}}, %{{.+}} : memref<4x32xf32> to memref<4x32xf32>
func.func @left_alone_and_copies(%z: memref<4x8xcomplex<f32>>, %t: memref<4x32xf32>, %big: memref<8x32xf32>, %u: memref<4x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%z : memref<4x8xcomplex<f32>>) {
  ^bb0(%out: complex<f32>):
    %sq = complex.mul %out, %out : complex<f32>
    linalg.yield %sq : complex<f32>
  }
  %slot = memref.subview %big[4, 0] [4, 32] [1, 1] : memref<8x32xf32> to memref<4x32xf32, strided<[32, 1], offset: 128>>
  memref.copy %t, %slot : memref<4x32xf32> to memref<4x32xf32, strided<[32, 1], offset: 128>>
  memref.copy %t, %u : memref<4x32xf32> to memref<4x32xf32>
  return
}

// -----

// A small innermost dim (rope's (re, im) pairs): at most `max-rows` (16)
// rows of vector<2> per step instead of one 256-row vector (256 unrolled
// loads); a dim over the cap is tiled to its largest divisor that fits.
// CHECK-LABEL: func.func @small_inner_dim
// CHECK:         scf.for %{{.+}} = %c0 to %c16 step %c1
// CHECK-COUNT-16:  vector.load %{{.+}} : memref<16x2x8x2xf32>, vector<2xf32>
// CHECK-NOT:       vector.load
// CHECK-COUNT-16:  vector.store %{{.+}} : memref<16x2x8x2xf32>, vector<2xf32>
// CHECK-NOT:       vector.store
// ROWS-LABEL: func.func @small_inner_dim
// ROWS:         scf.for %{{.+}} = %c0 to %c16 step %c1
// ROWS:           scf.for %{{.+}} = %c0 to %c2 step %c1
// ROWS:             scf.for %{{.+}} = %c0 to %c8 step %c4
// ROWS-COUNT-4:       vector.load %{{.+}} : memref<16x2x8x2xf32>, vector<2xf32>
// ROWS-NOT:           vector.load
func.func @small_inner_dim(%x: memref<16x2x8x2xf32>, %y: memref<16x2x8x2xf32>) {
  linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<16x2x8x2xf32>) outs(%y : memref<16x2x8x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    linalg.yield %sq : f32
  }
  return
}
