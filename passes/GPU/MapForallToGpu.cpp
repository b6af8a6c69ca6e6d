//===- MapForallToGpu.cpp - Tile foralls to blocks, linalg to threads -----===//
//
// gecko-map-forall-to-gpu: the bufferized tile loops of any gecko lowering
// (an outermost scf.forall per op, chunk-local linalg work inside) become
// gpu.launch kernels. The pass prepares the IR in C++ (thread-level foralls
// around every linalg op, workgroup buffers, normalised block foralls) and
// then lets the transform dialect do the mapping proper
// (map_forall_to_blocks generate_gpu_launch, map_nested_forall_to_threads),
// through an embedded transform script.
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/GPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/TransformOps/GPUTransformOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/TransformOps/DialectExtension.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::gecko {
#define GEN_PASS_DEF_GECKOMAPFORALLTOGPU
#include "GeckoGpuPasses.h.inc"
} // namespace mlir::gecko

using namespace mlir;

namespace {

/// Marks the block-level foralls for the transform script.
constexpr StringLiteral kBlockForallAttr = "gecko.gpu.blocks";

/// The outermost scf.forall ops of `func` (not nested in another forall).
SmallVector<scf::ForallOp> collectTileForalls(Operation *root) {
  SmallVector<scf::ForallOp> foralls;
  root->walk([&](scf::ForallOp forall) {
    if (!forall->getParentOfType<scf::ForallOp>() &&
        !forall->getParentOfType<gpu::LaunchOp>())
      foralls.push_back(forall);
  });
  return foralls;
}

/// linalg ops outside every tile forall (per-channel coefficient math,
/// the deterministic reduction of per-tile partial sums, transposes, rank-1
/// element-wise ops) get a one-tile forall of their own, so that they run as
/// a single-block kernel (their work spread over its threads, each output
/// element computed by one thread in a fixed order) instead of on the host.
void wrapHostLeftovers(IRRewriter &rewriter, ModuleOp module) {
  SmallVector<linalg::LinalgOp> leftovers;
  module.walk([&](linalg::LinalgOp op) {
    if (!op->getParentOfType<scf::ForallOp>() &&
        !op->getParentOfType<gpu::LaunchOp>() &&
        !op->getParentOfType<gpu::GPUModuleOp>() && op.hasPureBufferSemantics())
      leftovers.push_back(op);
  });
  for (linalg::LinalgOp op : leftovers) {
    rewriter.setInsertionPoint(op);
    auto forall = scf::ForallOp::create(
        rewriter, op.getLoc(), ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)},
        ValueRange{}, std::nullopt);
    rewriter.moveOpBefore(op, forall.getBody()->getTerminator());
  }
}

/// memref.copy -> linalg.copy, so that copies are distributed like any other
/// linalg op (memref.copy would become a call to a host runtime function).
void copiesToLinalg(IRRewriter &rewriter, scf::ForallOp tile) {
  SmallVector<memref::CopyOp> copies;
  tile.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    rewriter.setInsertionPoint(copy);
    rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                copy.getTarget());
  }
}

/// Module-level constants (memref.get_global outside the tile, e.g. the rope
/// frequency table) are re-read inside the tile, so that kernel outlining
/// copies the global into the device module instead of passing a host
/// pointer to the kernel.
void sinkGlobals(IRRewriter &rewriter, scf::ForallOp tile) {
  llvm::SetVector<Operation *> outside;
  tile.walk([&](Operation *op) {
    for (Value operand : op->getOperands())
      if (auto global = operand.getDefiningOp<memref::GetGlobalOp>())
        if (!tile->isAncestor(global))
          outside.insert(global);
  });
  for (Operation *global : outside) {
    rewriter.setInsertionPointToStart(tile.getBody());
    Operation *copy = rewriter.clone(*global);
    rewriter.replaceUsesWithIf(
        global->getResult(0), copy->getResult(0),
        [&](OpOperand &use) { return tile->isAncestor(use.getOwner()); });
  }
}

