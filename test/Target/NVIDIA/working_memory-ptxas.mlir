// REQUIRES: ptxas
// gecko.working_memory(_grad) (Inputs/working_memory.mlir) through gecko-to-nvvm at sizes that are not multiples of the
// tiles: every kernel's PTX assembles with ptxas for sm_90 (+ptx80, default
// tiles, 128 threads) and sm_80 (+ptx70, other tiles, 64 threads); tiles map
// to blocks (%ctaid), chunk-local linalg work to threads (%tid.x, one
// bar.sync per kernel); nothing but kernel launches and managed buffers is
// left on the host (gecko-host-buffers-to-device: mgpuMemAlloc host-shared).
// Register counts / spills: docs/targets/gpu.md.
//
// RUN: gecko-opt %S/../Inputs/working_memory.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa})" -o %t.sm90.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.sm90.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.sm90.mlir %t.d/sm90 | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/sm90.* | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.d/sm90.*; do %ptxas -arch=sm_90 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"
// RUN: gecko-opt %S/../Inputs/working_memory.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_80 features=+ptx70 format=isa batch-tile-size=2 token-tile-size=8 tsn-chunk-size=5 cema-chunk-size=7 cema-channel-block=6 attention-query-tile=5 attention-key-tile=3 block-size=64})" -o %t.sm80.mlir
// RUN: %extract_gpu_object %t.sm80.mlir %t.d/sm80 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/sm80.*; do %ptxas -arch=sm_80 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"

// HOST-NOT:  {{scf\.forall|linalg\.|gecko\.|unrealized_conversion_cast|llvm.call @malloc}}
// HOST:      llvm.func @wm(
// HOST:      llvm.call @mgpuMemAlloc
// HOST:      gpu.launch_func @wm_kernel::@wm_kernel blocks in

// COUNT: 2 objects

// PTX-COUNT-2: .visible .entry {{[a-z_0-9]+}}_kernel{{(_[0-9]+)?}}(
// PTX-NOT:       __nv_
// PTX-NOT:       .entry

// PTXAS-COUNT-2: Used {{[0-9]+}} registers, used 1 barriers
