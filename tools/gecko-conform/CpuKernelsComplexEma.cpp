//===- CpuKernelsComplexEma.cpp - cema kernels ----------------------------===//
//
// One kernel per golden "cema" case: gecko.cema_coeffs -> gecko.cema ->
// gecko.cema_grad (fed with gout.y / gout.h) -> gecko.cema_coeffs_grad. The
// golden x is (B, D, L); the dialect's activations are (B, L, D), so x and
// gout.y are transposed on the host and y, dx back inside the kernel
// (linalg.transpose). The golden grad.p is the total derivative through
// p = σ(alpha), which also forms |q| = 1 − σ(alpha)σ(delta):
// dp − σ(delta)·Re(conj(q/|q|)·dq) (see ReferenceBackend.cpp's goldenGradP),
// computed by a linalg.generic in the kernel.
//
//===----------------------------------------------------------------------===//

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace llvm;
using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

namespace {

/// (B, X, Y) -> (B, Y, X) inside the kernel.
mlir::Value transposeLastTwo(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value value) {
  auto type = mlir::cast<mlir::RankedTensorType>(value.getType());
  llvm::SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(2),
                                      type.getDimSize(1)};
  mlir::Value init =
      mlir::tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return mlir::linalg::TransposeOp::create(b, loc, value, init,
                                           llvm::ArrayRef<int64_t>{0, 2, 1})
      .getResult()[0];
}

/// dp − σ(delta)·Re(conj(q/|q|)·dq) over (D, N).
mlir::Value totalGradP(mlir::OpBuilder &b, mlir::Location loc, mlir::Value dp,
                       mlir::Value dq, mlir::Value q, mlir::Value delta) {
  auto type = mlir::cast<mlir::RankedTensorType>(dp.getType());
  mlir::Value init =
      mlir::tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
  auto id = mlir::AffineMap::getMultiDimIdentityMap(2, b.getContext());
  llvm::SmallVector<mlir::utils::IteratorType> par(
      2, mlir::utils::IteratorType::parallel);
  auto generic = mlir::linalg::GenericOp::create(
      b, loc, init.getType(), mlir::ValueRange{dp, dq, q, delta}, init,
      llvm::SmallVector<mlir::AffineMap>(5, id), par,
      [](mlir::OpBuilder &nb, mlir::Location nloc, mlir::ValueRange a) {
        using namespace mlir;
        Value qRe = complex::ReOp::create(nb, nloc, a[2]);
        Value qIm = complex::ImOp::create(nb, nloc, a[2]);
        Value dRe = complex::ReOp::create(nb, nloc, a[1]);
        Value dIm = complex::ImOp::create(nb, nloc, a[1]);
        Value magnitude = math::SqrtOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc,
                                  arith::MulFOp::create(nb, nloc, qRe, qRe),
                                  arith::MulFOp::create(nb, nloc, qIm, qIm)));
        Value dot = arith::AddFOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, dRe, qRe),
            arith::MulFOp::create(nb, nloc, dIm, qIm));
        Value dMagnitude = arith::DivFOp::create(nb, nloc, dot, magnitude);
        Value delta = a[3];
        if (!delta.getType().isF32())
          delta = arith::ExtFOp::create(nb, nloc, nb.getF32Type(), delta);
        Value one = arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1));
        Value sigma = arith::DivFOp::create(
            nb, nloc, one,
            arith::AddFOp::create(
                nb, nloc, one,
                math::ExpOp::create(nb, nloc,
                                    arith::NegFOp::create(nb, nloc, delta))));
        Value total = arith::SubFOp::create(
            nb, nloc, a[0], arith::MulFOp::create(nb, nloc, sigma, dMagnitude));
        linalg::YieldOp::create(nb, nloc, total);
      });
  return generic.getResult(0);
}

} // namespace

