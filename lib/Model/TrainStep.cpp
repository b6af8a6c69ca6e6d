//===- TrainStep.cpp - gecko IR of the compiled training step -------------===//
//
// train_step: the model builder's forward body and a gecko.cross_entropy are
// wrapped in a detached function `(inputs, targets, params) -> (loss,
// logits)`; gecko-autodiff's emitBackward re-emits it (the forward runs once)
// and sweeps back from dloss = 1 (the cross-entropy adjoint is
// (softmax - onehot) / (B*L) in a linalg.generic) to every parameter.
//
// optimizer_step / accumulate_grads are written directly on memrefs: every
// update is a linalg.generic whose `outs` are the argument buffers, so
// bufferization has nothing to copy and the caller's buffers change in
// place. The global gradient norm is one reduction into a rank-0 buffer per
// gradient, in parameter order (deterministic).
//
//===----------------------------------------------------------------------===//

#include "gecko/Model/TrainStep.h"

#include "gecko/Autodiff/Autodiff.h"
#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Reference/Model.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace llvm;
using namespace mlir;

namespace gecko::model {

namespace {

Error trainError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

std::vector<ArgInfo> paramInfos(const ref::GeckoConfig &config,
                                StringRef prefix = "") {
  std::vector<ArgInfo> out;
  for (const auto &[name, shape] : ref::modelParamShapes(config))
    out.push_back({(prefix + name).str(), shape, ArgKind::F32});
  return out;
}

void loadTrainDialects(MLIRContext *ctx) {
  ctx->loadDialect<mlir::gecko::GeckoDialect, func::FuncDialect,
                   arith::ArithDialect, complex::ComplexDialect,
                   linalg::LinalgDialect, math::MathDialect,
                   memref::MemRefDialect, tensor::TensorDialect>();
}

MemRefType memrefOf(const ArgInfo &a, Builder &b) {
  return MemRefType::get(a.shape, b.getF32Type());
}

/// func.func @name over memrefs with the signature's names attached.
func::FuncOp memrefFunction(ModuleOp module, StringRef name,
                            const Signature &sig) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> args, results;
  for (const ArgInfo &a : sig.args)
    args.push_back(memrefOf(a, b));
  for (const ArgInfo &a : sig.results)
    results.push_back(memrefOf(a, b));
  auto func = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType(args, results));
  for (auto [i, a] : llvm::enumerate(sig.args))
    func.setArgAttr(i, "gecko.name", b.getStringAttr(a.name));
  for (auto [i, a] : llvm::enumerate(sig.results))
    func.setResultAttr(i, "gecko.name", b.getStringAttr(a.name));
  func.addEntryBlock();
  return func;
}

/// An all-parallel linalg.generic over equally shaped memrefs (identity
/// maps), updating `outs` in place.
void inPlaceElementwise(
    OpBuilder &b, Location loc, ValueRange ins, ValueRange outs,
    llvm::function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>
        body) {
  int64_t rank = cast<MemRefType>(outs[0].getType()).getRank();
  auto id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<AffineMap> maps(ins.size() + outs.size(), id);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  linalg::GenericOp::create(b, loc, TypeRange{}, ins, outs, maps, iterators,
                            [&](OpBuilder &nb, Location nloc, ValueRange a) {
                              linalg::YieldOp::create(nb, nloc,
                                                      body(nb, nloc, a));
                            });
}

Value f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

} // namespace

Error checkTrain(const ref::GeckoConfig &config, const TrainSpec &spec) {
  if (std::optional<std::string> why = ref::validateConfig(config))
    return trainError("invalid config: " + *why);
  if (spec.batch < 1)
    return trainError("train batch must be positive, got " + Twine(spec.batch));
  if (spec.length < config.chunk_size || spec.length % config.chunk_size)
    return trainError("train length " + Twine(spec.length) +
                      " is not a positive multiple of chunk_size " +
                      Twine(config.chunk_size));
  return Error::success();
}

bool paramGetsWeightDecay(StringRef name, ArrayRef<int64_t> shape) {
  return shape.size() == 2 && name.ends_with("weight") &&
         !name.contains(".cema.");
}

Expected<Signature> trainStepSignature(const ref::GeckoConfig &config,
                                       const TrainSpec &spec) {
  if (Error err = checkTrain(config, spec))
    return std::move(err);
  Signature sig;
  sig.args.push_back({"inputs", {spec.batch, spec.length}, ArgKind::I64});
  sig.args.push_back({"targets", {spec.batch, spec.length}, ArgKind::I64});
  for (ArgInfo &p : paramInfos(config))
    sig.args.push_back(std::move(p));
  sig.results.push_back({"loss", {}, ArgKind::F32});
  for (ArgInfo &g : paramInfos(config, "grad."))
    sig.results.push_back(std::move(g));
  return sig;
}

Signature optimizerStepSignature(const ref::GeckoConfig &config) {
  Signature sig;
  sig.args.push_back({"hyper", {kHyperCount}, ArgKind::F32});
  for (StringRef prefix : {"", "grad.", "adam_m.", "adam_v."})
    for (ArgInfo &p : paramInfos(config, prefix))
      sig.args.push_back(std::move(p));
  sig.results.push_back({"stats", {2}, ArgKind::F32});
  return sig;
}

Signature accumulateGradsSignature(const ref::GeckoConfig &config) {
  Signature sig;
  for (StringRef prefix : {"acc.", "grad."})
    for (ArgInfo &p : paramInfos(config, prefix))
      sig.args.push_back(std::move(p));
  return sig;
}

Expected<SmallVector<Value>>
buildTrainStepBody(OpBuilder &builder, Location loc,
                   const ref::GeckoConfig &config, const TrainSpec &spec,
                   ValueRange args, bool seedLogits) {
  if (Error err = checkTrain(config, spec))
    return std::move(err);
  size_t numParams = ref::modelParamShapes(config).size();
  size_t numForwardArgs = 2 + numParams;
  if (args.size() != numForwardArgs + (seedLogits ? 1 : 0))
    return trainError("train step: got " + Twine(args.size()) +
                      " arguments, expected " +
                      Twine(numForwardArgs + (seedLogits ? 1 : 0)));
  loadTrainDialects(builder.getContext());
  CallSpec call;
  call.batch = spec.batch;
  call.length = spec.length;
  call.segments = spec.segments;

  // The detached forward (inputs, targets, params) -> (loss, logits).
  ValueRange fwdArgs = args.take_front(numForwardArgs);
  auto forward = func::FuncOp::create(
      loc, "train_forward", builder.getFunctionType(fwdArgs.getTypes(), {}));
  Block *entry = forward.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockBegin(entry);
  SmallVector<Value> modelArgs = {entry->getArgument(0)};
  llvm::append_range(modelArgs, entry->getArguments().drop_front(2));
  Expected<SmallVector<Value>> logits =
      buildModelBody(fb, loc, config, call, modelArgs);
  if (!logits) {
    forward.erase();
    return logits.takeError();
  }
  auto lossType = RankedTensorType::get({}, fb.getF32Type());
  Value loss = mlir::gecko::CrossEntropyOp::create(
      fb, loc, lossType, (*logits)[0], entry->getArgument(1));
  func::ReturnOp::create(fb, loc, ValueRange{loss, (*logits)[0]});
  forward.setFunctionType(builder.getFunctionType(
      fwdArgs.getTypes(), TypeRange{lossType, (*logits)[0].getType()}));

  SmallVector<Value> cotangents(2);
  if (seedLogits)
    cotangents[1] = args.back();
  else
    cotangents[0] = arith::ConstantOp::create(
        builder, loc, lossType,
        DenseElementsAttr::get(lossType, builder.getF32FloatAttr(1.0f)));
  SmallVector<unsigned> wrt;
  for (size_t i = 0; i < numParams; ++i)
    wrt.push_back(2 + i);
  SmallVector<Value> forwardResults;
  FailureOr<SmallVector<Value>> grads = mlir::gecko::emitBackward(
      builder, loc, forward, fwdArgs, cotangents, wrt, &forwardResults);
  forward.erase();
  if (failed(grads))
    return trainError("gecko-autodiff could not differentiate the train "
                      "step's forward");
  SmallVector<Value> results = {forwardResults[0]};
  llvm::append_range(results, *grads);
  return results;
}

Expected<func::FuncOp> buildTrainStepFunction(ModuleOp module, StringRef name,
                                              const ref::GeckoConfig &config,
                                              const TrainSpec &spec) {
  Expected<Signature> sig = trainStepSignature(config, spec);
  if (!sig)
    return sig.takeError();
  loadTrainDialects(module.getContext());
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  SmallVector<Type> argTypes, resultTypes;
  for (const ArgInfo &a : sig->args)
    argTypes.push_back(argType(b, a));
  for (const ArgInfo &a : sig->results)
    resultTypes.push_back(argType(b, a));
  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(argTypes, resultTypes));
  // The caller's parameters must survive the call (one-shot bufferization
  // would otherwise reuse argument buffers for results).
  for (auto [i, a] : llvm::enumerate(sig->args)) {
    func.setArgAttr(i, "gecko.name", b.getStringAttr(a.name));
    func.setArgAttr(i, "bufferization.writable", b.getBoolAttr(false));
  }
  for (auto [i, a] : llvm::enumerate(sig->results))
    func.setResultAttr(i, "gecko.name", b.getStringAttr(a.name));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Expected<SmallVector<Value>> results =
      buildTrainStepBody(b, loc, config, spec, entry->getArguments());
  if (!results) {
    func.erase();
    return results.takeError();
  }
  func::ReturnOp::create(b, loc, *results);
  return func;
}

func::FuncOp buildOptimizerStepFunction(ModuleOp module, StringRef name,
                                        const ref::GeckoConfig &config) {
  loadTrainDialects(module.getContext());
  Signature sig = optimizerStepSignature(config);
  func::FuncOp func = memrefFunction(module, name, sig);
  OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
  Location loc = module.getLoc();
  size_t n = (sig.args.size() - 1) / 4;
  ValueRange all = func.getArguments();
  Value hyper = all[0];
  ValueRange params = all.slice(1, n), grads = all.slice(1 + n, n),
             moment1 = all.slice(1 + 2 * n, n),
             moment2 = all.slice(1 + 3 * n, n);
  auto hyperAt = [&](int64_t i) -> Value {
    Value index = arith::ConstantIndexOp::create(b, loc, i);
    return memref::LoadOp::create(b, loc, hyper, ValueRange{index});
  };
  Value lr = hyperAt(kHyperLr), beta1 = hyperAt(kHyperBeta1),
        beta2 = hyperAt(kHyperBeta2), eps = hyperAt(kHyperEps),
        wd = hyperAt(kHyperWeightDecay), clip = hyperAt(kHyperClipNorm),
        step = hyperAt(kHyperStep), gradScale = hyperAt(kHyperGradScale);
  Value zero = f32Const(b, loc, 0.0f), one = f32Const(b, loc, 1.0f);

  // Σ g² over every gradient, one reduction per gradient in param order.
  auto scalarType = MemRefType::get({}, b.getF32Type());
  Value acc = memref::AllocaOp::create(b, loc, scalarType);
  memref::StoreOp::create(b, loc, zero, acc, ValueRange{});
  for (Value g : grads) {
    int64_t rank = cast<MemRefType>(g.getType()).getRank();
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(rank, b.getContext()),
        AffineMap::get(rank, 0, b.getContext())};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::reduction);
    linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{g}, ValueRange{acc}, maps, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange a) {
          Value sq = arith::MulFOp::create(nb, nloc, a[0], a[0]);
          linalg::YieldOp::create(
              nb, nloc, ValueRange{arith::AddFOp::create(nb, nloc, a[1], sq)});
        });
  }
  Value sumSq = memref::LoadOp::create(b, loc, acc, ValueRange{});
  // norm of the scaled gradients (gradScale > 0).
  Value norm = arith::MulFOp::create(
      b, loc, math::SqrtOp::create(b, loc, sumSq), gradScale);
  // PyTorch clip_grad_norm_: factor = min(1, clip / (norm + 1e-6)).
  Value ratio = arith::DivFOp::create(
      b, loc, clip,
      arith::AddFOp::create(b, loc, norm, f32Const(b, loc, 1e-6f)));
  Value clipped = arith::MinimumFOp::create(b, loc, ratio, one);
  Value clipOn =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, clip, zero);
  Value factor = arith::SelectOp::create(b, loc, clipOn, clipped, one);
  Value gmul = arith::MulFOp::create(b, loc, gradScale, factor);
  // Bias corrections and the decoupled decay factor.
  Value bc1 = arith::SubFOp::create(b, loc, one,
                                    math::PowFOp::create(b, loc, beta1, step));
  Value bc2 = arith::SubFOp::create(b, loc, one,
                                    math::PowFOp::create(b, loc, beta2, step));
  Value stepSize = arith::DivFOp::create(b, loc, lr, bc1);
  Value invSqrtBc2 =
      arith::DivFOp::create(b, loc, one, math::SqrtOp::create(b, loc, bc2));
  Value decayMul =
      arith::SubFOp::create(b, loc, one, arith::MulFOp::create(b, loc, lr, wd));
  Value oneMinusB1 = arith::SubFOp::create(b, loc, one, beta1);
  Value oneMinusB2 = arith::SubFOp::create(b, loc, one, beta2);

  for (size_t i = 0; i < n; ++i) {
    const ArgInfo &info = sig.args[1 + i];
    bool decay = paramGetsWeightDecay(info.name, info.shape);
    inPlaceElementwise(
        b, loc, ValueRange{grads[i]},
        ValueRange{params[i], moment1[i], moment2[i]},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> SmallVector<Value> {
          Value g = arith::MulFOp::create(nb, nloc, a[0], gmul);
          Value m = arith::AddFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, beta1, a[2]),
              arith::MulFOp::create(nb, nloc, oneMinusB1, g));
          Value v = arith::AddFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, beta2, a[3]),
              arith::MulFOp::create(nb, nloc, oneMinusB2,
                                    arith::MulFOp::create(nb, nloc, g, g)));
          Value denom = arith::AddFOp::create(
              nb, nloc,
              arith::MulFOp::create(nb, nloc, math::SqrtOp::create(nb, nloc, v),
                                    invSqrtBc2),
              eps);
          Value p = a[1];
          if (decay)
            p = arith::MulFOp::create(nb, nloc, p, decayMul);
          Value update = arith::MulFOp::create(
              nb, nloc, stepSize, arith::DivFOp::create(nb, nloc, m, denom));
          return {arith::SubFOp::create(nb, nloc, p, update), m, v};
        });
  }

  Value stats =
      memref::AllocOp::create(b, loc, MemRefType::get({2}, b.getF32Type()));
  memref::StoreOp::create(
      b, loc, norm, stats,
      ValueRange{arith::ConstantIndexOp::create(b, loc, 0)});
  memref::StoreOp::create(
      b, loc, factor, stats,
      ValueRange{arith::ConstantIndexOp::create(b, loc, 1)});
  func::ReturnOp::create(b, loc, ValueRange{stats});
  return func;
}

