//===- GpuPipeline.cpp - The vendor-neutral halves of the GPU pipelines ---===//
//
// Order (shared/notes/mlir22-recipes.md §3): the tile foralls are mapped on
// bufferized IR; symbol-dce must follow kernel outlining (otherwise the host
// keeps a copy of the workgroup memref.globals, which gpu-to-llvm cannot
// lower); lower-affine after expand-strided-metadata (both leave
// affine.apply).
//
//===----------------------------------------------------------------------===//

#include "gecko/Conversion/Passes.h"
#include "gecko/Fusion/Passes.h"
#include "gecko/Target/GPU/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::gecko {

void buildGeckoGpuPreparePipeline(OpPassManager &pm,
                                  const GpuCommonConfig &config) {
  if (config.fuseAttention) {
    pm.addPass(createGeckoFuseAttentionPrologue());
    pm.addPass(createGeckoFuseAttentionEpilogue());
  }
  if (config.fuseNormEma)
    pm.addPass(createGeckoFuseNormEma());
  GeckoConvertToLinalgOptions tiling;
  tiling.batchTileSize = config.batchTileSize;
  tiling.tokenTileSize = config.tokenTileSize;
  tiling.tsnChunkSize = config.tsnChunkSize;
  tiling.cemaChunkSize = config.cemaChunkSize;
  tiling.cemaChannelBlock = config.cemaChannelBlock;
  tiling.attentionQueryTile = config.attentionQueryTile;
  tiling.attentionKeyTile = config.attentionKeyTile;
  pm.addPass(createGeckoConvertToLinalg(tiling));
  pm.addPass(createCanonicalizerPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());

  if (config.beforeThreadMapping)
    config.beforeThreadMapping(pm);
  GeckoMapForallToGpuOptions mapping;
  mapping.blockSize = config.blockSize;
  pm.addPass(createGeckoMapForallToGpu(mapping));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createSymbolDCEPass());
  // Host buffers -> managed memory (the kernels get no host pointers).
  GeckoHostBuffersToDeviceOptions host;
  host.copyArguments = config.copyArguments;
  pm.addPass(createGeckoHostBuffersToDevice(host));

  // Whatever linalg is left runs on the host (outside every tile forall).
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createCanonicalizerPass());
}

void buildGeckoGpuHostPipeline(OpPassManager &pm) {
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

} // namespace mlir::gecko
