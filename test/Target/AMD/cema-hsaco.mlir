// cema_coeffs(_grad) and gecko.cema(_grad) (Inputs/cema.mlir) through gecko-to-rocdl: for gfx942 (default) and gfx90a (other
// tiles, 64 work-items) every kernel is a valid AMDGPU ELF code object
// (format=bin) with its kernel symbol and descriptor, code object v5
// metadata, no spills; the code reads the work-item id and synchronises.
// VGPR counts: docs/targets/gpu.md.
//
// RUN: gecko-opt %S/../Inputs/cema.mlir --pass-pipeline="builtin.module(gecko-to-rocdl)" -o %t.942.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.942.mlir %t.d/942 | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/942.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.942.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX942 < %t.942.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH < %t.942.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.942.elf
// RUN: for f in %t.d/942.*; do %llvm_objdump -d $f; done | FileCheck %s --check-prefix=ASM
// RUN: gecko-opt %S/../Inputs/cema.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{chip=gfx90a batch-tile-size=2 token-tile-size=8 tsn-chunk-size=5 cema-chunk-size=7 cema-channel-block=6 attention-query-tile=5 attention-key-tile=3 block-size=64})" -o %t.90a.mlir
// RUN: %extract_gpu_object %t.90a.mlir %t.d/90a | FileCheck %s --check-prefix=COUNT
// RUN: for f in %t.d/90a.*; do %llvm_readelf --file-header --symbols --notes $f; done > %t.90a.elf
// RUN: FileCheck %s --check-prefixes=ELF,GFX90A < %t.90a.elf --implicit-check-not="spill_count: {{[1-9]}}"
// RUN: FileCheck %s --check-prefix=EACH < %t.90a.elf
// RUN: FileCheck %s --check-prefix=SPILL < %t.90a.elf

// COUNT: 35 objects

// ELF:    FUNC GLOBAL PROTECTED {{.*}} coeffs_kernel{{$}}
// ELF:    OBJECT GLOBAL DEFAULT {{.*}} coeffs_kernel.kd
// ELF:    amdhsa.kernels:
// GFX942: amdhsa.target: amdgcn-amd-amdhsa--gfx942
// GFX90A: amdhsa.target: amdgcn-amd-amdhsa--gfx90a
// ELF:    amdhsa.version:
// ELF-NEXT: - 1
// ELF-NEXT: - 2

// ASM: s_barrier

// EACH-COUNT-35: Machine: EM_AMDGPU
// EACH-NOT:      Machine:

// SPILL-COUNT-35: .vgpr_spill_count: 0
// SPILL-NOT:      .vgpr_spill_count:
