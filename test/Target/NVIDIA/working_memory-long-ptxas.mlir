// REQUIRES: ptxas
// gecko.working_memory(_grad) at L = 1037, dz 64, dv 128
// (Inputs/working_memory-long.mlir) through gecko-to-nvvm: both kernels
// assemble for sm_90 with static shared memory under the 48 KiB budget of
// gecko-map-forall-to-gpu (before the budget: 900352 bytes for the
// forward); the buffers over the budget are slices of host allocations
// (mgpuMemAlloc before the launch, mgpuMemFree after it).
//
// RUN: gecko-opt %S/../Inputs/working_memory-long.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa})" -o %t.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.mlir %t.d/sm90 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/sm90.*; do %ptxas -arch=sm_90 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error

// HOST:      llvm.func @wm(
// HOST:      llvm.call @mgpuMemAlloc
// HOST:      gpu.launch_func @wm_kernel::@wm_kernel blocks in
// HOST:      llvm.call @mgpuMemFree

// COUNT: 2 objects

// Under 49152 bytes of shared memory each.
// PTXAS-COUNT-2: used 1 barriers, {{([0-9]{1,4}|[1-3][0-9]{4}|4[0-8][0-9]{3}|490[0-9]{2}|491[0-4][0-9]|4915[0-2])}} bytes smem
