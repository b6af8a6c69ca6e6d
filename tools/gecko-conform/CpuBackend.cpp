//===- CpuBackend.cpp - Golden cases through the CPU JIT ------------------===//
//
// For each supported case, a func.func @kernel holding one gecko op is built
// with the case's static shapes and attributes, compiled by CpuJit (the
// gecko-to-cpu pipeline) and called on the golden inputs rounded to f32.
// Only forward outputs (out.*) are recorded: the gradients are not lowered
// yet, and the driver reports them as missing.
//
// GECKO_CPU_BATCH_TILE / GECKO_CPU_TOKEN_TILE override the forall tile sizes
// (tests use them to run partial tiles against the golden data).
//
//===----------------------------------------------------------------------===//

#include "CpuBackend.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Execution/CpuJit.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/Twine.h"

#include <cstdlib>

using namespace llvm;
using gecko::exec::HostTensor;
using gecko::exec::JitArgument;
using gecko::ref::Tensor;

namespace gecko::conform {

namespace {

Error failure(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message.str());
}

HostTensor toHost(const Tensor &tensor) {
  return {tensor.shape,
          std::vector<float>(tensor.data.begin(), tensor.data.end())};
}

Tensor fromHost(const HostTensor &tensor) {
  return Tensor(tensor.shape,
                std::vector<double>(tensor.data.begin(), tensor.data.end()));
}

mlir::RankedTensorType f32TensorType(mlir::OpBuilder &b, const Tensor &t) {
  return mlir::RankedTensorType::get(t.shape, b.getF32Type());
}

/// One gecko op in a function: its inputs (golden tensors and integer
/// scalars, in argument order) and the output keys of its results.
struct Kernel {
  std::vector<const Tensor *> tensors;
  std::vector<std::string> outputKeys;
  /// Builds the op from the entry block's arguments; returns its results.
  std::function<std::vector<mlir::Value>(mlir::OpBuilder &, mlir::Location,
                                         mlir::ValueRange)>
      build;
  /// Appended after the tensor arguments (rope's start), as i64.
  std::vector<int64_t> scalars;
};

Expected<Kernel> groupNormKernel(const GoldenCase &c, bool layerNorm) {
  auto x = c.require("in.x");
  if (!x)
    return x.takeError();
  auto groups = c.metaInt("num_groups");
  if (!groups)
    return groups.takeError();
  auto eps = c.metaDouble("eps");
  if (!eps)
    return eps.takeError();
  const Tensor *weight = c.find("param.weight");
  const Tensor *bias = layerNorm ? c.find("param.bias") : nullptr;
  if ((*x)->rank() < 1 || *groups < 1 || (*x)->dim(-1) % *groups != 0)
    return failure("num_groups " + Twine(*groups) +
                   " does not divide the last dimension of in.x");

  Kernel kernel;
  kernel.tensors = {*x};
  if (weight)
    kernel.tensors.push_back(weight);
  if (bias)
    kernel.tensors.push_back(bias);
  kernel.outputKeys = {"out.y"};
  int64_t numGroups = *groups;
  double epsilon = *eps;
  kernel.build = [=](mlir::OpBuilder &b, mlir::Location loc,
                     mlir::ValueRange args) -> std::vector<mlir::Value> {
    mlir::Value w = weight ? args[1] : mlir::Value();
    mlir::Value bi = bias ? args[weight ? 2 : 1] : mlir::Value();
    auto groupsAttr = b.getI64IntegerAttr(numGroups);
    auto epsAttr = b.getF64FloatAttr(epsilon);
    if (layerNorm)
      return {mlir::gecko::LayerNormOp::create(
          b, loc, args[0].getType(), args[0], w, bi, groupsAttr, epsAttr)};
    return {mlir::gecko::RmsNormOp::create(b, loc, args[0].getType(), args[0],
                                           w, groupsAttr, epsAttr)};
  };
  return kernel;
}

Expected<Kernel> zSplitKernel(const GoldenCase &c) {
  auto z = c.require("in.z");
  auto gamma = c.require("param.gamma");
  auto beta = c.require("param.beta");
  auto heads = c.metaInt("num_heads");
  auto eps = c.metaDouble("eps");
  if (Error err =
          joinErrors(joinErrors(joinErrors(z.takeError(), gamma.takeError()),
                                beta.takeError()),
                     joinErrors(heads.takeError(), eps.takeError())))
    return std::move(err);
  if ((*z)->rank() != 3 || *heads < 1 || (*z)->dim(2) % *heads != 0)
    return failure("in.z must be (B, L, Z) with num_heads dividing Z");

  Kernel kernel;
  kernel.tensors = {*z, *gamma, *beta};
  kernel.outputKeys = {"out.q", "out.k", "out.aq", "out.ak"};
  int64_t numHeads = *heads;
  double epsilon = *eps;
  kernel.build = [=](mlir::OpBuilder &b, mlir::Location loc,
                     mlir::ValueRange args) -> std::vector<mlir::Value> {
    mlir::Type type = args[0].getType();
    auto op = mlir::gecko::ZSplitOp::create(
        b, loc, mlir::TypeRange{type, type, type, type}, args[0], args[1],
        args[2], b.getI64IntegerAttr(numHeads), b.getF64FloatAttr(epsilon));
    return {op.getQ(), op.getK(), op.getAq(), op.getAk()};
  };
  return kernel;
}

Expected<Kernel> ropeKernel(const GoldenCase &c) {
  auto x = c.require("in.x");
  auto start = c.metaInt("start");
  auto ropeHeads = c.metaInt("n_rope_heads");
  auto base = c.metaDouble("base");
  if (Error err =
          joinErrors(joinErrors(x.takeError(), start.takeError()),
                     joinErrors(ropeHeads.takeError(), base.takeError())))
    return std::move(err);
  if ((*x)->rank() != 4 || (*x)->dim(3) % 2 != 0)
    return failure("in.x must be (B, L, H, d) with an even d");
  if (*start < 0 || *ropeHeads < 0 || *ropeHeads > (*x)->dim(2) || !(*base > 0))
    return failure("start, n_rope_heads or base out of range");

  Kernel kernel;
  kernel.tensors = {*x};
  kernel.scalars = {*start};
  kernel.outputKeys = {"out.y"};
  int64_t numRopeHeads = *ropeHeads;
  double ropeBase = *base;
  kernel.build = [=](mlir::OpBuilder &b, mlir::Location loc,
                     mlir::ValueRange args) -> std::vector<mlir::Value> {
    return {mlir::gecko::RopeOp::create(b, loc, args[0].getType(), args[0],
                                        args[1], b.getF64FloatAttr(ropeBase),
                                        b.getI64IntegerAttr(numRopeHeads))};
  };
  return kernel;
}

/// Reads a positive tile size from the environment variable `name` into
/// `tile` (left unchanged when unset).
Error tileFromEnvironment(const char *name, int64_t &tile) {
  const char *text = std::getenv(name);
  if (!text)
    return Error::success();
  int64_t value = 0;
  if (StringRef(text).getAsInteger(10, value) || value < 1)
    return failure(Twine(name) + " must be a positive integer, got '" + text +
                   "'");
  tile = value;
  return Error::success();
}

/// Builds, verifies, compiles and runs `kernel`; records its outputs.
Error runKernel(const Kernel &kernel, CaseResults &results) {
  exec::CpuJitOptions options;
  if (Error err =
          tileFromEnvironment("GECKO_CPU_BATCH_TILE", options.batchTileSize))
    return err;
  if (Error err =
          tileFromEnvironment("GECKO_CPU_TOKEN_TILE", options.tokenTileSize))
    return err;

  mlir::MLIRContext context;
  context.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect>();
  mlir::OpBuilder b(&context);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);

