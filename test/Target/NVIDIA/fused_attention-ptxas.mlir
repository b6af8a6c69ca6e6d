// REQUIRES: ptxas
// The MEGA attention (Inputs/fused_attention.mlir: z_split, rope, chunk
// attention, working memory, gated_add, cache rows) through gecko-to-nvvm with
// fuse-attention=true: the fused kernels (the working memory with its z
// split prologue; the per-call row-statistics and rope tables; the attention
// with the z split + rope prologue and the sca·r + awm epilogue; its
// key-cache rows) assemble with ptxas for sm_90 (+ptx80, default tiles, 128
// threads) and sm_80 (+ptx70, other tiles, 64 threads); five kernels per
// function instead of twelve unfused, no spills beyond a few bytes; nothing
// gecko or linalg is left on the host.
// Register counts: docs/passes/fusion.md.
//
// RUN: gecko-opt %S/../Inputs/fused_attention.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa fuse-attention=true})" -o %t.sm90.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.sm90.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.sm90.mlir %t.d/sm90 | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/sm90.* | FileCheck %s --check-prefix=PTX
// RUN: cat %t.d/sm90.* | FileCheck %s --check-prefix=RSQRT
// RUN: for f in %t.d/sm90.*; do %ptxas -arch=sm_90 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"
// RUN: gecko-opt %S/../Inputs/fused_attention.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_80 features=+ptx70 format=isa batch-tile-size=2 token-tile-size=8 attention-query-tile=5 attention-key-tile=3 block-size=64 fuse-attention=true})" -o %t.sm80.mlir
// RUN: %extract_gpu_object %t.sm80.mlir %t.d/sm80 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/sm80.*; do %ptxas -arch=sm_80 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"

// HOST-NOT:  {{scf\.forall|linalg\.|gecko\.|unrealized_conversion_cast|llvm.call @malloc}}
// HOST:      llvm.func @mega(
// HOST:      llvm.call @mgpuMemAlloc
// HOST-COUNT-5: gpu.launch_func @mega_kernel{{(_[0-9]+)?}}::@mega_kernel{{(_[0-9]+)?}} blocks in
// HOST:      llvm.func @decode(
// HOST-COUNT-5: gpu.launch_func @decode_kernel{{(_[0-9]+)?}}::@decode_kernel{{(_[0-9]+)?}} blocks in
// HOST-NOT:  gpu.launch_func

// COUNT: 10 objects

// The z norm of the prologues is evaluated on the device.
// RSQRT: rsqrt.approx.f32
// PTX-COUNT-10: .visible .entry {{[a-z_0-9]+}}_kernel{{(_[0-9]+)?}}(
// PTX-NOT:       __nv_
// PTX-NOT:       .entry

// PTXAS-COUNT-10: Used {{[0-9]+}} registers, used 1 barriers
