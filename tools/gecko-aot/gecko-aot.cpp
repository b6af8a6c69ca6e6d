//===- gecko-aot.cpp - Ahead-of-time compiler for gecko IR ----------------===//
//
// gecko-aot in.mlir -o out.so [--emit=so|obj|llvm] [tile options]
//
// Compiles gecko IR on tensors for the host CPU without the JIT (see
// gecko/Execution/AotCompiler.h). Parse and verification errors name the
// file, line and column; pipeline errors carry the locations of the ops
// that failed. The output is written atomically.
//
//===----------------------------------------------------------------------===//

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Execution/AotCompiler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using gecko::exec::AotEmit;

namespace {

cl::OptionCategory aotCategory("gecko-aot options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input .mlir>"),
                               cl::init("-"), cl::cat(aotCategory));
cl::opt<std::string> outputFile("o", cl::desc("Output file (required)"),
                                cl::value_desc("path"), cl::Required,
                                cl::cat(aotCategory));
cl::opt<AotEmit> emitKind(
    "emit", cl::desc("What to write (default: so)"),
    cl::values(clEnumValN(AotEmit::SharedLibrary, "so",
                          "a shared library exporting _mlir_ciface_<name>"),
               clEnumValN(AotEmit::Object, "obj",
                          "a position-independent object file"),
               clEnumValN(AotEmit::LLVMIR, "llvm", "optimised LLVM IR (.ll)")),
    cl::init(AotEmit::SharedLibrary), cl::cat(aotCategory));
cl::opt<int64_t> batchTileSize(
    "batch-tile-size",
    cl::desc("Rows of the batch dimension per scf.forall tile (default 1)"),
    cl::init(1), cl::cat(aotCategory));
cl::opt<int64_t>
    tokenTileSize("token-tile-size",
                  cl::desc("Tokens per scf.forall tile (default 16)"),
                  cl::init(16), cl::cat(aotCategory));
cl::opt<int64_t> tsnChunkSize(
    "tsn-chunk-size",
    cl::desc("Time chunk of the timestep_norm scan (default 0: token tile)"),
    cl::init(0), cl::cat(aotCategory));
cl::opt<int64_t> cemaChunkSize("cema-chunk-size",
                               cl::desc("Time chunk of the cema scan "
                                        "(default 16)"),
                               cl::init(16), cl::cat(aotCategory));
cl::opt<int64_t> cemaChannelBlock("cema-channel-block",
                                  cl::desc("Channels per cema forall tile "
                                           "(default 16)"),
                                  cl::init(16), cl::cat(aotCategory));
cl::opt<int64_t> attentionQueryTile(
    "attention-query-tile",
    cl::desc("Queries per chunk_attention forall tile (default 16)"),
    cl::init(16), cl::cat(aotCategory));
cl::opt<int64_t>
    attentionKeyTile("attention-key-tile",
                     cl::desc("Keys per chunk_attention step (default 8)"),
                     cl::init(8), cl::cat(aotCategory));
cl::opt<int64_t> linearColumnTile(
    "linear-column-tile",
    cl::desc("Output columns per gecko.linear forall tile (default 32)"),
    cl::init(32), cl::cat(aotCategory));
cl::opt<bool> fuseNormEma("fuse-norm-ema",
                          cl::desc("Run gecko-fuse-norm-ema in gecko-to-cpu"),
                          cl::cat(aotCategory));
cl::opt<bool> fuseAttention(
    "fuse-attention",
    cl::desc("Run gecko-fuse-attention-prologue/-epilogue in gecko-to-cpu"),
    cl::cat(aotCategory));
cl::opt<bool> noVectorize("no-vectorize",
                          cl::desc("Skip the vector stage (scalar loops)"),
                          cl::cat(aotCategory));
cl::opt<int64_t>
    vectorInnerTile("vector-inner-tile",
                    cl::desc("Largest vector along the last loop of a "
                             "non-contraction op (default 512)"),
                    cl::init(512), cl::cat(aotCategory));
cl::opt<int64_t> contractionMTile(
    "contraction-m-tile",
    cl::desc("Rows of a contraction's register tile (default 8)"), cl::init(8),
    cl::cat(aotCategory));
cl::opt<int64_t> contractionNTile(
    "contraction-n-tile",
    cl::desc("Columns of a contraction's register tile (default 32)"),
    cl::init(32), cl::cat(aotCategory));