/// Re-creates the view ops (collapse/expand_shape, subview) that use `v`
/// after its type changed (a tile buffer moved to workgroup memory), so that
/// their result types carry the new layout and memory space.
LogicalResult retypeViewUsers(IRRewriter &rewriter, Value v) {
  for (Operation *user : llvm::make_early_inc_range(v.getUsers())) {
    rewriter.setInsertionPoint(user);
    Value replacement;
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(user)) {
      replacement = memref::CollapseShapeOp::create(
          rewriter, user->getLoc(), v, collapse.getReassociationIndices());
    } else if (auto expand = dyn_cast<memref::ExpandShapeOp>(user)) {
      replacement = memref::ExpandShapeOp::create(
          rewriter, user->getLoc(), expand.getResultType().getShape(), v,
          expand.getReassociationIndices(), expand.getMixedOutputShape());
    } else if (auto sub = dyn_cast<memref::SubViewOp>(user)) {
      if (sub.getSource() != v)
        continue;
      MemRefType type = memref::SubViewOp::inferRankReducedResultType(
          sub.getType().getShape(), cast<MemRefType>(v.getType()),
          sub.getMixedOffsets(), sub.getMixedSizes(), sub.getMixedStrides());
      replacement = memref::SubViewOp::create(
          rewriter, user->getLoc(), type, v, sub.getMixedOffsets(),
          sub.getMixedSizes(), sub.getMixedStrides());
    } else if (isa<memref::CastOp, memref::ReinterpretCastOp, memref::ViewOp>(
                   user)) {
      return user->emitOpError("gecko-map-forall-to-gpu: cannot move this "
                               "view of a tile buffer to workgroup memory");
    } else {
      continue; // linalg ops, loads and stores take any memref type
    }
    rewriter.replaceOp(user, replacement);
    if (failed(retypeViewUsers(rewriter, replacement)))
      return failure();
  }
  return success();
}

