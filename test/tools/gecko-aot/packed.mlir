// The packed interface (--packed-interface): _gecko_packed_<name>(void **)
// next to every _mlir_ciface_<name>, called from plain C++ through dlopen
// with a scalar i64 argument and one or two results; the driver checks the
// values against loops in double within 1e-5 and that the inputs are kept.
// RUN: rm -rf %t && mkdir -p %t
// RUN: gecko-aot %s -o %t/packed.so --packed-interface
// RUN: gecko-aot-packed-driver %t/packed.so | FileCheck %s
// RUN: llvm-nm -D --defined-only %t/packed.so | FileCheck %s --check-prefix=SYMS
// The wrapper loads args[0] (result storage) and one pointer per argument,
// then the descriptor pointer / the scalar from it.
// RUN: gecko-aot %s -o %t/packed.ll --emit=llvm -O0 --packed-interface
// RUN: FileCheck %s --check-prefix=LL < %t/packed.ll
// Without the option there are no packed wrappers.
// RUN: gecko-aot %s -o %t/plain.so
// RUN: llvm-nm -D --defined-only %t/plain.so | FileCheck %s --check-prefix=PLAIN

// CHECK: norm_and_scale #0 (rms norm): max rel error {{.*}} ok
// CHECK: norm_and_scale #1 (x * (n + 1)): max rel error {{.*}} ok
// CHECK: scale (x * (n + 1)): max rel error {{.*}} ok
// CHECK: PASS

// SYMS-DAG: T _gecko_packed_norm_and_scale
// SYMS-DAG: T _gecko_packed_scale
// SYMS-DAG: T _mlir_ciface_norm_and_scale
// SYMS-DAG: T _mlir_ciface_scale
// PLAIN-NOT: _gecko_packed_

// LL-LABEL: define void @_gecko_packed_norm_and_scale(ptr %args)
// LL: %[[OUT:.*]] = load ptr, ptr %{{.*}}
// LL: %[[XP:.*]] = load ptr, ptr %{{.*}}
// LL: %[[X:.*]] = load ptr, ptr %[[XP]]
// LL: %[[WP:.*]] = load ptr, ptr %{{.*}}
// LL: %[[W:.*]] = load ptr, ptr %[[WP]]
// LL: %[[NP:.*]] = load ptr, ptr %{{.*}}
// LL: %[[N:.*]] = load i64, ptr %[[NP]]
// LL: call void @_mlir_ciface_norm_and_scale(ptr %[[OUT]], ptr %[[X]], ptr %[[W]], i64 %[[N]])
// LL-NEXT: ret void

func.func @norm_and_scale(%x: tensor<3x37x24xf32>, %w: tensor<24xf32>,
                          %n: i64)
    -> (tensor<3x37x24xf32>, tensor<3x37x24xf32>) {
  %y = gecko.rms_norm %x weight(%w) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x24xf32>, tensor<24xf32>) -> tensor<3x37x24xf32>
  %z = call @scale(%x, %n) : (tensor<3x37x24xf32>, i64) -> tensor<3x37x24xf32>
  return %y, %z : tensor<3x37x24xf32>, tensor<3x37x24xf32>
}

// x * (n + 1)
func.func @scale(%x: tensor<3x37x24xf32>, %n: i64) -> tensor<3x37x24xf32> {
  %one = arith.constant 1 : i64
  %n1 = arith.addi %n, %one : i64
  %s = arith.sitofp %n1 : i64 to f32
  %init = tensor.empty() : tensor<3x37x24xf32>
  %z = linalg.generic {
      indexing_maps = [affine_map<(b, l, d) -> (b, l, d)>,
                       affine_map<(b, l, d) -> (b, l, d)>],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<3x37x24xf32>) outs(%init : tensor<3x37x24xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %s : f32
    linalg.yield %m : f32
  } -> tensor<3x37x24xf32>
  return %z : tensor<3x37x24xf32>
}