cl::opt<unsigned> optLevel("O",
                           cl::desc("LLVM optimisation level 0-3 "
                                    "(default 3)"),
                           cl::Prefix, cl::init(3), cl::cat(aotCategory));
cl::opt<std::string> targetCpu("mcpu",
                               cl::desc("Target CPU (default: the host's)"),
                               cl::value_desc("name"), cl::cat(aotCategory));
cl::opt<std::string>
    targetFeatures("mattr",
                   cl::desc("Target features, e.g. +avx512f,+fma (default: the "
                            "host's)"),
                   cl::value_desc("a1,+a2,-a3"), cl::cat(aotCategory));
cl::opt<bool> noCInterface(
    "no-c-interface",
    cl::desc("Do not add llvm.emit_c_interface to public functions (only "
             "functions that already carry it get _mlir_ciface_ wrappers)"),
    cl::cat(aotCategory));
cl::opt<bool> packedInterface(
    "packed-interface",
    cl::desc("Also export _gecko_packed_<name>(void **args) for every "
             "_mlir_ciface_<name> (docs/model/artifact.md)"),
    cl::cat(aotCategory));
cl::opt<std::string> linker(
    "linker", cl::desc("Linker driver for --emit=so (default clang++-22)"),
    cl::init("clang++-22"), cl::value_desc("program"), cl::cat(aotCategory));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "gecko-aot") << message << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(aotCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "gecko-aot: compile gecko IR ahead of time for the host CPU\n\n"
      "  gecko-aot in.mlir -o out.so [--emit=so|obj|llvm] [options]\n\n"
      "Lowers with the gecko-to-cpu pipeline, optimises for the host CPU\n"
      "(-O3, its features, PIC) and writes a shared library (linked against\n"
      "LLVM's libomp), an object file or LLVM IR. Every public function\n"
      "with a body is exported as _mlir_ciface_<name>, taking pointers to\n"
      "memref descriptors {allocated, aligned, offset, sizes[R],\n"
      "strides[R]}; the results come back through the first argument.\n"
      "Set OMP_NUM_THREADS to choose the number of threads at run time.\n");

  if (batchTileSize < 1 || tokenTileSize < 1 || tsnChunkSize < 0 ||
      cemaChunkSize < 1 || cemaChannelBlock < 1 || attentionQueryTile < 1 ||
      attentionKeyTile < 1 || linearColumnTile < 1 || vectorInnerTile < 1 ||
      contractionMTile < 1 || contractionNTile < 1)
    return fail("tile sizes must be positive");
  if (optLevel > 3)
    return fail("-O must be 0, 1, 2 or 3");

  mlir::DialectRegistry registry;
  registry.insert<mlir::gecko::GeckoDialect>();
  mlir::registerAllDialects(registry);
  mlir::MLIRContext context(registry);

  // Parse errors print as "file:line:col: error: ...".
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  std::string errorMessage;
  auto file = mlir::openInputFile(inputFile, &errorMessage);
  if (!file)
    return fail(errorMessage);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse '" + inputFile + "'");

  gecko::exec::AotOptions options;
  options.batchTileSize = batchTileSize;
  options.tokenTileSize = tokenTileSize;
  options.tsnChunkSize = tsnChunkSize;
  options.cemaChunkSize = cemaChunkSize;
  options.cemaChannelBlock = cemaChannelBlock;
  options.attentionQueryTile = attentionQueryTile;
  options.attentionKeyTile = attentionKeyTile;
  options.linearColumnTile = linearColumnTile;
  options.fuseNormEma = fuseNormEma;
  options.fuseAttention = fuseAttention;
  options.vectorize = !noVectorize;
  options.vectorInnerTile = vectorInnerTile;
  options.contractionMTile = contractionMTile;
  options.contractionNTile = contractionNTile;
  options.optLevel = optLevel;
  options.cpu = targetCpu;
  options.features = targetFeatures;
  options.emitCInterface = !noCInterface;
  options.emitPackedInterface = packedInterface;
  options.linker = linker;
  if (llvm::Error err = gecko::exec::compileAheadOfTime(*module, outputFile,
                                                        emitKind, options))
    return fail(llvm::toString(std::move(err)));
  return 0;
}
