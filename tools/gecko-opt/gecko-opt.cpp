//===- gecko-opt.cpp - The mlir-opt of the Gecko compiler -----------------===//
//
// Parses, verifies, transforms and prints Gecko IR. Registers the gecko
// dialect next to every upstream dialect, pass, extension and LLVM IR
// translation, so that any upstream pipeline can run on gecko IR.
//
//===----------------------------------------------------------------------===//

#include "gecko/Autodiff/Passes.h"
#include "gecko/Conversion/GeckoToCpu.h"
#include "gecko/Conversion/Passes.h"
#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Fusion/Passes.h"
#include "gecko/Target/AMD/GeckoToRocdl.h"
#include "gecko/Target/GPU/Passes.h"
#include "gecko/Target/NVIDIA/GeckoToNvvm.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::gecko::registerGeckoAutodiffPasses();
  mlir::gecko::registerGeckoConversionPasses();
  mlir::gecko::registerGeckoFusionPasses();
  mlir::gecko::registerGeckoToCpuPipeline();
  mlir::gecko::registerGeckoGpuPasses();
  mlir::gecko::registerGeckoToNvvmPipeline();
  mlir::gecko::registerGeckoToRocdlPipeline();

  mlir::DialectRegistry registry;
  registry.insert<mlir::gecko::GeckoDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Gecko optimizer driver\n", registry));
}
