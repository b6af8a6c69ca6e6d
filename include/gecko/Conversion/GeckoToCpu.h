//===- GeckoToCpu.h - The gecko-to-cpu pipeline -------------------*- C++
//-*-===//
//
// Gecko IR on tensors to the LLVM dialect with OpenMP: the gecko ops become
// tiled scf.forall + linalg (gecko-convert-to-linalg), are bufferized, and
// the foralls run as OpenMP parallel loops. Entry functions that should be
// callable from C carry `llvm.emit_c_interface`.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_GECKOTOCPU_H
#define GECKO_CONVERSION_GECKOTOCPU_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::gecko {

struct GeckoToCpuOptions : public PassPipelineOptions<GeckoToCpuOptions> {
  PassOptions::Option<int64_t> batchTileSize{
      *this, "batch-tile-size",
      llvm::cl::desc("Rows of the batch dimension per scf.forall tile"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> tokenTileSize{
      *this, "token-tile-size", llvm::cl::desc("Tokens per scf.forall tile"),
      llvm::cl::init(16)};
};

/// Appends the gecko-to-cpu passes to `pm` (a builtin.module manager).
void buildGeckoToCpuPipeline(OpPassManager &pm,
                             const GeckoToCpuOptions &options);

/// Registers `gecko-to-cpu` for textual pipelines and -gecko-to-cpu.
void registerGeckoToCpuPipeline();

} // namespace mlir::gecko

#endif // GECKO_CONVERSION_GECKOTOCPU_H
