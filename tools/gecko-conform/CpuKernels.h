//===- CpuKernels.h - Golden cases as compiled gecko kernels -----*- C++
//-*-===//
//
// The cpu backend turns each golden case into one kernel: the golden inputs
// (typed as the gecko op expects them), a body that builds the gecko ops
// (forward and, fed with gout.*, the grad op), and the golden keys of its
// results. Each op family builds its kernels in its own CpuKernels<Family>.cpp
// and is dispatched by golden op name in CpuBackend.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONFORM_CPUKERNELS_H
#define GECKO_CONFORM_CPUKERNELS_H

#include "GoldenCase.h"

#include "gecko/Execution/KernelRunner.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace gecko::conform {

struct Kernel {
  std::vector<exec::KernelInput> inputs;
  /// Golden key of each value the body returns, in order.
  std::vector<std::string> outputKeys;
  exec::KernelBody body;
};

/// An error with `message` (for kernel builders).
inline llvm::Error kernelError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// The kernel of an op-level golden case (every op but block/model), shared
/// by the cpu and GPU backends; `backend` names the caller in the error for
/// an op without a kernel.
llvm::Expected<Kernel> makeOpKernel(const GoldenCase &golden,
                                    llvm::StringRef backend);

/// rmsnorm, layernorm (`layerNorm`), zsplit, rope.
llvm::Expected<Kernel> makeGroupNormKernel(const GoldenCase &golden,
                                           bool layerNorm);
llvm::Expected<Kernel> makeZSplitKernel(const GoldenCase &golden);
llvm::Expected<Kernel> makeRopeKernel(const GoldenCase &golden);
/// awm (gecko.working_memory and its grad op, spec §6).
llvm::Expected<Kernel> makeWorkingMemoryKernel(const GoldenCase &golden);
/// tsnorm (gecko.timestep_norm and its grad op).
llvm::Expected<Kernel> makeTimestepNormKernel(const GoldenCase &golden);

/// cema (coefficients, scan, both backward ops).
llvm::Expected<Kernel> makeComplexEmaKernel(const GoldenCase &golden);

/// sca (gecko.chunk_attention and its grad op, spec §5).
llvm::Expected<Kernel> makeChunkAttentionKernel(const GoldenCase &golden);

/// block, model: whole calls from the model builder (several kernels per case).
llvm::Error runBlockModelCase(const GoldenCase &golden, CaseResults &results);

} // namespace gecko::conform

#endif // GECKO_CONFORM_CPUKERNELS_H