/// Per-tile buffers -> slices of a workgroup-memory memref.global sized by
/// the constant upper bound of every dynamic size, smallest first while the
/// tile's total stays within `budget` bytes. A buffer that does not fit
/// becomes the block's slice of a global scratch buffer (one slice per tile
/// iteration) allocated before the tile loop and freed after it, so that
/// workgroup memory never grows with the problem (e.g. the sequence).
LogicalResult promoteTileBuffers(IRRewriter &rewriter, ModuleOp module,
                                 SymbolTable &symbols, scf::ForallOp tile,
                                 int64_t budget) {
  struct Buffer {
    Operation *op;
    SmallVector<int64_t> bounds;
    SmallVector<OpFoldResult> sizes;
    int64_t bytes;
  };
  SmallVector<Buffer> buffers;
  WalkResult walk = tile.walk([&](Operation *op) {
    if (!isa<memref::AllocOp, memref::AllocaOp>(op))
      return WalkResult::advance();
    auto type = cast<MemRefType>(op->getResult(0).getType());
    if (!type.getLayout().isIdentity()) {
      op->emitOpError("gecko-map-forall-to-gpu: per-tile buffer with a "
                      "non-identity layout");
      return WalkResult::interrupt();
    }
    Buffer buffer{op, {}, {}, 0};
    ValueRange dynSizes = op->getOperands();
    unsigned nextDyn = 0;
    int64_t elements = 1;
    for (int64_t dim : type.getShape()) {
      if (!ShapedType::isDynamic(dim)) {
        buffer.bounds.push_back(dim);
        buffer.sizes.push_back(rewriter.getIndexAttr(dim));
        elements *= dim;
        continue;
      }
      Value size = dynSizes[nextDyn++];
      FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
          presburger::BoundType::UB, ValueBoundsConstraintSet::Variable(size),
          /*stopCondition=*/nullptr, /*closedUB=*/true);
      if (failed(ub)) {
        op->emitOpError(
            "gecko-map-forall-to-gpu: per-tile buffer size has no constant "
            "upper bound (tile buffers must be sized statically)");
        return WalkResult::interrupt();
      }
      buffer.bounds.push_back(*ub);
      buffer.sizes.push_back(size);
      elements *= *ub;
    }
    int64_t elementBytes = llvm::divideCeil(type.getElementTypeBitWidth(), 8);
    buffer.bytes = llvm::alignTo(elements * elementBytes, 16);
    buffers.push_back(std::move(buffer));
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  // Smallest first (stable: deterministic), while the total fits.
  SmallVector<unsigned> order(buffers.size());
  for (unsigned i = 0; i < buffers.size(); ++i)
    order[i] = i;
  llvm::stable_sort(order, [&](unsigned a, unsigned b) {
    return buffers[a].bytes < buffers[b].bytes;
  });
  SmallVector<bool> inWorkgroup(buffers.size(), false);
  int64_t used = 0;
  for (unsigned i : order) {
    if (used + buffers[i].bytes > budget)
      break;
    used += buffers[i].bytes;
    inWorkgroup[i] = true;
  }

  // The tile's linear iteration index (for the scratch slices).
  Value linear;
  int64_t iterations = 1;
  auto linearIndex = [&]() -> FailureOr<Value> {
    if (linear)
      return linear;
    ArrayRef<int64_t> lbs = tile.getStaticLowerBound();
    ArrayRef<int64_t> ubs = tile.getStaticUpperBound();
    ArrayRef<int64_t> steps = tile.getStaticStep();
    if (llvm::any_of(llvm::concat<const int64_t>(lbs, ubs, steps),
                     ShapedType::isDynamic))
      return tile.emitOpError("gecko-map-forall-to-gpu: a tile buffer over "
                              "the workgroup-memory budget needs a static "
                              "tile grid");
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(tile.getBody());
    Location loc = tile.getLoc();
    Value acc = arith::ConstantIndexOp::create(rewriter, loc, 0);
    for (auto [iv, lb, ub, step] :
         llvm::zip(tile.getInductionVars(), lbs, ubs, steps)) {
      int64_t trips = ub > lb ? llvm::divideCeil(ub - lb, step) : 0;
      iterations *= trips;
      Value shifted = arith::SubIOp::create(
          rewriter, loc, iv, arith::ConstantIndexOp::create(rewriter, loc, lb));
      Value k = arith::DivUIOp::create(
          rewriter, loc, shifted,
          arith::ConstantIndexOp::create(rewriter, loc, step));
      acc = arith::MulIOp::create(
          rewriter, loc, acc,
          arith::ConstantIndexOp::create(rewriter, loc, trips));
      acc = arith::AddIOp::create(rewriter, loc, acc, k);
    }
    linear = acc;
    return linear;
  };

  MLIRContext *ctx = module.getContext();
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  for (auto [i, buffer] : llvm::enumerate(buffers)) {
    Operation *op = buffer.op;
    auto type = cast<MemRefType>(op->getResult(0).getType());
    Value view;
    if (inWorkgroup[i]) {
      auto globalType = MemRefType::get(buffer.bounds, type.getElementType(),
                                        MemRefLayoutAttrInterface{}, workgroup);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(module.getBody());
      auto global = memref::GlobalOp::create(
          rewriter, op->getLoc(), rewriter.getStringAttr("__gecko_tile_buffer"),
          rewriter.getStringAttr("private"), TypeAttr::get(globalType),
          rewriter.getUnitAttr(), /*constant=*/nullptr,
          rewriter.getI64IntegerAttr(16));
      symbols.insert(global); // uniquifies the name
      rewriter.setInsertionPoint(op);
      view = memref::GetGlobalOp::create(rewriter, op->getLoc(), globalType,
                                         global.getSymName());
      if (!type.hasStaticShape()) {
        SmallVector<OpFoldResult> zeros(type.getRank(),
                                        rewriter.getIndexAttr(0));
        SmallVector<OpFoldResult> ones(type.getRank(),
                                       rewriter.getIndexAttr(1));
        view = memref::SubViewOp::create(rewriter, op->getLoc(), view, zeros,
                                         buffer.sizes, ones);
      }
    } else {
      FailureOr<Value> block = linearIndex();
      if (failed(block))
        return failure();
      SmallVector<int64_t> shape = {iterations};
      llvm::append_range(shape, buffer.bounds);
      auto scratchType = MemRefType::get(shape, type.getElementType());
      Value scratch;
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPoint(tile);
        scratch = memref::AllocOp::create(rewriter, op->getLoc(), scratchType,
                                          rewriter.getI64IntegerAttr(16));
        rewriter.setInsertionPointAfter(tile);
        memref::DeallocOp::create(rewriter, op->getLoc(), scratch);
      }
      rewriter.setInsertionPoint(op);
      SmallVector<OpFoldResult> offsets(type.getRank() + 1,
                                        rewriter.getIndexAttr(0));
      offsets[0] = *block;
      SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(1)};
      llvm::append_range(sizes, buffer.sizes);
      SmallVector<OpFoldResult> ones(type.getRank() + 1,
                                     rewriter.getIndexAttr(1));
      auto viewType = memref::SubViewOp::inferRankReducedResultType(
          type.getShape(), scratchType, offsets, sizes, ones);
      view = memref::SubViewOp::create(rewriter, op->getLoc(),
                                       cast<MemRefType>(viewType), scratch,
                                       offsets, sizes, ones);
    }
    // Buffers are reused by the next kernel launch: drop deallocations.
    for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
      if (isa<memref::DeallocOp>(user))
        rewriter.eraseOp(user);
    rewriter.replaceOp(op, view);
    if (failed(retypeViewUsers(rewriter, view)))
      return failure();
  }
  return success();
}

