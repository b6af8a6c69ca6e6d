//===- CpuKernelsChunkAttention.cpp - sca (spec §5) kernels ---------------===//
//
// One kernel per golden case: gecko.chunk_attention (out.y) and, fed with
// gout.y, gecko.chunk_attention_grad (grad.q/k/v and, with a cache,
// grad.prev_k/prev_v), both causal.

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

using namespace llvm;
using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

Expected<Kernel> makeChunkAttentionKernel(const GoldenCase &c) {
  auto q = c.require("in.q");
  auto k = c.require("in.k");
  auto v = c.require("in.v");
  auto path = c.meta("path");
  auto chunk = c.metaInt("chunk_size");
  if (Error err = joinErrors(
          joinErrors(joinErrors(q.takeError(), k.takeError()), v.takeError()),
          joinErrors(path.takeError(), chunk.takeError())))
    return std::move(err);
  if (*path != "chunked" && *path != "short")
    return kernelError("metadata path '" + *path +
                       "' is neither 'chunked' nor 'short'");
  const Tensor *prevK = c.find("in.prev_k");
  const Tensor *prevV = c.find("in.prev_v");
  const Tensor *seg = c.find("in.segment_idx");
  const Tensor *prevSeg = c.find("in.prev_segment_idx");
  if ((*q)->rank() != 4 || (*v)->rank() != 4)
    return kernelError("in.q and in.v must be (B, L, H, d)");
  if ((prevK == nullptr) != (prevV == nullptr))
    return kernelError("in.prev_k and in.prev_v must be given together");
  if (prevSeg && (!seg || !prevK))
    return kernelError("in.prev_segment_idx needs in.segment_idx and a cache");

  Kernel kernel;
  kernel.inputs = {KernelInput::tensor(**q), KernelInput::tensor(**k),
                   KernelInput::tensor(**v)};
  if (prevK) {
    kernel.inputs.push_back(KernelInput::tensor(*prevK));
    kernel.inputs.push_back(KernelInput::tensor(*prevV));
  }
  if (seg)
    kernel.inputs.push_back(KernelInput::tensor(*seg, ElementKind::I64));
  if (prevSeg)
    kernel.inputs.push_back(KernelInput::tensor(*prevSeg, ElementKind::I64));
  Tensor outShape((*v)->shape);
  kernel.inputs.push_back(
      KernelInput::tensor(c.upstreamGrad("out.y", outShape)));
  kernel.outputKeys = {"out.y", "grad.q", "grad.k", "grad.v"};
  if (prevK) {
    kernel.outputKeys.push_back("grad.prev_k");
    kernel.outputKeys.push_back("grad.prev_v");
  }

  bool chunked = *path == "chunked";
  bool hasCache = prevK != nullptr, hasSeg = seg != nullptr,
       hasPrevSeg = prevSeg != nullptr;
  int64_t chunkSize = *chunk;
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    unsigned next = 3;
    mlir::Value pk = hasCache ? args[next++] : mlir::Value();
    mlir::Value pv = hasCache ? args[next++] : mlir::Value();
    mlir::Value s = hasSeg ? args[next++] : mlir::Value();
    mlir::Value ps = hasPrevSeg ? args[next++] : mlir::Value();
    mlir::Value dout = args[next];
    auto pathAttr = mlir::gecko::ChunkPathAttr::get(
        b.getContext(), chunked ? mlir::gecko::ChunkPath::Chunked
                                : mlir::gecko::ChunkPath::Short);
    auto chunkAttr = b.getI64IntegerAttr(chunkSize);
    auto forward = mlir::gecko::ChunkAttentionOp::create(
        b, loc, args[2].getType(), pathAttr, args[0], args[1], args[2], pk, pv,
        s, ps, chunkAttr, b.getUnitAttr());
    auto grad = mlir::gecko::ChunkAttentionGradOp::create(
        b, loc, args[0].getType(), args[1].getType(), args[2].getType(),
        hasCache ? pk.getType() : mlir::Type(),
        hasCache ? pv.getType() : mlir::Type(), pathAttr, args[0], args[1],
        args[2], pk, pv, s, ps, dout, chunkAttr, b.getUnitAttr());
    SmallVector<mlir::Value> results = {forward.getOut(), grad.getDq(),
                                        grad.getDk(), grad.getDv()};
    if (hasCache) {
      results.push_back(grad.getDprevK());
      results.push_back(grad.getDprevV());
    }
    return results;
  };
  return kernel;
}

} // namespace gecko::conform