  std::vector<mlir::Type> argumentTypes;
  for (const Tensor *t : kernel.tensors)
    argumentTypes.push_back(f32TensorType(b, *t));
  for (size_t i = 0; i < kernel.scalars.size(); ++i)
    argumentTypes.push_back(b.getI64Type());

  b.setInsertionPointToEnd(module->getBody());
  auto func = mlir::func::FuncOp::create(b, loc, "kernel",
                                         b.getFunctionType(argumentTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  mlir::Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  std::vector<mlir::Value> outputs =
      kernel.build(b, loc, entry->getArguments());
  mlir::func::ReturnOp::create(b, loc, outputs);
  std::vector<mlir::Type> resultTypes;
  for (mlir::Value v : outputs)
    resultTypes.push_back(v.getType());
  func.setFunctionType(b.getFunctionType(argumentTypes, resultTypes));

  if (mlir::failed(mlir::verify(*module)))
    return failure("the gecko IR built for this case does not verify");

  auto jit = exec::CpuJit::compile(*module, options);
  if (!jit)
    return jit.takeError();
  std::vector<HostTensor> inputs;
  inputs.reserve(kernel.tensors.size());
  for (const Tensor *t : kernel.tensors)
    inputs.push_back(toHost(*t));
  std::vector<JitArgument> arguments;
  for (const HostTensor &input : inputs)
    arguments.push_back(JitArgument::ofTensor(input));
  for (int64_t scalar : kernel.scalars)
    arguments.push_back(JitArgument::ofScalar(scalar));
  auto values = (*jit)->invoke("kernel", arguments);
  if (!values)
    return values.takeError();
  for (size_t i = 0; i < values->size(); ++i)
    results.add(kernel.outputKeys[i], fromHost((*values)[i]));
  return Error::success();
}

Expected<Kernel> makeKernel(const GoldenCase &golden) {
  if (golden.op == "rmsnorm" || golden.op == "layernorm")
    return groupNormKernel(golden, golden.op == "layernorm");
  if (golden.op == "zsplit")
    return zSplitKernel(golden);
  if (golden.op == "rope")
    return ropeKernel(golden);
  return failure("op '" + golden.op +
                 "' is not supported by the cpu backend yet");
}

class CpuBackend : public Backend {
public:
  StringRef name() const override { return "cpu"; }

  Error run(const GoldenCase &golden, CaseResults &results) override {
    Expected<Kernel> kernel = makeKernel(golden);
    if (!kernel)
      return kernel.takeError();
    return runKernel(*kernel, results);
  }
};

} // namespace

std::unique_ptr<Backend> createCpuBackend() {
  return std::make_unique<CpuBackend>();
}

} // namespace gecko::conform
