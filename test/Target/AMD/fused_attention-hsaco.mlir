// The MEGA attention (Inputs/fused_attention.mlir: z_split, rope, chunk
// attention, working memory, gated_add, cache rows) through gecko-to-rocdl with
// fuse-attention=true: for gfx942 (default) and gfx90a (other tiles, 64
// work-items) the fused kernels (the working memory with its z split
// prologue; the per-call row-statistics and rope tables; the attention with
// the z split + rope prologue and the sca·r + awm epilogue; its key-cache
// rows) are valid AMDGPU ELF code objects with their kernel symbol and
// descriptor, code object v5 metadata and no spills; five kernels per
// function. VGPR counts: docs/passes/fusion.md.
//
// RUN: gecko-opt %S/../Inputs/fused_attention.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{fuse-attention=true})" -o %t.942.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.942.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.942.mlir %t.d/942 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/942.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.942.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX942 < %t.942.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH < %t.942.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.942.elf
// RUN: for f in %t.d/942.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=ASM
// RUN: gecko-opt %S/../Inputs/fused_attention.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{chip=gfx90a batch-tile-size=2 token-tile-size=8 attention-query-tile=5 attention-key-tile=3 block-size=64 fuse-attention=true})" -o %t.90a.mlir
// RUN: %extract_gpu_object %t.90a.mlir %t.d/90a | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/90a.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.90a.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX90A < %t.90a.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH < %t.90a.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.90a.elf

// HOST-NOT:  {{scf\.forall|linalg\.|gecko\.}}
// HOST-COUNT-5: gpu.launch_func @mega_kernel
// HOST-COUNT-5: gpu.launch_func @decode_kernel
// HOST-NOT:  gpu.launch_func

// COUNT: 10 objects

// ELF:    FUNC GLOBAL PROTECTED {{.*}} mega_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} mega_kernel.kd
// ELF:    amdhsa.kernels:
// GFX942: amdhsa.target: amdgcn-amd-amdhsa--gfx942
// GFX90A: amdhsa.target: amdgcn-amd-amdhsa--gfx90a
// ELF:    amdhsa.version:
// ELF-NEXT: - 1
// ELF-NEXT: - 2

// ASM: v_sqrt_f32
// ASM: s_barrier

// EACH-COUNT-10: Machine: EM_AMDGPU
// EACH-NOT:      Machine:

// SPILL-COUNT-10: .vgpr_spill_count: 0
// SPILL-NOT:      .vgpr_spill_count:
