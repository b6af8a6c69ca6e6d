// REQUIRES: ptxas
// The tensor-core path (gecko-nvvm-mma, pipeline option mma, default on):
// bf16 / f16 gecko.chunk_attention(_grad) (Inputs/chunk_attention_half.mlir,
// partial tiles everywhere) through gecko-to-nvvm. Every kernel's tile
// matmuls (QK^T and PV forward; QK^T, dO V^T, dS K, dS^T Q, P^T dO
// backward) are mma.sync.aligned.m16n8k16 with f32 accumulation of the
// operand type; the PTX assembles with ptxas for sm_90 (default tiles, 128
// threads) and sm_80 (tiles 5/3, 64 threads), no spill of 100+ bytes.
// mma=false and a pre-Ampere chip keep the scalar FMA path. Register counts:
// docs/targets/gpu.md.
//
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa})" -o %t.sm90.mlir
// RUN: %extract_gpu_object %t.sm90.mlir %t.d/sm90 | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/sm90.* | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.d/sm90.*; do FileCheck %s --check-prefix=EACH < $f || exit 1; done
// RUN: for f in %t.d/sm90.*; do %ptxas -arch=sm_90 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_80 features=+ptx70 format=isa attention-query-tile=5 attention-key-tile=3 block-size=64})" -o %t.sm80.mlir
// RUN: %extract_gpu_object %t.sm80.mlir %t.d/sm80 | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/sm80.* | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.d/sm80.*; do FileCheck %s --check-prefix=EACH < $f || exit 1; done
// RUN: for f in %t.d/sm80.*; do %ptxas -arch=sm_80 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=error --implicit-check-not="{{[0-9][0-9][0-9]+}} bytes spill"
//
// The scalar path stays selectable:
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa mma=false})" -o %t.off.mlir
// RUN: %extract_gpu_object %t.off.mlir %t.d/off | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/off.* | FileCheck %s --check-prefix=SCALAR
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_75 features=+ptx70 format=isa})" -o %t.sm75.mlir
// RUN: %extract_gpu_object %t.sm75.mlir %t.d/sm75 | FileCheck %s --check-prefix=COUNT
// RUN: cat %t.d/sm75.* | FileCheck %s --check-prefix=SCALAR

// COUNT: 5 objects

// PTX-LABEL: .entry sca_bf16_kernel(
// PTX:       mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-LABEL: .entry sca_f16_kernel(
// PTX:       mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-LABEL: .entry sca_grad_bf16_kernel(
// PTX:       mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT:   __nv_

// EACH:     .entry
// EACH:     mma.sync.aligned.m16n8k16.row.col.f32.{{(bf16.bf16|f16.f16)}}.f32
// EACH:     bar.sync

// PTXAS-COUNT-5: Used {{[0-9]+}} registers, used 1 barriers

// SCALAR-COUNT-5: .entry
// SCALAR-NOT:     mma.sync
