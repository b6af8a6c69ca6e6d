//===- CpuKernelsNorms.cpp - rmsnorm/layernorm/zsplit/rope kernels --------===//
//
// Each kernel runs the forward op and, when the case holds the upstream
// gradients (gout.*), the matching grad op on them, so that out.* and every
// grad.* are compared. rope also records int.cos/int.sin: the rotation of a
// unit pair (1, 0) at position p is (cos, sin) of p's angles, so the kernel
// rotates a (1, L, 1, d) tensor of such pairs with the same start and base and
// reads the even/odd lanes back.
//
//===----------------------------------------------------------------------===//

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

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
  const Tensor *dy = c.find("gout.y");
  if (dy)
    kernel.inputs.push_back(KernelInput::tensor(*dy));
  kernel.outputKeys = {"out.y"};
  if (dy) {
    kernel.outputKeys.push_back("grad.x");
    if (weight)
      kernel.outputKeys.push_back("grad.weight");
    if (bias)
      kernel.outputKeys.push_back("grad.bias");
  }
  int64_t numGroups = *groups;
  double epsilon = *eps;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    mlir::Value w = weight ? args[1] : mlir::Value();
    mlir::Value bi = bias ? args[weight ? 2 : 1] : mlir::Value();
    auto groupsAttr = b.getI64IntegerAttr(numGroups);
    auto epsAttr = b.getF64FloatAttr(epsilon);
    mlir::Type type = args[0].getType();
    SmallVector<mlir::Value> results;
    if (layerNorm)
      results.push_back(mlir::gecko::LayerNormOp::create(
          b, loc, type, args[0], w, bi, groupsAttr, epsAttr));
    else
      results.push_back(mlir::gecko::RmsNormOp::create(b, loc, type, args[0], w,
                                                       groupsAttr, epsAttr));
    if (!dy)
      return results;
    mlir::Value gradY = args.back();
    SmallVector<mlir::Type> gradTypes = {type};
    if (w)
      gradTypes.push_back(w.getType());
    if (bi)
      gradTypes.push_back(bi.getType());
    mlir::Type noType;
    mlir::Operation *grad =
        layerNorm
            ? mlir::gecko::LayerNormGradOp::create(
                  b, loc, type, w ? w.getType() : noType,
                  bi ? bi.getType() : noType, args[0], w, bi, gradY, groupsAttr,
                  epsAttr)
                  .getOperation()
            : mlir::gecko::RmsNormGradOp::create(b, loc, gradTypes, args[0], w,
                                                 gradY, groupsAttr, epsAttr)
                  .getOperation();
    llvm::append_range(results, grad->getResults());
    return results;
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
  // Upstream grads of q, k, aq, ak; an absent one is zero.
  bool withGrads = false;
  for (const char *key : {"gout.q", "gout.k", "gout.aq", "gout.ak"})
    withGrads |= c.find(key) != nullptr;
  if (withGrads) {
    for (const char *key : {"gout.q", "gout.k", "gout.aq", "gout.ak"}) {
      const Tensor *grad = c.find(key);
      kernel.inputs.push_back(
          KernelInput::tensor(grad ? *grad : Tensor((*z)->shape)));
    }
    kernel.outputKeys.insert(kernel.outputKeys.end(),
                             {"grad.z", "grad.gamma", "grad.beta"});
  }
  int64_t numHeads = *heads;
  double epsilon = *eps;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    mlir::Type type = args[0].getType();
    auto headsAttr = b.getI64IntegerAttr(numHeads);
    auto epsAttr = b.getF64FloatAttr(epsilon);
    auto op = mlir::gecko::ZSplitOp::create(
        b, loc, mlir::TypeRange{type, type, type, type}, args[0], args[1],
        args[2], headsAttr, epsAttr);
    SmallVector<mlir::Value> results = {op.getQ(), op.getK(), op.getAq(),
                                        op.getAk()};
    if (!withGrads)
      return results;
    auto grad = mlir::gecko::ZSplitGradOp::create(
        b, loc, mlir::TypeRange{type, args[1].getType(), args[2].getType()},
        args[0], args[1], args[2], args[3], args[4], args[5], args[6],
        headsAttr, epsAttr);
    llvm::append_range(results, grad->getResults());
    return results;
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
  const Tensor *dy = c.find("gout.y");
  if (dy) {
    kernel.inputs.push_back(KernelInput::tensor(*dy));
    kernel.outputKeys.push_back("grad.x");
  }
  // Unit pairs (1, 0) for every position: rotated, they are (cos, sin).
  int64_t tokens = (*x)->dim(1), headDim = (*x)->dim(3);
  bool withTable = c.find("int.cos") || c.find("int.sin");
  if (withTable) {
    Tensor unit({1, tokens, 1, headDim});
    for (int64_t i = 0; i < unit.numel(); i += 2)
      unit[i] = 1.0;
    kernel.inputs.push_back(KernelInput::tensor(std::move(unit)));
    kernel.outputKeys.insert(kernel.outputKeys.end(), {"int.cos", "int.sin"});
  }
  int64_t numRopeHeads = *ropeHeads;
  double ropeBase = *base;
  bool withGrad = dy != nullptr;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    auto baseAttr = b.getF64FloatAttr(ropeBase);
    SmallVector<mlir::Value> results = {mlir::gecko::RopeOp::create(
        b, loc, args[0].getType(), args[0], args[1], baseAttr,
        b.getI64IntegerAttr(numRopeHeads))};
    if (withGrad)
      results.push_back(mlir::gecko::RopeGradOp::create(
          b, loc, args[2].getType(), args[2], args[1], baseAttr,
          b.getI64IntegerAttr(numRopeHeads)));
    if (!withTable)
      return results;
    // KernelRunner loads only the gecko/func/complex dialects.
    b.getContext()->getOrLoadDialect<mlir::tensor::TensorDialect>();
    mlir::Value unit = args.back();
    mlir::Value rotated =
        mlir::gecko::RopeOp::create(b, loc, unit.getType(), unit, args[1],
                                    baseAttr, b.getI64IntegerAttr(1));
    auto laneType = mlir::RankedTensorType::get({1, tokens, 1, headDim / 2},
                                                b.getF32Type());
    for (int64_t lane = 0; lane < 2; ++lane) {
      mlir::Value slice = mlir::tensor::ExtractSliceOp::create(
          b, loc, laneType, rotated,
          ArrayRef<mlir::OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                                       b.getIndexAttr(0), b.getIndexAttr(lane)},
          ArrayRef<mlir::OpFoldResult>{
              b.getIndexAttr(1), b.getIndexAttr(tokens), b.getIndexAttr(1),
              b.getIndexAttr(headDim / 2)},
          ArrayRef<mlir::OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(1), b.getIndexAttr(2)});
      results.push_back(mlir::tensor::CollapseShapeOp::create(
          b, loc, slice, ArrayRef<mlir::ReassociationIndices>{{0, 1}, {2, 3}}));
    }
    return results;
  };
  return kernel;
}

} // namespace gecko::conform
