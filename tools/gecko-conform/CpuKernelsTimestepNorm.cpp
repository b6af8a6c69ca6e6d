//===- CpuKernelsTimestepNorm.cpp - tsnorm kernels ------------------------===//
//
// Golden op "tsnorm" (spec §1): gecko.timestep_norm for out.{y, count, mean,
// var} and gecko.timestep_norm_grad, fed with gout.{y, mean, var}, for
// grad.{x, weight, bias} and, when the case carries a state,
// grad.{prev_mean, prev_var}. An absent carried state is passed as zeros
// (count 0, mean 0, var 0), which is what the reference assumes.
//
//===----------------------------------------------------------------------===//

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

using namespace llvm;
using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

Expected<Kernel> makeTimestepNormKernel(const GoldenCase &c) {
  auto x = c.require("in.x");
  auto weight = c.require("param.weight");
  auto bias = c.require("param.bias");
  auto groups = c.metaInt("num_groups");
  auto beta1 = c.metaDouble("beta1");
  auto beta2 = c.metaDouble("beta2");
  auto eps = c.metaDouble("eps");
  if (Error err = joinErrors(
          joinErrors(joinErrors(x.takeError(), weight.takeError()),
                     joinErrors(bias.takeError(), groups.takeError())),
          joinErrors(joinErrors(beta1.takeError(), beta2.takeError()),
                     eps.takeError())))
    return std::move(err);
  const Tensor &xs = **x;
  if (xs.rank() != 3 || *groups < 1 || xs.dim(2) % *groups != 0)
    return kernelError("in.x must be (B, L, D) with num_groups dividing D");
  int64_t batch = xs.dim(0), groupCount = *groups;
  const Tensor *prevCount = c.find("in.prev_count");
  const Tensor *prevMean = c.find("in.prev_mean");
  const Tensor *prevVar = c.find("in.prev_var");
  const Tensor *bos = c.find("in.bos_mask");
  const Tensor *padding = c.find("in.padding_mask");
  const Tensor *outY = c.find("out.y");
  const Tensor *outMean = c.find("out.mean");
  const Tensor *outVar = c.find("out.var");
  if (!outY || !outMean || !outVar)
    return kernelError("tsnorm case without out.y, out.mean or out.var");

  Tensor zeroState({batch, groupCount});
  Kernel kernel;
  kernel.inputs = {KernelInput::tensor(xs),
                   KernelInput::tensor(**weight),
                   KernelInput::tensor(**bias),
                   KernelInput::tensor(prevCount ? *prevCount : Tensor({batch}),
                                       ElementKind::I64),
                   KernelInput::tensor(prevMean ? *prevMean : zeroState),
                   KernelInput::tensor(prevVar ? *prevVar : zeroState)};
  if (bos)
    kernel.inputs.push_back(KernelInput::tensor(*bos, ElementKind::I1));
  if (padding)
    kernel.inputs.push_back(KernelInput::tensor(*padding, ElementKind::I1));
  kernel.inputs.push_back(KernelInput::tensor(c.upstreamGrad("out.y", *outY)));
  kernel.inputs.push_back(
      KernelInput::tensor(c.upstreamGrad("out.mean", *outMean)));
  kernel.inputs.push_back(
      KernelInput::tensor(c.upstreamGrad("out.var", *outVar)));
  kernel.outputKeys = {"out.y",  "out.count",   "out.mean", "out.var",
                       "grad.x", "grad.weight", "grad.bias"};
  bool stateGrads = prevMean && prevVar;
  if (stateGrads) {
    kernel.outputKeys.push_back("grad.prev_mean");
    kernel.outputKeys.push_back("grad.prev_var");
  }

  bool hasBos = bos, hasPadding = padding;
  double b1 = *beta1, b2 = *beta2, epsilon = *eps;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    unsigned next = 6;
    mlir::Value bosArg = hasBos ? args[next++] : mlir::Value();
    mlir::Value padArg = hasPadding ? args[next++] : mlir::Value();
    mlir::Value dy = args[next], dMean = args[next + 1], dVar = args[next + 2];
    auto groupsAttr = b.getI64IntegerAttr(groupCount);
    auto beta1Attr = b.getF64FloatAttr(b1);
    auto beta2Attr = b.getF64FloatAttr(b2);
    auto epsAttr = b.getF64FloatAttr(epsilon);
    mlir::Type xType = args[0].getType(), stateType = args[4].getType();
    auto fwd = mlir::gecko::TimestepNormOp::create(
        b, loc, mlir::TypeRange{xType, args[3].getType(), stateType, stateType},
        args[0], args[1], args[2], args[3], args[4], args[5], bosArg, padArg,
        groupsAttr, beta1Attr, beta2Attr, epsAttr);
    mlir::Type paramType = args[1].getType();
    auto bwd = mlir::gecko::TimestepNormGradOp::create(
        b, loc,
        mlir::TypeRange{xType, paramType, args[2].getType(), stateType,
                        stateType},
        args[0], args[1], args[2], args[3], args[4], args[5], bosArg, padArg,
        dy, dMean, dVar, groupsAttr, beta1Attr, beta2Attr, epsAttr);
    SmallVector<mlir::Value> results(fwd->getResults());
    results.append({bwd.getDx(), bwd.getDweight(), bwd.getDbias()});
    if (stateGrads)
      results.append({bwd.getDmean(), bwd.getDvar()});
    return results;
  };
  return kernel;
}

} // namespace gecko::conform
