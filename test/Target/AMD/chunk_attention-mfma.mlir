// The MFMA path (gecko-rocdl-mfma, pipeline option mma, default on): bf16 /
// f16 gecko.chunk_attention(_grad) (Inputs/chunk_attention_half.mlir, partial
// tiles everywhere) through gecko-to-rocdl. For gfx942 (default tiles, 128
// work-items) and gfx90a (tiles 5/3, 64 work-items) every kernel is a valid
// AMDGPU ELF code object with its kernel symbol and descriptor, no VGPR
// spills and no scratch (the largest backward kernel spills 4 SGPRs on
// gfx942, into VGPR lanes), and its tile matmuls are v_mfma_f32_16x16x16 of the operand type
// (gfx90a: the bf16_1k form). mma=false keeps the scalar FMA path.
// VGPR counts: docs/targets/gpu.md.
//
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-rocdl)" -o %t.942.mlir
// RUN: %extract_gpu_object %t.942.mlir %t.d/942 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/942.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.942.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX942 < %t.942.elf
// RUN: FileCheck %s --check-prefix=EACH < %t.942.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.942.elf
// RUN: FileCheck %s --check-prefix=VSPILL < %t.942.elf
// RUN: for f in %t.d/942.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=ASM942
// RUN: for f in %t.d/942.*; do %llvm_objdump -d $f | FileCheck %s --check-prefix=MFMA || exit 1; done
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{chip=gfx90a attention-query-tile=5 attention-key-tile=3 block-size=64})" -o %t.90a.mlir
// RUN: %extract_gpu_object %t.90a.mlir %t.d/90a | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/90a.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.90a.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX90A < %t.90a.elf
// RUN: FileCheck %s --check-prefix=EACH < %t.90a.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.90a.elf
// RUN: FileCheck %s --check-prefix=VSPILL < %t.90a.elf
// RUN: for f in %t.d/90a.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=ASM90A
// RUN: for f in %t.d/90a.*; do %llvm_objdump -d $f | FileCheck %s --check-prefix=MFMA || exit 1; done
//
// The scalar path stays selectable:
// RUN: gecko-opt %S/../Inputs/chunk_attention_half.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{mma=false})" -o %t.off.mlir
// RUN: %extract_gpu_object %t.off.mlir %t.d/off | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/off.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=SCALAR

// COUNT: 5 objects

// ELF:    FUNC GLOBAL PROTECTED {{.*}} sca_bf16_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} sca_bf16_kernel.kd
// GFX942: amdhsa.target: amdgcn-amd-amdhsa--gfx942
// GFX90A: amdhsa.target: amdgcn-amd-amdhsa--gfx90a
// ELF:    FUNC GLOBAL PROTECTED {{.*}} sca_f16_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} sca_f16_kernel.kd
// ELF:    FUNC GLOBAL PROTECTED {{.*}} sca_grad_bf16_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} sca_grad_bf16_kernel.kd

// EACH-COUNT-5: Machine: EM_AMDGPU
// EACH-NOT:     Machine:

// SPILL-COUNT-5: .private_segment_fixed_size: 0
// SPILL-NOT:     .private_segment_fixed_size:

// VSPILL-COUNT-5: .vgpr_spill_count: 0
// VSPILL-NOT:     .vgpr_spill_count:

// ASM942-LABEL: <sca_bf16_kernel>:
// ASM942:       v_mfma_f32_16x16x16_bf16
// ASM942-LABEL: <sca_f16_kernel>:
// ASM942:       v_mfma_f32_16x16x16_f16
// ASM942-LABEL: <sca_grad_bf16_kernel>:
// ASM942:       v_mfma_f32_16x16x16_bf16

// ASM90A-LABEL: <sca_bf16_kernel>:
// ASM90A:       v_mfma_f32_16x16x16bf16_1k
// ASM90A-LABEL: <sca_f16_kernel>:
// ASM90A:       v_mfma_f32_16x16x16f16
// ASM90A-LABEL: <sca_grad_bf16_kernel>:
// ASM90A:       v_mfma_f32_16x16x16bf16_1k

// MFMA: v_mfma_f32_16x16x16

// SCALAR-COUNT-5: <{{sca_[a-z0-9_]+}}_kernel>:
// SCALAR-NOT:     v_mfma
