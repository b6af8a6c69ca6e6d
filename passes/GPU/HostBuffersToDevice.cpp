//===- HostBuffersToDevice.cpp - Host buffers in managed memory -----------===//
//
// gecko-host-buffers-to-device: after kernel outlining, every buffer the
// host code of a launching function hands to a kernel must be reachable
// from the GPU. The host side's buffers (results, temporaries between
// kernels, host leftovers) become `gpu.alloc host_shared` (managed memory:
// cuMemAllocManaged / hipMallocManaged in the runtime's mgpuMemAlloc), so
// that the host code (leftover loops, the caller reading results) and the
// kernels use the same pointers. Their deallocations become gpu.dealloc.
// Memref arguments are copied (on the host) into managed buffers at entry,
// so a caller may pass plain host memory; `copy-arguments=false` leaves
// them alone for callers that already pass device-accessible memory.
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/GPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::gecko {
#define GEN_PASS_DEF_GECKOHOSTBUFFERSTODEVICE
#include "GeckoGpuPasses.h.inc"
} // namespace mlir::gecko

using namespace mlir;

namespace {

/// Buffers that can live in managed memory: default memory space.
bool isHostBuffer(BaseMemRefType type) { return !type.getMemorySpace(); }

/// gpu.dealloc is only lowered in its async form: wait, dealloc, wait.
void createDealloc(OpBuilder &b, Location loc, Value buffer) {
  Type token = gpu::AsyncTokenType::get(b.getContext());
  Value ready =
      gpu::WaitOp::create(b, loc, token, ValueRange{}).getAsyncToken();
  Value done = gpu::DeallocOp::create(b, loc, token, ValueRange{ready}, buffer)
                   .getAsyncToken();
  gpu::WaitOp::create(b, loc, Type(), ValueRange{done});
}

/// Whether `v` (or a view of it) is returned by the function.
bool escapes(Value v) {
  SmallVector<Value> work{v};
  llvm::SmallPtrSet<Value, 8> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (!seen.insert(cur).second)
      continue;
    for (Operation *user : cur.getUsers()) {
      if (isa<func::ReturnOp>(user))
        return true;
      if (isa<ViewLikeOpInterface>(user))
        for (Value r : user->getResults())
          work.push_back(r);
    }
  }
  return false;
}

struct HostBuffersToDevice
    : public gecko::impl::GeckoHostBuffersToDeviceBase<HostBuffersToDevice> {
  using Base::Base;

  LogicalResult convertFunction(func::FuncOp func) {
    IRRewriter rewriter(func.getContext());
    SmallVector<Operation *> allocs, deallocs;
    func.walk([&](Operation *op) {
      if (auto alloc = dyn_cast<memref::AllocOp>(op);
          alloc && isHostBuffer(alloc.getType()))
        allocs.push_back(op);
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op);
          dealloc && isHostBuffer(dealloc.getMemref().getType()))
        deallocs.push_back(op);
    });
    for (Operation *op : allocs) {
      auto alloc = cast<memref::AllocOp>(op);
      rewriter.setInsertionPoint(alloc);
      auto shared = gpu::AllocOp::create(
          rewriter, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          ValueRange{}, alloc.getDynamicSizes(), alloc.getSymbolOperands(),
          /*hostShared=*/true);
      rewriter.replaceOp(alloc, shared.getMemref());
    }
    for (Operation *op : deallocs) {
      rewriter.setInsertionPoint(op);
      createDealloc(rewriter, op->getLoc(),
                    cast<memref::DeallocOp>(op).getMemref());
      rewriter.eraseOp(op);
    }
    // Host stack buffers cannot be reached by a kernel.
    WalkResult stack = func.walk([&](memref::AllocaOp alloca) {
      for (Operation *user : alloca->getUsers())
        if (isa<gpu::LaunchFuncOp>(user)) {
          alloca.emitOpError("gecko-host-buffers-to-device: a host stack "
                             "buffer is passed to a GPU kernel");
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (stack.wasInterrupted())
      return failure();

    if (!copyArguments || func.isExternal())
      return success();
    Block &entry = func.getBody().front();
    SmallVector<func::ReturnOp> returns;
    func.walk([&](func::ReturnOp ret) { returns.push_back(ret); });
    for (BlockArgument arg : entry.getArguments()) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type || arg.use_empty() || !isHostBuffer(type))
        continue;
      if (!type.getLayout().isIdentity())
        return func.emitOpError("gecko-host-buffers-to-device: memref "
                                "argument with a non-identity layout");
      rewriter.setInsertionPointToStart(&entry);
      Location loc = arg.getLoc();
      SmallVector<Value> dynSizes;
      for (int64_t i = 0; i < type.getRank(); ++i)
        if (type.isDynamicDim(i))
          dynSizes.push_back(memref::DimOp::create(rewriter, loc, arg, i));
      Value device =
          gpu::AllocOp::create(rewriter, loc, type, Type(), ValueRange{},
                               dynSizes, ValueRange{}, /*hostShared=*/true)
              .getMemref();
      auto copy = memref::CopyOp::create(rewriter, loc, arg, device);
      rewriter.replaceUsesWithIf(arg, device, [&](OpOperand &use) {
        return use.getOwner() != copy && !isa<memref::DimOp>(use.getOwner());
      });
      if (escapes(device))
        continue; // the caller owns it now (frees it with mgpuMemFree)
      for (func::ReturnOp ret : returns) {
        rewriter.setInsertionPoint(ret);
        createDealloc(rewriter, loc, device);
      }
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      bool launches = false;
      func.walk([&](gpu::LaunchFuncOp) { launches = true; });
      if (launches && failed(convertFunction(func)))
        return signalPassFailure();
    }
  }
};

} // namespace
