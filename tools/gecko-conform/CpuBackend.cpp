//===- CpuBackend.cpp - Golden cases through the CPU JIT ------------------===//
//
// Each supported case becomes a kernel (CpuKernels.h: one builder per op
// family, in CpuKernels<Family>.cpp) holding the gecko ops for the case's
// static shapes and attributes; exec::runKernel compiles it with the
// gecko-to-cpu pipeline and calls it on the golden inputs, rounded to the
// kernel's element types. What a kernel does not compute, the driver reports
// as missing.
//
// GECKO_CPU_BATCH_TILE / GECKO_CPU_TOKEN_TILE override the forall tile sizes
// (tests use them to run partial tiles against the golden data);
// GECKO_CPU_FUSE_ATTENTION=1 runs the attention fusions (fuse-attention),
// GECKO_CPU_FUSE_NORM_EMA=1 the tsn -> cema -> rms fusion (fuse-norm-ema).
//
//===----------------------------------------------------------------------===//

#include "CpuBackend.h"
#include "CpuKernels.h"

#include "gecko/Execution/KernelRunner.h"

#include "llvm/ADT/Twine.h"

#include <cstdlib>

using namespace llvm;

namespace gecko::conform {

namespace {

/// Reads a positive tile size from the environment variable `name` into
/// `tile` (left unchanged when unset).
Error tileFromEnvironment(const char *name, int64_t &tile) {
  const char *text = std::getenv(name);
  if (!text)
    return Error::success();
  int64_t value = 0;
  if (StringRef(text).getAsInteger(10, value) || value < 1)
    return kernelError(Twine(name) + " must be a positive integer, got '" +
                       text + "'");
  tile = value;
  return Error::success();
}

/// Compiles and runs `kernel`; records its outputs.
Error runKernel(const Kernel &kernel, CaseResults &results) {
  exec::CpuJitOptions options;
  if (Error err =
          tileFromEnvironment("GECKO_CPU_BATCH_TILE", options.batchTileSize))
    return err;
  if (Error err =
          tileFromEnvironment("GECKO_CPU_TOKEN_TILE", options.tokenTileSize))
    return err;
  // GECKO_CPU_FUSE_ATTENTION=1: gecko-to-cpu's fuse-attention.
  if (const char *fuse = std::getenv("GECKO_CPU_FUSE_ATTENTION"))
    options.fuseAttention = StringRef(fuse) == "1";
  if (const char *fuse = std::getenv("GECKO_CPU_FUSE_NORM_EMA"))
    options.fuseNormEma = StringRef(fuse) == "1";
  auto values = exec::runKernel(kernel.inputs, kernel.body, options);
  if (!values)
    return values.takeError();
  if (values->size() != kernel.outputKeys.size())
    return kernelError("the kernel returned " + Twine(values->size()) +
                       " values for " + Twine(kernel.outputKeys.size()) +
                       " golden keys");
  for (size_t i = 0; i < values->size(); ++i)
    results.add(kernel.outputKeys[i], std::move((*values)[i]));
  return Error::success();
}

} // namespace

Expected<Kernel> makeOpKernel(const GoldenCase &golden, StringRef backend) {
  if (golden.op == "rmsnorm" || golden.op == "layernorm")
    return makeGroupNormKernel(golden, golden.op == "layernorm");
  if (golden.op == "zsplit")
    return makeZSplitKernel(golden);
  if (golden.op == "rope")
    return makeRopeKernel(golden);
  if (golden.op == "awm")
    return makeWorkingMemoryKernel(golden);
  if (golden.op == "tsnorm")
    return makeTimestepNormKernel(golden);
  if (golden.op == "cema")
    return makeComplexEmaKernel(golden);
  if (golden.op == "sca")
    return makeChunkAttentionKernel(golden);
  return kernelError("op '" + golden.op + "' is not supported by the " +
                     backend + " backend yet");
}

namespace {

class CpuBackend : public Backend {
public:
  StringRef name() const override { return "cpu"; }

  Error run(const GoldenCase &golden, CaseResults &results) override {
    if (golden.op == "block" || golden.op == "model")
      return runBlockModelCase(golden, results);
    Expected<Kernel> kernel = makeOpKernel(golden, "cpu");
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
