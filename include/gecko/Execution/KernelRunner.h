//===- KernelRunner.h - Run one gecko kernel on reference tensors -*- C++
//-*-===//
//
// Builds `func.func @kernel(args) -> results` around a body that creates gecko
// (or upstream) ops from the arguments, compiles it with CpuJit (the
// gecko-to-cpu pipeline) and runs it on reference tensors. Used by the cpu
// backend of gecko-conform and by the numeric tests of compiled kernels.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_EXECUTION_KERNELRUNNER_H
#define GECKO_EXECUTION_KERNELRUNNER_H

#include "gecko/Execution/CpuJit.h"
#include "gecko/Reference/Tensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <vector>

namespace gecko::exec {

/// One argument of a kernel: a tensor of `kind` elements holding `values`
/// (rounded to the element type; a complex<f32> tensor's values carry a
/// trailing axis of 2 = (re, im) that is not part of its MLIR shape), or an
/// i64 scalar (`isScalar`, one value).
struct KernelInput {
  ref::Tensor values;
  ElementKind kind = ElementKind::F32;
  bool isScalar = false;

  static KernelInput tensor(ref::Tensor values,
                            ElementKind kind = ElementKind::F32) {
    return {std::move(values), kind, false};
  }
  static KernelInput scalar(int64_t value) {
    return {ref::Tensor({}, static_cast<double>(value)), ElementKind::I64,
            true};
  }
};

/// Creates the kernel's ops from its block arguments (typed from the inputs)
/// and returns the values to return.
using KernelBody = std::function<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// The MLIR type of an input: i64 for scalars, else a static tensor.
mlir::Type kernelInputType(mlir::OpBuilder &builder, const KernelInput &input);

/// Builds, verifies, compiles and runs the kernel; returns its results as
/// doubles (complex results with a trailing axis of 2).
llvm::Expected<std::vector<ref::Tensor>>
runKernel(const std::vector<KernelInput> &inputs, const KernelBody &body,
          const CpuJitOptions &options = {});

/// Host-buffer conversions (round to nearest even for f16/bf16; i64 and i1
/// values must be integral / 0-1).
llvm::Expected<HostTensor> toHostTensor(const KernelInput &input);
ref::Tensor fromHostTensor(const HostTensor &tensor);

} // namespace gecko::exec

#endif // GECKO_EXECUTION_KERNELRUNNER_H
