//===- gecko-build-model.cpp - Emit gecko IR of a Gecko block / model -----===//
//
// gecko-build-model --config=c.json [--block|--model] [--step=chunk|decode]
//   [--length=L] [--batch=B] [--start=S] [--stream] [--segments] [--train]
//   -o out.mlir
//
// Writes one func.func (@gecko_block or @gecko_model) built by the model
// builder (include/gecko/Model/ModelBuilder.h) for the given call shape.
// --step=chunk (default) is a call of --length tokens (default chunk_size);
// --step=decode is a one-token call continuing a stream after --start tokens
// (default chunk_size + 1). Invalid configs and calls are reported with the
// builder's error (naming the key) and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Model/ModelBuilder.h"
#include "gecko/Model/TrainStep.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

namespace {

cl::OptionCategory category("gecko-build-model options");
cl::opt<std::string> configPath("config", cl::desc("Model config (JSON)"),
                                cl::value_desc("path"), cl::Required,
                                cl::cat(category));
cl::opt<bool> buildBlock("block", cl::desc("Emit one GeckoBlock call"),
                         cl::cat(category));
cl::opt<bool> buildModel("model",
                         cl::desc("Emit one whole-model call (default)"),
                         cl::cat(category));
cl::opt<std::string> step("step", cl::desc("chunk (default) or decode"),
                          cl::init("chunk"), cl::cat(category));
cl::opt<int64_t> length("length", cl::desc("Tokens of the call"), cl::init(0),
                        cl::cat(category));
cl::opt<int64_t> batch("batch", cl::desc("Batch size (default 1)"), cl::init(1),
                       cl::cat(category));
cl::opt<int64_t> start("start",
                       cl::desc("Tokens already processed (default: 0 for "
                                "chunk, chunk_size + 1 for decode)"),
                       cl::init(-1), cl::cat(category));
cl::opt<bool> stream("stream",
                     cl::desc("Return the new state (implied by start > 0)"),
                     cl::cat(category));
cl::opt<bool> segments("segments",
                       cl::desc("Block: bos/segment inputs; model: "
                                "multi-document mode"),
                       cl::cat(category));
cl::opt<bool> train("train",
                    cl::desc("Emit train_step (L = --length, B = --batch), "
                             "optimizer_step and accumulate_grads"),
                    cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                cl::value_desc("path"), cl::init("-"),
                                cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "gecko-build-model") << message << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Gecko model builder\n");
  if (buildBlock && buildModel)
    return fail("--block and --model are exclusive");
  if (step != "chunk" && step != "decode")
    return fail("--step must be 'chunk' or 'decode', got '" + step + "'");

  Expected<gecko::ref::GeckoConfig> config =
      gecko::model::parseConfigFile(configPath);
  if (!config)
    return fail(toString(config.takeError()));

  gecko::model::CallSpec spec;
  spec.batch = batch;
  spec.segments = segments;
  if (step == "decode") {
    spec.length = length > 0 ? length : 1;
    spec.start = start >= 0 ? start : config->chunk_size + 1;
  } else {
    spec.length = length > 0 ? length : config->chunk_size;
    spec.start = start >= 0 ? start : 0;
  }
  spec.stream = stream || spec.start > 0 || step == "decode";

  mlir::MLIRContext context;
  context.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                      mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                      mlir::linalg::LinalgDialect,
                      mlir::complex::ComplexDialect>();
  mlir::OpBuilder builder(&context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(builder.getUnknownLoc());
  if (train) {
    gecko::model::TrainSpec trainSpec{spec.batch, spec.length, spec.segments};
    if (Error err =
            gecko::model::buildTrainFunctions(*module, *config, trainSpec))
      return fail(toString(std::move(err)));
  }
  Expected<mlir::func::FuncOp> func =
      train        ? Expected<mlir::func::FuncOp>(mlir::func::FuncOp())
      : buildBlock ? gecko::model::buildBlockFunction(*module, "gecko_block",
                                                      *config, spec)
                   : gecko::model::buildModelFunction(*module, "gecko_model",
                                                      *config, spec);
  if (!func)
    return fail(toString(func.takeError()));
  if (mlir::failed(mlir::verify(*module)))
    return fail("the built IR does not verify");

  std::string error;
  std::unique_ptr<ToolOutputFile> out =
      mlir::openOutputFile(outputFile, &error);
  if (!out)
    return fail(error);
  module->print(out->os());
  out->os() << "\n";
  out->keep();
  return 0;
}
