//===- Passes.h - Vendor-neutral gecko GPU passes -----------------*- C++
//-*-===//
//
// Declarations of the passes in passes/GPU/Passes.td, and the vendor-neutral
// halves of the GPU pipelines: everything before a target is attached
// (tiling, bufferization, block/thread mapping, kernel outlining) and the
// host-side lowering after it. The vendor pipelines (gecko-to-nvvm,
// gecko-to-rocdl) put their device lowering in between.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TARGET_GPU_PASSES_H
#define GECKO_TARGET_GPU_PASSES_H

#include "mlir/Pass/Pass.h"

#include <functional>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::gecko {

#define GEN_PASS_DECL
#include "GeckoGpuPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "GeckoGpuPasses.h.inc"

/// Knobs shared by every GPU pipeline.
struct GpuCommonConfig {
  int64_t batchTileSize = 1;
  int64_t tokenTileSize = 16;
  /// gecko-convert-to-linalg's per-family tiles (0 / defaults: its own).
  int64_t tsnChunkSize = 0;
  int64_t cemaChunkSize = 16;
  int64_t cemaChannelBlock = 16;
  int64_t attentionQueryTile = 16;
  int64_t attentionKeyTile = 8;
  /// gecko-fuse-attention-prologue / -epilogue before the tiling.
  bool fuseAttention = false;
  /// gecko-fuse-norm-ema before the tiling.
  bool fuseNormEma = false;
  int64_t blockSize = 128;
  /// gecko-host-buffers-to-device's copy-arguments.
  bool copyArguments = true;
  /// Vendor passes on the bufferized tiles, run right before
  /// gecko-map-forall-to-gpu (the tensor-core / MFMA rewrites).
  std::function<void(OpPassManager &)> beforeThreadMapping;
};

/// gecko IR on tensors -> gpu.module kernels + host code with gpu.launch_func,
/// the device code lowered down to scf/cf/arith/memref/math (no affine, no
/// strided metadata), ready for a vendor's *-attach-target and
/// convert-gpu-to-*.
void buildGeckoGpuPreparePipeline(OpPassManager &pm,
                                  const GpuCommonConfig &config);

/// The host side after the device lowering: gpu-to-llvm and friends. The
/// vendor pipeline runs gpu-module-to-binary afterwards.
void buildGeckoGpuHostPipeline(OpPassManager &pm);

} // namespace mlir::gecko

#endif // GECKO_TARGET_GPU_PASSES_H