/// Wraps `op` (on buffers) in a thread-level scf.forall of `blockSize`
/// threads: the parallel iteration space is linearised and walked
/// block-stride, reduction loops run sequentially inside the thread with the
/// outputs carried in registers.
LogicalResult distributeToThreads(IRRewriter &rewriter, linalg::LinalgOp op,
                                  int64_t blockSize) {
  if (!op.hasPureBufferSemantics())
    return op->emitOpError("gecko-map-forall-to-gpu: expected bufferized IR");
  Location loc = op.getLoc();
  MLIRContext *ctx = op->getContext();
  rewriter.setInsertionPoint(op);

  SmallVector<Range, 4> ranges = op.createLoopRanges(rewriter, loc);
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> parallelDims, reductionDims;
  for (auto [dim, it] : llvm::enumerate(iterators))
    (it == utils::IteratorType::parallel ? parallelDims : reductionDims)
        .push_back(dim);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto sizeOf = [&](unsigned dim) {
    return getValueOrCreateConstantIndexOp(rewriter, loc, ranges[dim].size);
  };

  // Outputs are carried through the reduction loops when no output depends
  // on a reduction dimension (true for every reduction gecko emits).
  bool carryOutputs = llvm::all_of(op.getDpsInitsMutable(), [&](OpOperand &o) {
    AffineMap map = op.getMatchingIndexingMap(&o);
    return llvm::none_of(reductionDims,
                         [&](unsigned d) { return map.isFunctionOfDim(d); });
  });

  Value total = arith::ConstantIndexOp::create(rewriter, loc, 1);
  SmallVector<Value> parallelSizes;
  for (unsigned d : parallelDims) {
    parallelSizes.push_back(sizeOf(d));
    total = arith::MulIOp::create(rewriter, loc, total, parallelSizes.back());
  }
  SmallVector<Value> reductionSizes;
  for (unsigned d : reductionDims)
    reductionSizes.push_back(sizeOf(d));

  auto mapping = rewriter.getArrayAttr(
      {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
  Block &payload = *op.getBlock();
  unsigned numInputs = op.getNumDpsInputs();

  auto forall = scf::ForallOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(blockSize)},
      ValueRange{}, mapping);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(forall.getBody());
  Value tid = forall.getInductionVar(0);
  Value stride = arith::ConstantIndexOp::create(rewriter, loc, blockSize);
  auto strided = scf::ForOp::create(rewriter, loc, tid, total, stride);
  rewriter.setInsertionPointToStart(strided.getBody());
  SmallVector<Value> ivs(iterators.size());
  if (!parallelDims.empty()) {
    auto delin = affine::AffineDelinearizeIndexOp::create(
        rewriter, loc, strided.getInductionVar(), parallelSizes);
    for (auto [i, d] : llvm::enumerate(parallelDims))
      ivs[d] = delin.getResult(i);
  }

  auto indicesFor = [&](OpBuilder &b, OpOperand *operand) {
    AffineMap map = op.getMatchingIndexingMap(operand);
    SmallVector<Value> indices;
    for (AffineExpr expr : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        indices.push_back(ivs[dim.getPosition()]);
        continue;
      }
      indices.push_back(affine::AffineApplyOp::create(
          b, loc, AffineMap::get(map.getNumDims(), 0, expr), ivs));
    }
    return indices;
  };
  auto load = [&](OpBuilder &b, OpOperand *operand) -> Value {
    Value v = operand->get();
    if (!isa<MemRefType>(v.getType()))
      return v; // a scalar operand (linalg.fill's value)
    return memref::LoadOp::create(b, loc, v, indicesFor(b, operand));
  };
  // Clones the payload with `args` for the block arguments; returns the
  // yielded values.
  auto emitPayload = [&](OpBuilder &b, ArrayRef<Value> args) {
    IRMapping map;
    map.map(payload.getArguments(), args);
    for (Operation &inner : payload.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        map.map(index.getResult(), ivs[index.getDim()]);
        continue;
      }
      b.clone(inner, map);
    }
    SmallVector<Value> yielded;
    for (Value v : payload.getTerminator()->getOperands())
      yielded.push_back(map.lookupOrDefault(v));
    return yielded;
  };
  auto inputsAt = [&](OpBuilder &b) {
    SmallVector<Value> args;
    for (OpOperand *in : op.getDpsInputOperands())
      args.push_back(load(b, in));
    return args;
  };
  auto storeOutputs = [&](OpBuilder &b, ArrayRef<Value> values) {
    for (auto [i, init] : llvm::enumerate(op.getDpsInitsMutable()))
      memref::StoreOp::create(b, loc, values[i], init.get(),
                              indicesFor(b, &init));
  };

  if (carryOutputs) {
    SmallVector<Value> acc;
    for (OpOperand &init : op.getDpsInitsMutable())
      acc.push_back(load(rewriter, &init));
    // Nested sequential reduction loops carrying the outputs.
    std::function<SmallVector<Value>(OpBuilder &, unsigned, ValueRange)>
        reduce = [&](OpBuilder &b, unsigned level,
                     ValueRange carried) -> SmallVector<Value> {
      if (level == reductionDims.size()) {
        SmallVector<Value> args = inputsAt(b);
        args.append(carried.begin(), carried.end());
        return emitPayload(b, args);
      }
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto loop = scf::ForOp::create(
          b, loc, zero, reductionSizes[level], one, carried,
          [&](OpBuilder &nb, Location, Value iv, ValueRange iter) {
            ivs[reductionDims[level]] = iv;
            scf::YieldOp::create(nb, loc, reduce(nb, level + 1, iter));
          });
      return SmallVector<Value>(loop.getResults());
    };
    storeOutputs(rewriter, reduce(rewriter, 0, acc));
  } else {
    // Fallback: read-modify-write the outputs in the innermost loop.
    std::function<void(OpBuilder &, unsigned)> nest = [&](OpBuilder &b,
                                                          unsigned level) {
      if (level == reductionDims.size()) {
        SmallVector<Value> args = inputsAt(b);
        for (OpOperand &init : op.getDpsInitsMutable())
          args.push_back(load(b, &init));
        storeOutputs(b, emitPayload(b, args));
        return;
      }
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      scf::ForOp::create(b, loc, zero, reductionSizes[level], one, ValueRange{},
                         [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                           ivs[reductionDims[level]] = iv;
                           nest(nb, level + 1);
                           scf::YieldOp::create(nb, loc);
                         });
    };
    nest(rewriter, 0);
  }
  (void)numInputs;
  rewriter.eraseOp(op);
  return success();
}

