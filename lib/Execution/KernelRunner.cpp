//===- KernelRunner.cpp - Run one gecko kernel on reference tensors -------===//

#include "gecko/Execution/KernelRunner.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Support/TensorIO.h"

#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

namespace gecko::exec {

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

mlir::Type elementType(mlir::OpBuilder &b, ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return b.getF32Type();
  case ElementKind::F16:
    return b.getF16Type();
  case ElementKind::BF16:
    return b.getBF16Type();
  case ElementKind::I64:
    return b.getI64Type();
  case ElementKind::I1:
    return b.getI1Type();
  case ElementKind::ComplexF32:
    return mlir::ComplexType::get(b.getF32Type());
  }
  llvm_unreachable("unknown element kind");
}

/// The MLIR shape of a tensor input: complex values drop the (re, im) axis.
std::vector<int64_t> mlirShape(const KernelInput &input) {
  std::vector<int64_t> shape = input.values.shape;
  if (input.kind == ElementKind::ComplexF32 && !shape.empty())
    shape.pop_back();
  return shape;
}

} // namespace

mlir::Type kernelInputType(mlir::OpBuilder &builder, const KernelInput &input) {
  if (input.isScalar)
    return builder.getI64Type();
  return mlir::RankedTensorType::get(mlirShape(input),
                                     elementType(builder, input.kind));
}

llvm::Expected<HostTensor> toHostTensor(const KernelInput &input) {
  const ref::Tensor &values = input.values;
  if (input.kind == ElementKind::ComplexF32 &&
      (values.rank() == 0 || values.shape.back() != 2))
    return error("a complex<f32> input needs a trailing axis of 2, got " +
                 values.shapeString());
  HostTensor host{mlirShape(input), input.kind, {}};
  size_t size = elementSize(input.kind);
  int64_t count = input.kind == ElementKind::ComplexF32 ? values.numel() / 2
                                                        : values.numel();
  host.bytes.resize(count * size);
  uint8_t *out = host.bytes.data();
  for (int64_t i = 0; i < values.numel(); ++i) {
    double v = values[i];
    switch (input.kind) {
    case ElementKind::F32:
    case ElementKind::ComplexF32: {
      float f = static_cast<float>(v);
      std::memcpy(out + i * 4, &f, 4);
      break;
    }
    case ElementKind::F16:
    case ElementKind::BF16: {
      uint16_t bits = input.kind == ElementKind::F16
                          ? safetensors::encodeF16(v)
                          : safetensors::encodeBF16(v);
      std::memcpy(out + i * 2, &bits, 2);
      break;
    }
    case ElementKind::I64: {
      if (v != std::floor(v))
        return error("i64 input holds the non-integral value " +
                     llvm::Twine(std::to_string(v)));
      int64_t n = static_cast<int64_t>(v);
      std::memcpy(out + i * 8, &n, 8);
      break;
    }
    case ElementKind::I1:
      if (v != 0.0 && v != 1.0)
        return error("i1 input holds the value " +
                     llvm::Twine(std::to_string(v)) + " (expected 0 or 1)");
      out[i] = v != 0.0;
      break;
    }
  }
  return host;
}

ref::Tensor fromHostTensor(const HostTensor &tensor) {
  std::vector<int64_t> shape = tensor.shape;
  if (tensor.kind == ElementKind::ComplexF32)
    shape.push_back(2);
  ref::Tensor values(shape);
  const uint8_t *in = tensor.bytes.data();
  for (int64_t i = 0; i < values.numel(); ++i) {
    switch (tensor.kind) {
    case ElementKind::F32:
    case ElementKind::ComplexF32: {
      float f;
      std::memcpy(&f, in + i * 4, 4);
      values[i] = f;
      break;
    }
    case ElementKind::F16:
    case ElementKind::BF16: {
      uint16_t bits;
      std::memcpy(&bits, in + i * 2, 2);
      values[i] = tensor.kind == ElementKind::F16
                      ? safetensors::decodeF16(bits)
                      : safetensors::decodeBF16(bits);
      break;
    }
    case ElementKind::I64: {
      int64_t n;
      std::memcpy(&n, in + i * 8, 8);
      values[i] = static_cast<double>(n);
      break;
    }
    case ElementKind::I1:
      values[i] = in[i] ? 1.0 : 0.0;
      break;
    }
  }
  return values;
}

llvm::Expected<std::vector<ref::Tensor>>
runKernel(const std::vector<KernelInput> &inputs, const KernelBody &body,
          const CpuJitOptions &options) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                      mlir::complex::ComplexDialect>();
  std::string diagnostics;
  llvm::raw_string_ostream diagnosticStream(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    diagnosticStream << diag << "\n";
    return mlir::success();
  });

  mlir::OpBuilder b(&context);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  llvm::SmallVector<mlir::Type> argumentTypes;
  for (const KernelInput &input : inputs)
    argumentTypes.push_back(kernelInputType(b, input));

  b.setInsertionPointToEnd(module->getBody());
  auto func = mlir::func::FuncOp::create(b, loc, "kernel",
                                         b.getFunctionType(argumentTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  mlir::Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  llvm::SmallVector<mlir::Value> outputs = body(b, loc, entry->getArguments());
  mlir::func::ReturnOp::create(b, loc, outputs);
  llvm::SmallVector<mlir::Type> resultTypes;
  for (mlir::Value v : outputs)
    resultTypes.push_back(v.getType());
  func.setFunctionType(b.getFunctionType(argumentTypes, resultTypes));
  if (mlir::failed(mlir::verify(*module)))
    return error("the kernel IR does not verify:\n" + diagnostics);

  auto jit = CpuJit::compile(*module, options);
  if (!jit)
    return jit.takeError();
  std::vector<HostTensor> hostInputs;
  for (const KernelInput &input : inputs) {
    if (input.isScalar)
      continue;
    auto host = toHostTensor(input);
    if (!host)
      return host.takeError();
    hostInputs.push_back(std::move(*host));
  }
  // Built once hostInputs no longer grows, so the addresses stay valid.
  std::vector<JitArgument> arguments;
  size_t next = 0;
  for (const KernelInput &input : inputs)
    arguments.push_back(
        input.isScalar
            ? JitArgument::ofScalar(static_cast<int64_t>(input.values[0]))
            : JitArgument::ofTensor(hostInputs[next++]));
  auto values = (*jit)->invoke("kernel", arguments);
  if (!values)
    return values.takeError();
  std::vector<ref::Tensor> results;
  for (const HostTensor &value : *values)
    results.push_back(fromHostTensor(value));
  return results;
}

} // namespace gecko::exec
