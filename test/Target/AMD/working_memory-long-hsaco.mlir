// gecko.working_memory(_grad) at L = 1037, dz 64, dv 128
// (Inputs/working_memory-long.mlir) through gecko-to-rocdl for gfx942:
// valid AMDGPU code objects whose LDS (group segment) stays under the
// 48 KiB workgroup-memory budget of gecko-map-forall-to-gpu.
//
// RUN: gecko-opt %S/../Inputs/working_memory-long.mlir --pass-pipeline="builtin.module(gecko-to-rocdl)" -o %t.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.mlir %t.d/942 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/942.*; do %llvm_readelf --file-header --notes $f; done | FileCheck %s

// COUNT: 2 objects

// CHECK:         Machine: EM_AMDGPU
// CHECK:         .group_segment_fixed_size: {{([0-9]{1,4}|[1-3][0-9]{4}|4[0-8][0-9]{3}|490[0-9]{2}|491[0-4][0-9]|4915[0-2])$}}
// CHECK:         amdhsa.target: amdgcn-amd-amdhsa--gfx942
// CHECK:         Machine: EM_AMDGPU
// CHECK:         .group_segment_fixed_size: {{([0-9]{1,4}|[1-3][0-9]{4}|4[0-8][0-9]{3}|490[0-9]{2}|491[0-4][0-9]|4915[0-2])$}}
// CHECK:         amdhsa.target: amdgcn-amd-amdhsa--gfx942
// CHECK-NOT:     Machine:
