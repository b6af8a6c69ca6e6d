// REQUIRES: ptxas
// The row-wise ops (Inputs/rowwise.mlir: rms_norm f32 and bf16, layer_norm,
// z_split, rope; sizes not multiples of the tiles) through gecko-to-nvvm:
// one kernel per op, PTX that ptxas assembles for sm_90 (+ptx80, the
// default) and sm_80, with the tile's work spread over the threads
// (%tid.x, block-stride loops), the per-tile buffers in shared memory and
// bar.sync between the distributed linalg ops; no unresolved libdevice call.
//
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa})" -o %t.sm90.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.sm90.mlir
// RUN: %extract_gpu_object %t.sm90.mlir %t.sm90.ptx | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.sm90.ptx.? | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.sm90.ptx.?; do %ptxas -arch=sm_90 -v $f -o $f.cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_80 features=+ptx70 format=isa batch-tile-size=2 token-tile-size=8 block-size=64})" -o %t.sm80.mlir
// RUN: %extract_gpu_object %t.sm80.mlir %t.sm80.ptx | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.sm80.ptx.?; do %ptxas -arch=sm_80 -v $f -o $f.cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS
// cubin straight from the pipeline (ptxas of the toolkit, driven by MLIR).
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=bin})" | FileCheck %s --check-prefix=BIN

// HOST-NOT:  {{gecko\.|scf\.forall|linalg\.|unrealized_conversion_cast}}
// HOST-DAG:  llvm.func @rms(
// HOST-DAG:  gpu.launch_func @rms_kernel::@rms_kernel blocks in
// HOST-DAG:  gpu.launch_func @rope_kernel::@rope_kernel blocks in
// HOST-DAG:  gpu.binary @rms_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// HOST-DAG:  gpu.binary @rope_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">

// COUNT: 10 objects

// PTX-LABEL: .visible .entry rms_kernel(
// PTX:         .shared .align 16 .b8 __gecko_tile_buffer
// PTX:         mov.u32 {{.*}}%tid.x;
// PTX:         st.shared.{{[bf]}}32
// PTX:         bar.sync 0;
// PTX:         rsqrt.approx
// PTX-LABEL: .visible .entry rms_bf16_kernel(
// PTX:         cvt.f32.bf16
// PTX:         cvt.rn.bf16.f32
// PTX-LABEL: .visible .entry ln_kernel(
// PTX:         %tid.x
// PTX-LABEL: .visible .entry zsplit_kernel(
// PTX:         %tid.x
// PTX-LABEL: .visible .entry rope_kernel(
// PTX:         %tid.x
// PTX-NOT:     __nv_

// PTXAS-COUNT-10: Used {{[0-9]+}} registers, used 1 barriers
// PTXAS-NOT:     {{[1-9][0-9]*}} bytes spill stores
// PTXAS-NOT:     error

// BIN-COUNT-10: #gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, properties = {{{.*}}}, bin = "\7FELF
