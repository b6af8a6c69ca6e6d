//===- CpuKernelsWorkingMemory.cpp - awm kernels (spec §6) ----------------===//
//
// Golden "awm" cases use the spec's (B, H, L, ·) activations; the dialect's
// gecko.working_memory takes (B, L, H, ·). The host transposes the inputs,
// the kernel runs gecko.working_memory and gecko.working_memory_grad (fed
// gout.*; state gradients zeroed where the golden state is not finite, as
// the reference backend does) and transposes the activations back with
// linalg.transpose.
//
//===----------------------------------------------------------------------===//

#include "CpuKernels.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace llvm;
using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace gecko::conform {

namespace {

/// Swaps dims 1 and 2 of a rank-4 tensor value.
mlir::Value swapHeadsAndTokens(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Value x) {
  // The kernel's context loads only what the runner needs.
  b.getContext()->getOrLoadDialect<mlir::linalg::LinalgDialect>();
  b.getContext()->getOrLoadDialect<mlir::tensor::TensorDialect>();
  auto type = mlir::cast<mlir::RankedTensorType>(x.getType());
  llvm::SmallVector<int64_t> shape(type.getShape());
  std::swap(shape[1], shape[2]);
  mlir::Value init =
      mlir::tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return mlir::linalg::TransposeOp::create(b, loc, x, init,
                                           ArrayRef<int64_t>{0, 2, 1, 3})
      ->getResult(0);
}

/// `grad` with the entries where `out` is not finite zeroed.
Tensor finiteGrad(const Tensor &grad, const Tensor &out) {
  Tensor result = grad;
  for (int64_t i = 0; i < result.numel(); ++i)
    if (!std::isfinite(out[i]))
      result[i] = 0.0;
  return result;
}

} // namespace

Expected<Kernel> makeWorkingMemoryKernel(const GoldenCase &c) {
  auto q = c.require("in.q");
  auto k = c.require("in.k");
  auto v = c.require("in.v");
  auto chunk = c.metaInt("chunk_size");
  auto path = c.meta("path");
  if (Error err = joinErrors(
          joinErrors(joinErrors(q.takeError(), k.takeError()), v.takeError()),
          joinErrors(chunk.takeError(), path.takeError())))
    return std::move(err);
  if (*path != "chunked" && *path != "short")
    return kernelError("awm path must be 'chunked' or 'short', got '" + *path +
                       "'");
  if ((*q)->rank() != 4 || (*v)->rank() != 4)
    return kernelError("in.q, in.k (B,H,L,S) and in.v (B,H,L,V) expected");
  const Tensor *memory = c.find("in.memory"), *lnt = c.find("in.lnt");
  const Tensor *prevK = c.find("in.prev_k"), *prevV = c.find("in.prev_v");
  const Tensor *seg = c.find("in.segment_idx");
  const Tensor *prevSeg = c.find("in.prev_segment_idx");
  const Tensor *prevCount = c.find("in.prev_segment_count");
  const Tensor *outMemory = c.find("out.memory"), *outLnt = c.find("out.lnt");
  if (!memory != !lnt || !prevK != !prevV || !prevSeg != !prevCount ||
      !outMemory != !outLnt)
    return kernelError("in.memory/in.lnt, in.prev_k/in.prev_v, "
                       "in.prev_segment_idx/count and out.memory/out.lnt "
                       "must come in pairs");

  Kernel kernel;
  auto add = [&](const Tensor &t, ElementKind kind = ElementKind::F32) {
    kernel.inputs.push_back(KernelInput::tensor(t, kind));
  };
  add((*q)->transposed(1, 2));
  add((*k)->transposed(1, 2));
  add((*v)->transposed(1, 2));
  if (memory) {
    add(*memory);
    add(*lnt);
  }
  if (prevK) {
    add(prevK->transposed(1, 2));
    add(prevV->transposed(1, 2));
  }
  if (seg)
    add(*seg, ElementKind::I64);
  if (prevSeg) {
    add(*prevSeg, ElementKind::I64);
    add(*prevCount, ElementKind::I64);
  }
  std::vector<int64_t> outShape = (*v)->shape;
  std::swap(outShape[1], outShape[2]);
  const Tensor *goutY = c.find("gout.y");
  add(goutY ? goutY->transposed(1, 2) : Tensor(outShape, 0.0));
  bool stateGrads = outMemory != nullptr;
  if (stateGrads) {
    const Tensor *gM = c.find("gout.memory"), *gZ = c.find("gout.lnt");
    add(gM ? finiteGrad(*gM, *outMemory) : Tensor(outMemory->shape, 0.0));
    add(gZ ? finiteGrad(*gZ, *outLnt) : Tensor(outLnt->shape, 0.0));
  }

  kernel.outputKeys = {"out.y"};
  if (stateGrads)
    kernel.outputKeys.insert(kernel.outputKeys.end(),
                             {"out.memory", "out.lnt"});
  kernel.outputKeys.insert(kernel.outputKeys.end(),
                           {"grad.q", "grad.k", "grad.v"});
  if (memory)
    kernel.outputKeys.insert(kernel.outputKeys.end(),
                             {"grad.memory", "grad.lnt"});
  if (prevK)
    kernel.outputKeys.insert(kernel.outputKeys.end(),
                             {"grad.prev_k", "grad.prev_v"});

  bool chunked = *path == "chunked";
  int64_t chunkSize = *chunk;
  bool hasMemory = memory, hasCache = prevK, hasSeg = seg, hasPrevSeg = prevSeg;
  std::vector<int64_t> memoryShape = {(*q)->dim(0), (*q)->dim(1), (*q)->dim(3),
                                      (*v)->dim(3)};
  kernel.body = [=](mlir::OpBuilder &b, mlir::Location loc,
                    mlir::ValueRange args) -> SmallVector<mlir::Value> {
    unsigned next = 3;
    auto take = [&](bool present) {
      return present ? args[next++] : mlir::Value();
    };
    mlir::Value mem = take(hasMemory), z = take(hasMemory);
    mlir::Value pk = take(hasCache), pv = take(hasCache);
    mlir::Value sg = take(hasSeg);
    mlir::Value ps = take(hasPrevSeg), pc = take(hasPrevSeg);
    mlir::Value dout = take(true);
    mlir::Value dm = take(stateGrads), dz = take(stateGrads);
    auto pathAttr = mlir::gecko::ChunkPathAttr::get(
        b.getContext(), chunked ? mlir::gecko::ChunkPath::Chunked
                                : mlir::gecko::ChunkPath::Short);
    auto chunkAttr = b.getI64IntegerAttr(chunkSize);
    mlir::Type f32 = b.getF32Type();
    auto memType = mlir::RankedTensorType::get(memoryShape, f32);
    auto lntType = mlir::RankedTensorType::get(
        ArrayRef<int64_t>(memoryShape).drop_back(), f32);
    auto fwd = mlir::gecko::WorkingMemoryOp::create(
        b, loc, dout.getType(), memType, lntType, pathAttr, args[0], args[1],
        args[2], mem, z, pk, pv, sg, ps, pc, chunkAttr);
    auto grad = mlir::gecko::WorkingMemoryGradOp::create(
        b, loc, args[0].getType(), args[1].getType(), args[2].getType(),
        hasMemory ? mem.getType() : mlir::Type(),
        hasMemory ? z.getType() : mlir::Type(),
        hasCache ? pk.getType() : mlir::Type(),
        hasCache ? pv.getType() : mlir::Type(), pathAttr, args[0], args[1],
        args[2], mem, z, pk, pv, sg, ps, pc, dout, dm, dz, chunkAttr);
    SmallVector<mlir::Value> results = {
        swapHeadsAndTokens(b, loc, fwd.getOut())};
    if (stateGrads) {
      results.push_back(fwd.getNewMemory());
      results.push_back(fwd.getNewLnt());
    }
    results.push_back(swapHeadsAndTokens(b, loc, grad.getDaq()));
    results.push_back(swapHeadsAndTokens(b, loc, grad.getDak()));
    results.push_back(swapHeadsAndTokens(b, loc, grad.getDv()));
    if (hasMemory) {
      results.push_back(grad.getDmemory());
      results.push_back(grad.getDlnt());
    }
    if (hasCache) {
      results.push_back(swapHeadsAndTokens(b, loc, grad.getDprevK()));
      results.push_back(swapHeadsAndTokens(b, loc, grad.getDprevV()));
    }
    return results;
  };
  return kernel;
}

} // namespace gecko::conform
