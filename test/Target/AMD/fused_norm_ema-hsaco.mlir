// The MEGA input chain (Inputs/fused_norm_ema.mlir) through gecko-to-rocdl
// with fuse-norm-ema=true: for gfx942 (default) and gfx90a (other tiles, 64
// work-items) every kernel of the gecko.fused_norm_ema lowering is a valid
// AMDGPU ELF code object with its kernel symbol and descriptor, code object
// v5 metadata and no spills. VGPR counts: docs/passes/fusion.md.
//
// RUN: gecko-opt %S/../Inputs/fused_norm_ema.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{fuse-norm-ema=true})" -o %t.942.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.942.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.942.mlir %t.d/942 | FileCheck %s --check-prefix=COUNT942
// RUN: for f in %t.d/942.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.942.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX942 < %t.942.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH942 < %t.942.elf
// RUN: for f in %t.d/942.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=ASM
// RUN: gecko-opt %S/../Inputs/fused_norm_ema.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{chip=gfx90a batch-tile-size=2 token-tile-size=8 tsn-chunk-size=5 cema-chunk-size=7 cema-channel-block=6 block-size=64 fuse-norm-ema=true})" -o %t.90a.mlir
// RUN: %extract_gpu_object %t.90a.mlir %t.d/90a | FileCheck %s --check-prefix=COUNT90A
// RUN: for f in %t.d/90a.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.90a.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX90A < %t.90a.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH90A < %t.90a.elf

// HOST-NOT:  {{scf\.forall|linalg\.|gecko\.}}
// HOST:      gpu.launch_func @chain_kernel
// HOST:      gpu.launch_func @decode_kernel

// COUNT942: 36 objects
// COUNT90A: 38 objects

// ELF:    FUNC GLOBAL PROTECTED {{.*}} chain_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} chain_kernel.kd
// ELF:    amdhsa.kernels:
// GFX942: amdhsa.target: amdgcn-amd-amdhsa--gfx942
// GFX90A: amdhsa.target: amdgcn-amd-amdhsa--gfx90a
// ELF:    amdhsa.version:
// ELF-NEXT: - 1
// ELF-NEXT: - 2

// ASM: v_sqrt_f32
// ASM: s_barrier

// EACH942-COUNT-36: Machine: EM_AMDGPU
// EACH942-NOT:      Machine:
// EACH90A-COUNT-38: Machine: EM_AMDGPU
// EACH90A-NOT:      Machine:
