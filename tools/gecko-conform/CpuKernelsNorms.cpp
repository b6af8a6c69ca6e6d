//===- CpuKernelsNorms.cpp - rmsnorm/layernorm/zsplit/rope kernels --------===//

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

using namespace llvm;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

Expected<Kernel> makeGroupNormKernel(const GoldenCase &c, bool layerNorm) {
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
    return kernelError("num_groups " + Twine(*groups) +
                       " does not divide the last dimension of in.x");

  Kernel kernel;
  kernel.inputs = {KernelInput::tensor(**x)};
  if (weight)
    kernel.inputs.push_back(KernelInput::tensor(*weight));
  if (bias)
    kernel.inputs.push_back(KernelInput::tensor(*bias));
  kernel.outputKeys = {"out.y"};
  int64_t numGroups = *groups;
  double epsilon = *eps;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
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

Expected<Kernel> makeZSplitKernel(const GoldenCase &c) {
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
    return kernelError("in.z must be (B, L, Z) with num_heads dividing Z");

  Kernel kernel;
  kernel.inputs = {KernelInput::tensor(**z), KernelInput::tensor(**gamma),
                   KernelInput::tensor(**beta)};
  kernel.outputKeys = {"out.q", "out.k", "out.aq", "out.ak"};
  int64_t numHeads = *heads;
  double epsilon = *eps;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    mlir::Type type = args[0].getType();
    auto op = mlir::gecko::ZSplitOp::create(
        b, loc, mlir::TypeRange{type, type, type, type}, args[0], args[1],
        args[2], b.getI64IntegerAttr(numHeads), b.getF64FloatAttr(epsilon));
    return {op.getQ(), op.getK(), op.getAq(), op.getAk()};
  };
  return kernel;
}

Expected<Kernel> makeRopeKernel(const GoldenCase &c) {
  auto x = c.require("in.x");
  auto start = c.metaInt("start");
  auto ropeHeads = c.metaInt("n_rope_heads");
  auto base = c.metaDouble("base");
  if (Error err =
          joinErrors(joinErrors(x.takeError(), start.takeError()),
                     joinErrors(ropeHeads.takeError(), base.takeError())))
    return std::move(err);
  if ((*x)->rank() != 4 || (*x)->dim(3) % 2 != 0)
    return kernelError("in.x must be (B, L, H, d) with an even d");
  if (*start < 0 || *ropeHeads < 0 || *ropeHeads > (*x)->dim(2) || !(*base > 0))
    return kernelError("start, n_rope_heads or base out of range");

  Kernel kernel;
  kernel.inputs = {KernelInput::tensor(**x), KernelInput::scalar(*start)};
  kernel.outputKeys = {"out.y"};
  int64_t numRopeHeads = *ropeHeads;
  double ropeBase = *base;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    return {mlir::gecko::RopeOp::create(b, loc, args[0].getType(), args[0],
                                        args[1], b.getF64FloatAttr(ropeBase),
                                        b.getI64IntegerAttr(numRopeHeads))};
  };
  return kernel;
}

} // namespace gecko::conform
