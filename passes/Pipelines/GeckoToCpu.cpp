//===- GeckoToCpu.cpp - The gecko-to-cpu pipeline -------------------------===//
//
// The order follows shared/notes/mlir22-recipes.md §1: scf-to-cf must run
// after finalize-memref-to-llvm (the OpenMP loops hold memref.alloca_scope),
// lower-affine after expand-strided-metadata (both leave affine.apply), and
// convert-ub-to-llvm for the ub.poison the vector/arith lowerings leave.
// Buffers allocated per tile are freed by the ownership-based deallocation.
//
//===----------------------------------------------------------------------===//

#include "gecko/Conversion/GeckoToCpu.h"
#include "gecko/Conversion/Passes.h"
#include "gecko/Fusion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::gecko {

void buildGeckoToCpuPipeline(OpPassManager &pm,
                             const GeckoToCpuOptions &options) {
  if (options.fuseAttention) {
    pm.addPass(createGeckoFuseAttentionPrologue());
    pm.addPass(createGeckoFuseAttentionEpilogue());
  }
  if (options.fuseNormEma)
    pm.addPass(createGeckoFuseNormEma());
  GeckoConvertToLinalgOptions tiling;
  tiling.batchTileSize = options.batchTileSize;
  tiling.tokenTileSize = options.tokenTileSize;
  tiling.tsnChunkSize = options.tsnChunkSize;
  tiling.cemaChunkSize = options.cemaChunkSize;
  tiling.cemaChannelBlock = options.cemaChannelBlock;
  tiling.attentionQueryTile = options.attentionQueryTile;
  tiling.attentionKeyTile = options.attentionKeyTile;
  tiling.linearColumnTile = options.linearColumnTile;
  pm.addPass(createGeckoConvertToLinalg(tiling));
  pm.addPass(createCanonicalizerPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);
  // The deallocation leaves bufferization.clone for returned arguments.
  pm.addPass(createConvertBufferizationToMemRefPass());

  if (options.vectorize) {
    GeckoCpuVectorizeOptions vector;
    vector.innerTile = options.vectorInnerTile;
    vector.contractionMTile = options.contractionMTile;
    vector.contractionNTile = options.contractionNTile;
    pm.addNestedPass<func::FuncOp>(createGeckoVectorizeCpuPass(vector));
  }
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // What the vector stage left (and nothing when it is off).
  ConvertVectorToLLVMPassOptions vectorToLlvm;
  vectorToLlvm.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLlvm));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertComplexToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void registerGeckoToCpuPipeline() {
  PassPipelineRegistration<GeckoToCpuOptions>(
      "gecko-to-cpu",
      "Lower gecko IR on tensors to the LLVM dialect with OpenMP loops",
      buildGeckoToCpuPipeline);
  registerGeckoVectorizeCpuPass();
}

} // namespace mlir::gecko