Expected<Kernel> makeComplexEmaKernel(const GoldenCase &c) {
  auto x = c.require("in.x");
  auto alpha = c.require("param.alpha");
  auto delta = c.require("param.delta");
  auto theta = c.require("param.theta");
  auto gamma = c.require("param.gamma");
  if (Error err = joinErrors(
          joinErrors(joinErrors(x.takeError(), alpha.takeError()),
                     joinErrors(delta.takeError(), theta.takeError())),
          gamma.takeError()))
    return std::move(err);
  const Tensor *hx = c.find("in.hx");
  const Tensor *bos = c.find("in.bos_mask");
  if ((*x)->rank() != 3 || (*alpha)->rank() != 2 ||
      (*alpha)->dim(0) != (*x)->dim(1))
    return kernelError("in.x must be (B, D, L) and param.alpha (D, N)");
  int64_t batch = (*x)->dim(0), channels = (*x)->dim(1);
  int64_t order = (*alpha)->dim(1);
  std::vector<int64_t> stateShape = {batch, channels, order, 2};
  if (hx && hx->shape != stateShape)
    return kernelError("in.hx must be (B, D, N, 2)");
  if (bos && bos->shape != std::vector<int64_t>{batch, (*x)->dim(2)})
    return kernelError("in.bos_mask must be (B, L)");
  const Tensor *goutY = c.find("gout.y");
  const Tensor *goutH = c.find("gout.h");
  Tensor dy = goutY ? *goutY : Tensor((*x)->shape);
  Tensor dh = goutH ? *goutH : Tensor(stateShape);
  if (dy.shape != (*x)->shape || dh.shape != stateShape)
    return kernelError("gout.y / gout.h do not match out.y / out.h");

  Kernel kernel;
  kernel.inputs = {KernelInput::tensor((*x)->transposed(1, 2)),
                   KernelInput::tensor(**alpha), KernelInput::tensor(**delta),
                   KernelInput::tensor(**theta), KernelInput::tensor(**gamma)};
  if (hx)
    kernel.inputs.push_back(KernelInput::tensor(*hx, ElementKind::ComplexF32));
  if (bos)
    kernel.inputs.push_back(KernelInput::tensor(*bos, ElementKind::I1));
  kernel.inputs.push_back(KernelInput::tensor(dy.transposed(1, 2)));
  kernel.inputs.push_back(KernelInput::tensor(dh, ElementKind::ComplexF32));
  kernel.outputKeys = {"int.p",     "int.q",      "int.g",      "out.y",
                       "out.h",     "grad.x",     "grad.p",     "grad.q",
                       "grad.g",    "grad.alpha", "grad.delta", "grad.theta",
                       "grad.gamma"};
  if (hx)
    kernel.outputKeys.push_back("grad.hx");
  bool hasHx = hx, hasBos = bos;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    using namespace mlir;
    MLIRContext *ctx = b.getContext();
    ctx->getOrLoadDialect<arith::ArithDialect>();
    ctx->getOrLoadDialect<linalg::LinalgDialect>();
    ctx->getOrLoadDialect<math::MathDialect>();
    ctx->getOrLoadDialect<tensor::TensorDialect>();
    unsigned next = 5;
    Value hxArg = hasHx ? args[next++] : Value();
    Value bosArg = hasBos ? args[next++] : Value();
    Value dyArg = args[next++], dhArg = args[next++];
    Value alphaArg = args[1], deltaArg = args[2], thetaArg = args[3],
          gammaArg = args[4];
    auto coeffType = RankedTensorType::get({channels, order}, b.getF32Type());
    auto complexType = RankedTensorType::get({channels, order},
                                             ComplexType::get(b.getF32Type()));
    auto stateType = RankedTensorType::get({batch, channels, order},
                                           ComplexType::get(b.getF32Type()));
    auto coeffs = mlir::gecko::CemaCoeffsOp::create(
        b, loc, coeffType, complexType, complexType, alphaArg, deltaArg,
        thetaArg, gammaArg);
    auto cema = mlir::gecko::CemaOp::create(
        b, loc, TypeRange{args[0].getType(), stateType}, args[0], coeffs.getP(),
        coeffs.getQ(), coeffs.getGammaC(), hxArg, bosArg);
    SmallVector<Type> gradTypes = {args[0].getType(), coeffType, complexType,
                                   complexType};
    if (hasHx)
      gradTypes.push_back(stateType);
    auto grad = mlir::gecko::CemaGradOp::create(
        b, loc, gradTypes, args[0], coeffs.getP(), coeffs.getQ(),
        coeffs.getGammaC(), hxArg, bosArg, dyArg, dhArg);
    auto paramGrads = mlir::gecko::CemaCoeffsGradOp::create(
        b, loc,
        TypeRange{alphaArg.getType(), deltaArg.getType(), thetaArg.getType(),
                  gammaArg.getType()},
        alphaArg, deltaArg, thetaArg, gammaArg, grad.getDp(), grad.getDq(),
        grad.getDgammaC());
    SmallVector<Value> results = {
        coeffs.getP(),
        coeffs.getQ(),
        coeffs.getGammaC(),
        transposeLastTwo(b, loc, cema.getY()),
        cema.getNewH(),
        transposeLastTwo(b, loc, grad.getDx()),
        totalGradP(b, loc, grad.getDp(), grad.getDq(), coeffs.getQ(), deltaArg),
        grad.getDq(),
        grad.getDgammaC(),
        paramGrads.getDalpha(),
        paramGrads.getDdelta(),
        paramGrads.getDtheta(),
        paramGrads.getDgamma()};
    if (hasHx)
      results.push_back(grad.getDhx());
    return results;
  };
  return kernel;
}

} // namespace gecko::conform
