// The row-wise ops (Inputs/rowwise.mlir) through gecko-to-rocdl: for gfx942
// (the default) and gfx90a, every kernel is a valid AMDGPU ELF code object
// (format=bin, linked with the build tree's rocm-toolkit) holding the
// kernel symbol and its descriptor, code object v5 (abi=500) metadata with
// workgroup (LDS) memory for the tile buffers, 128 work-items per group,
// no spills; the code reads the work-item id and synchronises with
// s_barrier.
//
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-rocdl)" -o %t.942.mlir
// RUN: %extract_gpu_object %t.942.mlir %t.942 | FileCheck %s --check-prefix=COUNT
// RUN: %llvm_readelf --file-header --symbols --notes %t.942.0 | FileCheck %s --check-prefixes=ELF,GFX942 -DKERNEL=rms_kernel
// RUN: %llvm_readelf --file-header --symbols --notes %t.942.1 | FileCheck %s --check-prefixes=ELF,GFX942 -DKERNEL=rms_bf16_kernel
// RUN: %llvm_readelf --file-header --symbols --notes %t.942.2 | FileCheck %s --check-prefixes=ELF,GFX942 -DKERNEL=ln_kernel
// RUN: %llvm_readelf --file-header --symbols --notes %t.942.4 | FileCheck %s --check-prefixes=ELF,GFX942 -DKERNEL=zsplit_kernel
// RUN: %llvm_readelf --file-header --symbols --notes %t.942.9 | FileCheck %s --check-prefixes=ELF,GFX942 -DKERNEL=rope_kernel
// RUN: %llvm_readelf --notes %t.942.0 | FileCheck %s --check-prefix=LDS
// RUN: %llvm_objdump -d %t.942.0 | FileCheck %s --check-prefix=ASM
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{chip=gfx90a format=bin})" -o %t.90a.mlir
// RUN: %extract_gpu_object %t.90a.mlir %t.90a | FileCheck %s --check-prefix=COUNT
// RUN: %llvm_readelf --file-header --symbols --notes %t.90a.0 | FileCheck %s --check-prefixes=ELF,GFX90A -DKERNEL=rms_kernel
// RUN: %llvm_readelf --file-header --symbols --notes %t.90a.9 | FileCheck %s --check-prefixes=ELF,GFX90A -DKERNEL=rope_kernel
// The assembly (format=isa) uses the work-item id.
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{format=isa})" -o %t.isa.mlir
// RUN: %extract_gpu_object %t.isa.mlir %t.isa | FileCheck %s --check-prefix=COUNT
// RUN: FileCheck %s --check-prefix=ISA < %t.isa.0
// RUN: gecko-opt %S/../Inputs/rowwise.mlir --pass-pipeline="builtin.module(gecko-to-rocdl{format=isa})" --mlir-print-ir-before=gpu-module-to-binary -o /dev/null 2>&1 | FileCheck %s --check-prefix=ROCDL

// COUNT: 10 objects

// ELF:    Class: ELF64
// ELF:    Machine: EM_AMDGPU
// ELF-DAG: FUNC GLOBAL PROTECTED {{.*}} [[KERNEL]]{{$}}
// ELF-DAG: OBJECT GLOBAL DEFAULT {{.*}} [[KERNEL]].kd
// ELF:    NT_AMDGPU_METADATA
// ELF:    amdhsa.kernels:
// ELF:      .group_segment_fixed_size: {{[0-9]+}}
// ELF:      .max_flat_workgroup_size: 128
// ELF:      .name: [[KERNEL]]
// ELF:      .sgpr_spill_count: 0
// ELF:      .vgpr_spill_count: 0
// GFX942: amdhsa.target: amdgcn-amd-amdhsa--gfx942
// GFX90A: amdhsa.target: amdgcn-amd-amdhsa--gfx90a
// ELF:    amdhsa.version:
// ELF-NEXT: - 1
// ELF-NEXT: - 2

// LDS: .group_segment_fixed_size: {{[1-9][0-9]*}}

// ASM: ds_write
// ASM: s_barrier
// ASM: ds_read

// ISA: .amdgcn_target "amdgcn-amd-amdhsa--gfx942
// ISA: rms_kernel:
// ISA: s_barrier
// ISA: .amdhsa_group_segment_fixed_size {{[1-9][0-9]*}}
// ISA: .amdhsa_system_vgpr_workitem_id 0

// ROCDL-LABEL: gpu.module @rms_kernel
// ROCDL:         rocdl.workgroup.id.x
// ROCDL:         rocdl.workitem.id.x
// ROCDL:         llvm.store {{.*}} !llvm.ptr<3>
// ROCDL:         rocdl.barrier
