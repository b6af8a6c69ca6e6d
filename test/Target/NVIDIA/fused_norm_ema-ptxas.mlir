// REQUIRES: ptxas
// The MEGA input chain (Inputs/fused_norm_ema.mlir: timestep_norm -> cema ->
// rms_norm with carried state and bos, and a bf16 decode step) through
// gecko-to-nvvm with fuse-norm-ema=true: both chains become one
// gecko.fused_norm_ema, and every kernel of its lowering (the TSN local scan,
// the TSN carry, the per-chunk EMA end states, the EMA carry, the fused
// tsn -> ce -> RMS tile) assembles with ptxas for sm_90 (+ptx80, default
// tiles, 128 threads) and sm_80 (+ptx70, other tiles, 64 threads) without
// spills; nothing gecko or linalg is left on the host.
// Register counts and shared memory: docs/passes/fusion.md.
//
// RUN: gecko-opt %S/../Inputs/fused_norm_ema.mlir --gecko-fuse-norm-ema | FileCheck %s --check-prefix=FUSED
// RUN: gecko-opt %S/../Inputs/fused_norm_ema.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{format=isa fuse-norm-ema=true})" -o %t.sm90.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.sm90.mlir
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %extract_gpu_object %t.sm90.mlir %t.d/sm90 | FileCheck %s --check-prefix=COUNT90
// RUN: cat %t.d/sm90.* | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.d/sm90.*; do %ptxas -arch=sm_90 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS90 --implicit-check-not=error --implicit-check-not="{{[1-9][0-9]*}} bytes spill"
// RUN: gecko-opt %S/../Inputs/fused_norm_ema.mlir --pass-pipeline="builtin.module(gecko-to-nvvm{chip=sm_80 features=+ptx70 format=isa batch-tile-size=2 token-tile-size=8 tsn-chunk-size=5 cema-chunk-size=7 cema-channel-block=6 block-size=64 fuse-norm-ema=true})" -o %t.sm80.mlir
// RUN: %extract_gpu_object %t.sm80.mlir %t.d/sm80 | FileCheck %s --check-prefix=COUNT80
// RUN: for f in %t.d/sm80.*; do %ptxas -arch=sm_80 -v $f -o %t.d/cubin || exit 1; done 2>&1 | FileCheck %s --check-prefix=PTXAS80 --implicit-check-not=error --implicit-check-not="{{[1-9][0-9]*}} bytes spill"

// FUSED-COUNT-2: gecko.fused_norm_ema
// FUSED-NOT:     gecko.rms_norm

// HOST-NOT:  {{scf\.forall|linalg\.|gecko\.|unrealized_conversion_cast|llvm.call @malloc}}
// HOST:      llvm.func @chain(
// HOST:      llvm.call @mgpuMemAlloc
// HOST:      gpu.launch_func @chain_kernel
// HOST:      llvm.func @decode(
// HOST:      gpu.launch_func @decode_kernel

// COUNT90: 36 objects
// COUNT80: 38 objects

// The fused tile normalises on the device (rsqrt of the TSN and RMS stats).
// PTX:         rsqrt.approx.f32
// PTX-NOT:     __nv_

// PTXAS90-COUNT-36: Used {{[0-9]+}} registers, used 1 barriers
// PTXAS80-COUNT-38: Used {{[0-9]+}} registers, used 1 barriers
