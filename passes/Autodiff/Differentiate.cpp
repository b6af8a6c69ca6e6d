//===- Differentiate.cpp - The reverse sweep of gecko-autodiff ------------===//
//
// emitBackward: clones the forward body (recompute), seeds the adjoints of
// the returned values with the cotangents, then visits the forward ops in
// reverse and asks the adjoint rules to propagate. generateGradFunction wraps
// it into `<name>_grad`.
//
//===----------------------------------------------------------------------===//

#include "AdjointRules.h"

#include "gecko/Autodiff/Autodiff.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace mlir::gecko {

bool isDifferentiableType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return false;
  Type element = tensor.getElementType();
  return isa<FloatType>(element) || isa<ComplexType>(element);
}

namespace autodiff {

Value zerosOf(OpBuilder &b, Location loc, Type type) {
  auto tensor = cast<RankedTensorType>(type);
  Type element = tensor.getElementType();
  Value zero;
  if (auto complexType = dyn_cast<ComplexType>(element)) {
    auto part = cast<FloatType>(complexType.getElementType());
    Attribute zeroPart = b.getFloatAttr(part, 0.0);
    zero = complex::ConstantOp::create(b, loc, complexType,
                                       b.getArrayAttr({zeroPart, zeroPart}));
  } else {
    zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0.0));
  }
  Value init = tensor::EmptyOp::create(b, loc, tensor.getShape(), element);
  return linalg::FillOp::create(b, loc, zero, init).getResult(0);
}

Value elementwise(
    OpBuilder &b, Location loc, Type resultType, ValueRange inputs,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto tensor = cast<RankedTensorType>(resultType);
  Value init = tensor::EmptyOp::create(b, loc, tensor.getShape(),
                                       tensor.getElementType());
  int64_t rank = tensor.getRank();
  auto id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<AffineMap> maps(inputs.size() + 1, id);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

Value addValues(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return elementwise(b, loc, lhs.getType(), {lhs, rhs},
                     [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                       if (isa<ComplexType>(a[0].getType()))
                         return complex::AddOp::create(nb, nloc, a[0], a[1]);
                       return arith::AddFOp::create(nb, nloc, a[0], a[1]);
                     });
}

Value toF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value AdjointContext::adjointOrZeros(Value v, Location loc) {
  if (Value g = adjointOf(v))
    return g;
  return zerosOf(builder, loc, v.getType());
}

void AdjointContext::accumulate(Value v, Value g, Location loc) {
  if (!g || !isDifferentiableType(v.getType()))
    return;
  auto it = adjoints.find(v);
  if (it == adjoints.end()) {
    adjoints[v] = g;
    return;
  }
  it->second = addValues(builder, loc, it->second, g);
}

} // namespace autodiff