func::FuncOp buildAccumulateGradsFunction(ModuleOp module, StringRef name,
                                          const ref::GeckoConfig &config) {
  loadTrainDialects(module.getContext());
  Signature sig = accumulateGradsSignature(config);
  func::FuncOp func = memrefFunction(module, name, sig);
  OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
  Location loc = module.getLoc();
  size_t n = sig.args.size() / 2;
  for (size_t i = 0; i < n; ++i)
    inPlaceElementwise(
        b, loc, ValueRange{func.getArgument(n + i)},
        ValueRange{func.getArgument(i)},
        [](OpBuilder &nb, Location nloc, ValueRange a) -> SmallVector<Value> {
          return {arith::AddFOp::create(nb, nloc, a[1], a[0])};
        });
  func::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

Error buildTrainFunctions(ModuleOp module, const ref::GeckoConfig &config,
                          const TrainSpec &spec) {
  Expected<func::FuncOp> step =
      buildTrainStepFunction(module, "train_step", config, spec);
  if (!step)
    return step.takeError();
  buildOptimizerStepFunction(module, "optimizer_step", config);
  buildAccumulateGradsFunction(module, "accumulate_grads", config);
  return Error::success();
}

void registerAutodiffBackwardBuilder() {
  setBackwardBuilder([](func::FuncOp forward) -> Expected<func::FuncOp> {
    mlir::gecko::GradFunctionSpec spec;
    spec.name = (forward.getSymName() + "_backward").str();
    FailureOr<func::FuncOp> grad =
        mlir::gecko::generateGradFunction(forward, spec);
    if (failed(grad))
      return trainError("gecko-autodiff could not differentiate @" +
                        forward.getSymName());
    return *grad;
  });
}

} // namespace gecko::model