/// Gives the (normalised) tile forall a gpu.block mapping: the last
/// dimension on x, the one before on y, then z; more than 3 dimensions use
/// the linear block ids.
void setBlockMapping(scf::ForallOp forall) {
  MLIRContext *ctx = forall.getContext();
  int64_t rank = forall.getRank();
  SmallVector<Attribute> ids;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t fromLast = rank - 1 - i;
    gpu::MappingId id =
        rank <= 3
            ? static_cast<gpu::MappingId>(fromLast)
            : static_cast<gpu::MappingId>(
                  static_cast<uint64_t>(gpu::MappingId::LinearDim0) + fromLast);
    ids.push_back(gpu::GPUBlockMappingAttr::get(ctx, id));
  }
  forall.setMappingAttr(ArrayAttr::get(ctx, ids));
  forall->setAttr(kBlockForallAttr, UnitAttr::get(ctx));
}

constexpr const char *kMappingScript = R"mlir(
module attributes {{transform.with_named_sequence} {{
  transform.named_sequence @__transform_main(
      %root: !transform.any_op {{transform.readonly}) {{
    %tiles = transform.structured.match ops{{["scf.forall"]}
        attributes {{gecko.gpu.blocks} in %root
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %tiles : !transform.any_op {{
    ^bb0(%tile: !transform.any_op):
      %launch = transform.gpu.map_forall_to_blocks %tile generate_gpu_launch
          : (!transform.any_op) -> !transform.any_op
      transform.gpu.map_nested_forall_to_threads %launch
          block_dims = [{0}, 1, 1] sync_after_distribute = true
          : (!transform.any_op) -> !transform.any_op
    }
    transform.yield
  }
}
)mlir";

struct MapForallToGpu
    : public gecko::impl::GeckoMapForallToGpuBase<MapForallToGpu> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    gpu::registerTransformDialectExtension(registry);
    linalg::registerTransformDialectExtension(registry);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockSize <= 0 || blockSize > 1024) {
      module.emitError("gecko-map-forall-to-gpu: block-size must be in "
                       "[1, 1024], got ")
          << blockSize;
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    SymbolTable symbols(module);
    wrapHostLeftovers(rewriter, module);
    SmallVector<scf::ForallOp> tiles = collectTileForalls(module);
    if (tiles.empty())
      return;
    for (scf::ForallOp tile : tiles) {
      if (tile.getNumResults() != 0) {
        tile.emitOpError("gecko-map-forall-to-gpu: expected a bufferized "
                         "scf.forall (run one-shot-bufferize first)");
        return signalPassFailure();
      }
      copiesToLinalg(rewriter, tile);
      sinkGlobals(rewriter, tile);
      if (failed(promoteTileBuffers(rewriter, module, symbols, tile,
                                    workgroupMemoryBudget)))
        return signalPassFailure();
      SmallVector<linalg::LinalgOp> work;
      tile.walk([&](linalg::LinalgOp op) { work.push_back(op); });
      for (linalg::LinalgOp op : work)
        if (failed(distributeToThreads(rewriter, op, blockSize)))
          return signalPassFailure();
      rewriter.setInsertionPoint(tile);
      FailureOr<scf::ForallOp> normalized = normalizeForallOp(rewriter, tile);
      if (failed(normalized)) {
        tile.emitOpError("gecko-map-forall-to-gpu: cannot normalise");
        return signalPassFailure();
      }
      for (int64_t ub : normalized->getStaticUpperBound())
        if (ShapedType::isDynamic(ub)) {
          normalized->emitOpError("gecko-map-forall-to-gpu: the tile grid "
                                  "must be static");
          return signalPassFailure();
        }
      setBlockMapping(*normalized);
    }

    // The mapping proper, by the transform dialect.
    std::string script = llvm::formatv(kMappingScript, blockSize).str();
    OwningOpRef<ModuleOp> transforms =
        parseSourceString<ModuleOp>(script, &getContext());
    if (!transforms) {
      module.emitError("gecko-map-forall-to-gpu: bad embedded script");
      return signalPassFailure();
    }
    Operation *entry = SymbolTable::lookupSymbolIn(transforms->getOperation(),
                                                   "__transform_main");
    if (failed(transform::applyTransformNamedSequence(
            module, entry, *transforms,
            transform::TransformOptions().enableExpensiveChecks(false))))
      return signalPassFailure();
  }
};

} // namespace