FailureOr<SmallVector<Value>>
emitBackward(OpBuilder &builder, Location loc, func::FuncOp forward,
             ValueRange args, ArrayRef<Value> cotangents,
             ArrayRef<unsigned> wrt, SmallVectorImpl<Value> *forwardResults) {
  if (!llvm::hasSingleElement(forward.getBody()))
    return forward.emitOpError("gecko-autodiff: expected a single-block body");
  Block &body = forward.getBody().front();
  if (args.size() != body.getNumArguments())
    return forward.emitOpError("gecko-autodiff: got ")
           << args.size() << " arguments for " << body.getNumArguments();
  auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
  if (!ret)
    return forward.emitOpError("gecko-autodiff: expected func.return");
  if (cotangents.size() != ret.getNumOperands())
    return forward.emitOpError("gecko-autodiff: got ")
           << cotangents.size() << " cotangents for " << ret.getNumOperands()
           << " results";
  for (unsigned index : wrt)
    if (index >= args.size())
      return forward.emitOpError("gecko-autodiff: no argument #") << index;

  // The dialects the adjoint rules create ops of (already loaded when called
  // from the pass, whose dependent dialects they are; callers building IR
  // directly, e.g. a KernelBody, may not have loaded scf or math).
  MLIRContext *context = builder.getContext();
  context->loadDialect<arith::ArithDialect, complex::ComplexDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       scf::SCFDialect, tensor::TensorDialect>();

  // Recompute the forward.
  IRMapping primal;
  for (auto [arg, value] : llvm::zip(body.getArguments(), args))
    primal.map(arg, value);
  for (Operation &op : body.without_terminator())
    builder.clone(op, primal);
  if (forwardResults)
    for (Value v : ret.getOperands())
      forwardResults->push_back(primal.lookupOrDefault(v));

  // Seed and sweep.
  autodiff::AdjointContext ctx(builder, primal);
  for (auto [value, cotangent] : llvm::zip(ret.getOperands(), cotangents)) {
    if (!cotangent)
      continue;
    if (cotangent.getType() != value.getType())
      return ret.emitOpError("gecko-autodiff: cotangent type ")
             << cotangent.getType() << " does not match result type "
             << value.getType();
    ctx.accumulate(value, cotangent, loc);
  }
  for (Operation &op :
       llvm::reverse(llvm::make_range(body.begin(), Block::iterator(ret)))) {
    bool needed = llvm::any_of(op.getResults(), [&](Value r) {
      return static_cast<bool>(ctx.adjointOf(r));
    });
    if (!needed)
      continue;
    std::optional<LogicalResult> done = autodiff::emitGeckoAdjoint(ctx, &op);
    if (!done)
      done = autodiff::emitModelOpAdjoint(ctx, &op);
    if (!done)
      done = autodiff::emitUpstreamAdjoint(ctx, &op);
    if (!done)
      return op.emitOpError("gecko-autodiff: no adjoint rule for '")
             << op.getName() << "' (its result feeds a differentiated value)";
    if (failed(*done))
      return failure();
  }

  SmallVector<Value> grads;
  for (unsigned index : wrt) {
    BlockArgument arg = body.getArgument(index);
    if (!isDifferentiableType(arg.getType()))
      return forward.emitOpError("gecko-autodiff: argument #")
             << index << " of type " << arg.getType()
             << " is not differentiable";
    grads.push_back(ctx.adjointOrZeros(arg, loc));
  }
  return grads;
}

FailureOr<func::FuncOp> generateGradFunction(func::FuncOp forward,
                                             const GradFunctionSpec &spec) {
  FunctionType type = forward.getFunctionType();
  SmallVector<unsigned> results = spec.results, wrt = spec.wrt;
  if (results.empty())
    for (auto [i, t] : llvm::enumerate(type.getResults()))
      if (isDifferentiableType(t))
        results.push_back(i);
  if (wrt.empty())
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      if (isDifferentiableType(t))
        wrt.push_back(i);
  for (unsigned r : results)
    if (r >= type.getNumResults() || !isDifferentiableType(type.getResult(r)))
      return forward.emitOpError("gecko-autodiff: result #")
             << r << " does not exist or is not differentiable";

  SmallVector<Type> inputs(type.getInputs());
  for (unsigned r : results)
    inputs.push_back(type.getResult(r));
  SmallVector<Type> outputs;
  if (spec.returnForward)
    llvm::append_range(outputs, type.getResults());
  for (unsigned a : wrt)
    if (a < type.getNumInputs())
      outputs.push_back(type.getInput(a));

  OpBuilder builder(forward);
  builder.setInsertionPointAfter(forward);
  std::string name =
      spec.name.empty() ? (forward.getSymName() + "_grad").str() : spec.name;
  Location loc = forward.getLoc();
  auto grad = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(inputs, outputs));
  grad.setVisibility(forward.getVisibility());
  Block *entry = grad.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  unsigned numArgs = type.getNumInputs();
  SmallVector<Value> cotangents(type.getNumResults());
  for (auto [i, r] : llvm::enumerate(results))
    cotangents[r] = entry->getArgument(numArgs + i);
  SmallVector<Value> forwardResults;
  FailureOr<SmallVector<Value>> grads = emitBackward(
      builder, loc, forward, entry->getArguments().take_front(numArgs),
      cotangents, wrt, spec.returnForward ? &forwardResults : nullptr);
  if (failed(grads)) {
    grad.erase();
    return failure();
  }
  SmallVector<Value> returned = forwardResults;
  llvm::append_range(returned, *grads);
  func::ReturnOp::create(builder, loc, returned);
  return grad;
}

} // namespace mlir::gecko
