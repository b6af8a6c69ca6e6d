// Compile ahead of time to a shared library and call it from plain C++
// (dlopen, memref descriptors) on random inputs; the driver checks every
// result against a loop in double within 1e-5. 37 tokens are not a
// multiple of either token tile size.
// RUN: rm -rf %t && mkdir -p %t
// RUN: gecko-aot %s -o %t/rms.so
// RUN: gecko-aot-rms-driver %t/rms.so | FileCheck %s
// RUN: gecko-aot %s -o %t/rms5.so --token-tile-size=5 --batch-tile-size=2
// RUN: gecko-aot-rms-driver %t/rms5.so | FileCheck %s

// The library exports the C interface, needs libomp and nothing of MLIR.
// RUN: llvm-nm -D --defined-only %t/rms.so | FileCheck %s --check-prefix=SYMS
// RUN: llvm-readelf -d %t/rms.so | FileCheck %s --check-prefix=DEPS

// The other outputs: a PIC object and optimised LLVM IR for the host.
// RUN: gecko-aot %s -o %t/rms.o --emit=obj
// RUN: llvm-readelf -h -r %t/rms.o | FileCheck %s --check-prefix=OBJ
// RUN: gecko-aot %s -o %t/rms.ll --emit=llvm
// RUN: FileCheck %s --check-prefix=LL < %t/rms.ll

// CHECK: rms_norm_affine (G=2, weight): max rel error {{.*}} ok
// CHECK: rms_norm_groups #0 (G=1): max rel error {{.*}} ok
// CHECK: rms_norm_groups #1 (G=4): max rel error {{.*}} ok
// CHECK: PASS

// SYMS-DAG: T _mlir_ciface_rms_norm_affine
// SYMS-DAG: T _mlir_ciface_rms_norm_groups
// DEPS: NEEDED{{.*}}libomp
// DEPS-NOT: NEEDED{{.*}}lib{{MLIR|LLVM}}

// OBJ: Type: REL
// OBJ: Machine: Advanced Micro Devices X86-64
// OBJ-NOT: R_X86_64_32{{ }}

// LL: target triple = "x86_64
// LL: define {{.*}}@_mlir_ciface_rms_norm_affine
// LL: "target-cpu"="{{[a-z0-9-]+}}"{{.*}}"target-features"="{{.*}}+avx

func.func @rms_norm_affine(%x: tensor<3x37x24xf32>, %w: tensor<24xf32>)
    -> tensor<3x37x24xf32> {
  %y = gecko.rms_norm %x weight(%w) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x24xf32>, tensor<24xf32>) -> tensor<3x37x24xf32>
  return %y : tensor<3x37x24xf32>
}

func.func @rms_norm_groups(%x: tensor<3x37x24xf32>)
    -> (tensor<3x37x24xf32>, tensor<3x37x24xf32>) {
  %a = gecko.rms_norm %x {num_groups = 1 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x24xf32>) -> tensor<3x37x24xf32>
  %b = gecko.rms_norm %x {num_groups = 4 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x24xf32>) -> tensor<3x37x24xf32>
  return %a, %b : tensor<3x37x24xf32>, tensor<3x37x24xf32>
}
