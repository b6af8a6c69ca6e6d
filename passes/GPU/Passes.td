//===- Passes.td - Vendor-neutral gecko GPU passes ---------*- tablegen -*-===//
//
// Passes that turn the tiled, bufferized output of gecko-convert-to-linalg
// into gpu.launch kernels. Nothing here knows a GPU vendor: the vendor
// pipelines (lib/Target/NVIDIA, lib/Target/AMD) run these first.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_GPU_PASSES_TD
#define GECKO_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def GeckoMapForallToGpu : Pass<"gecko-map-forall-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Map the tile scf.forall loops to GPU blocks and their "
                "linalg work to GPU threads";
  let description = [{
    Runs on bufferized IR. Every outermost `scf.forall` of a function (the
    (batch, head, token/chunk/channel-block) tiles of a gecko lowering)
    becomes one `gpu.launch` whose grid is the forall's iteration space, one
    tile per block. Inside a tile:

    * every `linalg` op (`generic`, `fill`, `copy`, `matmul`, ...; also
      inside sequential `scf.for` loops of the tile) is distributed over the
      threads of the block: its parallel iteration space is linearised and
      walked block-stride (`for i = tid; i < N; i += blockDim`), its
      reduction loops run inside the thread with the outputs carried in
      registers; a `gpu.barrier` follows each op;
    * `memref.copy` becomes `linalg.copy` (and is distributed the same way);
    * per-tile buffers (`memref.alloc`/`alloca` in the tile) become
      workgroup memory: a module-level `memref.global` in
      `#gpu.address_space<workgroup>` sized by the constant upper bound of
      each dynamic dimension (e.g. the `affine.min` of a partial tile),
      viewed with `memref.subview`, smallest first while the kernel's
      total stays within `workgroup-memory-budget` bytes; a buffer that
      does not fit becomes the block's slice of a global scratch
      `memref.alloc` (one slice per block, allocated and freed by the host
      around the launch), so shared memory never grows with the sequence.

    The mapping itself is done by the transform dialect
    (`transform.gpu.map_forall_to_blocks generate_gpu_launch` and
    `transform.gpu.map_nested_forall_to_threads`), applied from C++.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::transform::TransformDialect",
  ];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Threads per block (gpu.launch blockDim.x)">,
    Option<"workgroupMemoryBudget", "workgroup-memory-budget", "int64_t",
           /*default=*/"49152",
           "Bytes of workgroup memory one kernel's tile buffers may take "
           "(smallest first); the others get a per-block slice of a global "
           "scratch buffer allocated by the host">,
  ];
}

def GeckoHostBuffersToDevice
    : Pass<"gecko-host-buffers-to-device", "::mlir::ModuleOp"> {
  let summary = "Put the host buffers of GPU-launching functions in managed "
                "memory";
  let description = [{
    Runs after `gpu-kernel-outlining`, on the host functions that contain a
    `gpu.launch_func`:

    * `memref.alloc` (default memory space: results, buffers between
      kernels, host leftovers) becomes `gpu.alloc host_shared`; the
      runtime's `mgpuMemAlloc(size, stream, isHostShared = true)` allocates
      managed memory (cuMemAllocManaged / hipMallocManaged), which the host
      code and every kernel can read and write;
    * `memref.dealloc` becomes `gpu.dealloc` (in the async form that
      gpu-to-llvm lowers: wait, dealloc, wait);
    * with `copy-arguments` (default), every memref argument is copied on
      the host into a fresh managed buffer at entry and the function uses
      that copy (freed at every return unless returned), so callers may pass
      plain host memory. Returned buffers are managed memory: the caller
      frees them with `mgpuMemFree`.

    A host stack buffer (`memref.alloca`) passed to a kernel is an error.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
  ];
  let options = [
    Option<"copyArguments", "copy-arguments", "bool", /*default=*/"true",
           "Copy memref arguments into managed memory at function entry">,
  ];
}

def GeckoTestTileContractions
    : Pass<"gecko-test-tile-contractions", "::mlir::ModuleOp"> {
  let summary = "Test only: the matrix-instruction driver with an emulated "
                "instruction that runs on the CPU";
  let description = [{
    Runs the driver of the tensor-core / MFMA path
    (`rewriteTileContractions`, include/gecko/Target/GPU/TileContractions.h)
    with an emulated 4x4x4 instruction on subgroups of 2 lanes: lane `l`
    holds rows 2l, 2l+1 of A and C and all of B, and the instruction is a
    plain f32 multiply-add per lane, so the rewritten IR can be lowered for
    the host (scf-forall-to-for) and its tiling, edge padding, masking and
    operand rounding checked numerically against the original contraction.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"4",
           "Threads of the emitted forall (a multiple of 2)">,
  ];
}

#endif // GECKO_GPU_PASSES_TD
