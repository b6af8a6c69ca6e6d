//===- AttentionFusion.cpp - Attention prologue / epilogue fusion ---------===//
//
// gecko-fuse-attention-prologue: the MEGA block (spec §8) forms
//   q, k, aq, ak = gecko.z_split(z)            4 x (B, L, Z) written
//   qh, kh = gecko.rope(expand(q)), gecko.rope(expand(k))
//   sca = gecko.chunk_attention(qh, kh, v)     q, k read (k once per window)
//   awm = gecko.working_memory(expand(aq), expand(ak), v)
// and the fusion makes the attention and memory kernels read z (and the
// split's per-head scale/offset) instead: gecko.fused_chunk_attention with a
// zsplit [rope] prologue, gecko.fused_working_memory. The rotated keys and
// ak are still needed by the §9 cache; the fused ops return the kept rows
// (the last min(L, C)) as `key_cache` when the keys have other uses.
//
// gecko-fuse-attention-epilogue: gecko.gated_add(collapse(sca), b, gate g)
// becomes the epilogue of the attention op, placed at the gated_add so that
// b (the working memory output) is computed first.
//
//===----------------------------------------------------------------------===//

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"
#include "gecko/Fusion/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "gecko-fuse-attention"

namespace mlir::gecko {

#define GEN_PASS_DEF_GECKOFUSEATTENTIONPROLOGUE
#define GEN_PASS_DEF_GECKOFUSEATTENTIONEPILOGUE
#include "GeckoFusionPasses.h.inc"

namespace {

//===----------------------------------------------------------------------===//
// Building gecko.fused_chunk_attention
//===----------------------------------------------------------------------===//

/// Everything a gecko.fused_chunk_attention is made of.
struct AttentionParts {
  ChunkPathAttr path;
  Value q, k, z, gamma, beta, start, v, prevK, prevV, seg, prevSeg;
  Value addend, gate;
  IntegerAttr chunkSize;
  UnitAttr causal;
  FloatAttr eps, ropeBase;
  IntegerAttr numRopeHeads;
  Type outType, keyCacheType; // keyCacheType null: no key_cache result
};

AttentionParts partsOf(ChunkAttentionOp op) {
  AttentionParts p;
  p.path = op.getPathAttr();
  p.q = op.getQ(), p.k = op.getK(), p.v = op.getV();
  p.prevK = op.getPrevK(), p.prevV = op.getPrevV();
  p.seg = op.getSeg(), p.prevSeg = op.getPrevSeg();
  p.chunkSize = op.getChunkSizeAttr();
  p.causal = op.getCausalAttr();
  p.outType = op.getOut().getType();
  return p;
}

AttentionParts partsOf(FusedChunkAttentionOp op) {
  AttentionParts p;
  p.path = op.getPathAttr();
  p.q = op.getQ(), p.k = op.getK(), p.z = op.getZ();
  p.gamma = op.getGamma(), p.beta = op.getBeta(), p.start = op.getStart();
  p.v = op.getV();
  p.prevK = op.getPrevK(), p.prevV = op.getPrevV();
  p.seg = op.getSeg(), p.prevSeg = op.getPrevSeg();
  p.addend = op.getAddend(), p.gate = op.getGate();
  p.chunkSize = op.getChunkSizeAttr();
  p.causal = op.getCausalAttr();
  p.eps = op.getEpsAttr(), p.ropeBase = op.getRopeBaseAttr();
  p.numRopeHeads = op.getNumRopeHeadsAttr();
  p.outType = op.getOut().getType();
  if (Value keyCache = op.getKeyCache())
    p.keyCacheType = keyCache.getType();
  return p;
}

FusedChunkAttentionOp buildFused(OpBuilder &b, Location loc,
                                 const AttentionParts &p) {
  return FusedChunkAttentionOp::create(
      b, loc, p.outType, p.keyCacheType, p.path, p.q, p.k, p.z, p.gamma, p.beta,
      p.start, p.v, p.prevK, p.prevV, p.seg, p.prevSeg, p.addend, p.gate,
      p.chunkSize, p.causal, p.eps, p.ropeBase, p.numRopeHeads);
}

//===----------------------------------------------------------------------===//
// Prologue
//===----------------------------------------------------------------------===//

RankedTensorType rankedType(Value v) {
  return dyn_cast<RankedTensorType>(v.getType());
}

/// The reassociation (B, L, X) <-> (B, L, H, X/H).
bool isHeadSplit(ArrayRef<ReassociationIndices> groups) {
  return groups.size() == 3 && groups[0] == ReassociationIndices{0} &&
         groups[1] == ReassociationIndices{1} &&
         groups[2] == ReassociationIndices{2, 3};
}

/// One operand of a consumer traced back to the z split: `value` (what the
/// consumer reads) = [rope](expand(split result `index`)).
struct SplitOperand {
  ZSplitOp split;
  tensor::ExpandShapeOp expand;
  RopeOp rope; // or null
};

/// Why `value` is not `[rope](head-split expand(z_split result index))`
/// with single-use intermediates (empty when it is).
std::string traceSplitOperand(Value value, unsigned index, bool allowRope,
                              SplitOperand &out) {
  out = {};
  Value current = value;
  if (auto rope = current.getDefiningOp<RopeOp>()) {
    if (!allowRope)
      return "the operand is rotated";
    out.rope = rope;
    current = rope.getX();
    if (!current.hasOneUse())
      return "the rotated value's input has other uses";
  }
  auto expand = current.getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand)
    return "the operand is not a head split (tensor.expand_shape)";
  if (!isHeadSplit(expand.getReassociationIndices()))
    return "the expand_shape is not (B, L, Z) -> (B, L, H, Z/H)";
  out.expand = expand;
  auto result = dyn_cast<OpResult>(expand.getSrc());
  auto split = expand.getSrc().getDefiningOp<ZSplitOp>();
  if (!split || result.getResultNumber() != index)
    return "the head split does not read the expected z_split result";
  if (!expand.getSrc().hasOneUse())
    return "the z_split result has other uses";
  auto type = rankedType(expand.getResult());
  if (!type || !type.hasStaticShape() ||
      type.getDimSize(2) != static_cast<int64_t>(split.getNumHeads()))
    return "the head split's H differs from the z_split's num_heads";
  out.split = split;
  return "";
}

/// Whether the two ropes rotate with the same positions and frequencies.
bool sameRope(RopeOp a, RopeOp b) {
  if (!a || !b)
    return !a && !b;
  return a.getStart() == b.getStart() && a.getBaseAttr() == b.getBaseAttr() &&
         a.getNumRopeHeadsAttr() == b.getNumRopeHeadsAttr();
}

/// The keys' uses besides `consumer`, which must all be cache reads: with
/// `kept == length` any use, else tensor.extract_slice of rows in
/// [length - kept, length) along dim 1 (all of every other dim). Returns
/// false when some other use is not.
bool cacheUses(Value keys, Operation *consumer, int64_t length, int64_t kept,
               SmallVectorImpl<OpOperand *> &uses) {
  auto type = cast<RankedTensorType>(keys.getType());
  for (OpOperand &use : keys.getUses()) {
    if (use.getOwner() == consumer)
      continue;
    uses.push_back(&use);
    if (kept == length)
      continue;
    auto slice = dyn_cast<tensor::ExtractSliceOp>(use.getOwner());
    if (!slice || !slice.hasUnitStride() ||
        slice.getSourceType().getRank() != slice.getResultType().getRank())
      return false;
    ArrayRef<int64_t> offsets = slice.getStaticOffsets();
    ArrayRef<int64_t> sizes = slice.getStaticSizes();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (ShapedType::isDynamic(offsets[d]) || ShapedType::isDynamic(sizes[d]))
        return false;
      if (d == 1 ? offsets[d] < length - kept
                 : offsets[d] != 0 || sizes[d] != type.getDimSize(d))
        return false;
    }
  }
  return true;
}

/// Whether every use in `uses` is (nested in) an op after `anchor` in
/// `anchor`'s block, so that a result of an op placed at `anchor` dominates
/// it.
bool allAfter(ArrayRef<OpOperand *> uses, Operation *anchor) {
  Block *block = anchor->getBlock();
  for (OpOperand *use : uses) {
    Operation *user = block->findAncestorOpInBlock(*use->getOwner());
    if (!user || !anchor->isBeforeInBlock(user))
      return false;
  }
  return true;
}

/// Rewires the cache uses of the keys to `keyCache` (rows
/// [length - kept, length)).
void rewireCacheUses(RewriterBase &rewriter, ArrayRef<OpOperand *> uses,
                     Value keyCache, int64_t length, int64_t kept) {
  for (OpOperand *use : uses) {
    if (kept == length) {
      rewriter.modifyOpInPlace(use->getOwner(), [&] { use->set(keyCache); });
      continue;
    }
    auto slice = cast<tensor::ExtractSliceOp>(use->getOwner());
    SmallVector<int64_t> offsets(slice.getStaticOffsets());
    offsets[1] -= length - kept;
    rewriter.setInsertionPoint(slice);
    SmallVector<OpFoldResult> offs, sizes, strides;
    for (auto [o, s] : llvm::zip_equal(offsets, slice.getStaticSizes())) {
      offs.push_back(rewriter.getIndexAttr(o));
      sizes.push_back(rewriter.getIndexAttr(s));
      strides.push_back(rewriter.getIndexAttr(1));
    }
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        slice, slice.getResultType(), keyCache, offs, sizes, strides);
  }
}

/// gamma/beta (4, Z) -> (4, H, Z/H), z (B, L, Z) -> (B, L, H, Z/H), created
/// right after the z split (so that they dominate all its consumers), once
/// per z split.
struct SplitViews {
  Value z, gamma, beta;
};
using ViewCache = llvm::DenseMap<Operation *, SplitViews>;
SplitViews headViews(RewriterBase &rewriter, ViewCache &cache, ZSplitOp split) {
  auto it = cache.find(split);
  if (it != cache.end())
    return it->second;
  rewriter.setInsertionPointAfter(split);
  Location loc = split.getLoc();
  auto heads = static_cast<int64_t>(split.getNumHeads());
  auto view = [&](Value v, ArrayRef<ReassociationIndices> groups) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(type.getShape().drop_back());
    shape.push_back(heads);
    shape.push_back(type.getShape().back() / heads);
    return tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, type.getElementType()), v,
        groups);
  };
  SplitViews views{view(split.getZ(), {{0}, {1}, {2, 3}}),
                   view(split.getGamma(), {{0}, {1, 2}}),
                   view(split.getBeta(), {{0}, {1, 2}})};
  cache[split] = views;
  return views;
}

/// Kept cache rows: min(L, C).
int64_t keptRows(ChunkPath path, int64_t length, int64_t chunk) {
  return path == ChunkPath::Chunked ? chunk : length;
}

/// Erases `ops` (in order) where they became dead.
void eraseIfDead(RewriterBase &rewriter, ArrayRef<Operation *> ops) {
  for (Operation *op : ops)
    if (op && op->use_empty())
      rewriter.eraseOp(op);
}

/// Why the attention op `op` (q, k operands) cannot take the z split into
/// its prologue; rewrites it when it can.
std::string fuseAttentionPrologue(RewriterBase &rewriter, ViewCache &views,
                                  Operation *op, AttentionParts parts) {
  if (!parts.q || !parts.k)
    return "the attention op has no q/k operands";
  if (parts.q == parts.k)
    return "q and k are the same value";
  SplitOperand q, k;
  if (std::string why = traceSplitOperand(parts.q, 0, true, q); !why.empty())
    return "q: " + why;
  if (std::string why = traceSplitOperand(parts.k, 1, true, k); !why.empty())
    return "k: " + why;
  if (q.split != k.split)
    return "q and k come from different z splits";
  if (!sameRope(q.rope, k.rope))
    return "q and k are not rotated alike";
  if (!parts.q.hasOneUse())
    return "q has other uses";
  auto kType = cast<RankedTensorType>(parts.k.getType());
  int64_t length = kType.getDimSize(1);
  int64_t kept = keptRows(parts.path.getValue(), length,
                          static_cast<int64_t>(parts.chunkSize.getInt()));
  SmallVector<OpOperand *> cache;
  if (!cacheUses(parts.k, op, length, kept, cache))
    return "k has uses other than the attention and cache rows [L - C, L)";
  if (!allAfter(cache, op))
    return "a cache use of k precedes the attention";

  SplitViews view = headViews(rewriter, views, q.split);
  parts.q = parts.k = Value();
  parts.z = view.z, parts.gamma = view.gamma, parts.beta = view.beta;
  parts.eps = q.split.getEpsAttr();
  if (q.rope) {
    parts.start = q.rope.getStart();
    parts.ropeBase = q.rope.getBaseAttr();
    parts.numRopeHeads = q.rope.getNumRopeHeadsAttr();
  }
  if (!cache.empty()) {
    SmallVector<int64_t> shape(kType.getShape());
    shape[1] = kept;
    parts.keyCacheType = RankedTensorType::get(shape, kType.getElementType());
  }
  rewriter.setInsertionPoint(op);
  FusedChunkAttentionOp fused = buildFused(rewriter, op->getLoc(), parts);
  rewireCacheUses(rewriter, cache, fused.getKeyCache(), length, kept);
  rewriter.replaceAllUsesWith(op->getResult(0), fused.getOut());
  rewriter.eraseOp(op);
  eraseIfDead(rewriter, {q.rope, k.rope, q.expand, k.expand});
  if (q.split->use_empty()) {
    views.erase(q.split);
    rewriter.eraseOp(q.split);
  }
  return "";
}

std::string fuseMemoryPrologue(RewriterBase &rewriter, ViewCache &viewCache,
                               WorkingMemoryOp op) {
  SplitOperand aq, ak;
  if (op.getAq() == op.getAk())
    return "aq and ak are the same value";
  if (std::string why = traceSplitOperand(op.getAq(), 2, false, aq);
      !why.empty())
    return "aq: " + why;
  if (std::string why = traceSplitOperand(op.getAk(), 3, false, ak);
      !why.empty())
    return "ak: " + why;
  if (aq.split != ak.split)
    return "aq and ak come from different z splits";
  if (!op.getAq().hasOneUse())
    return "aq has other uses";
  auto kType = cast<RankedTensorType>(op.getAk().getType());
  int64_t length = kType.getDimSize(1);
  int64_t kept =
      keptRows(op.getPath(), length, static_cast<int64_t>(op.getChunkSize()));
  SmallVector<OpOperand *> cache;
  if (!cacheUses(op.getAk(), op, length, kept, cache))
    return "ak has uses other than the memory and cache rows [L - C, L)";
  if (!allAfter(cache, op))
    return "a cache use of ak precedes the memory";

  SplitViews views = headViews(rewriter, viewCache, aq.split);
  Type keyCacheType;
  if (!cache.empty()) {
    SmallVector<int64_t> shape(kType.getShape());
    shape[1] = kept;
    keyCacheType = RankedTensorType::get(shape, kType.getElementType());
  }
  rewriter.setInsertionPoint(op);
  auto fused = FusedWorkingMemoryOp::create(
      rewriter, op.getLoc(), op.getOut().getType(), op.getNewMemory().getType(),
      op.getNewLnt().getType(), keyCacheType, op.getPathAttr(), views.z,
      views.gamma, views.beta, op.getV(), op.getMemory(), op.getLnt(),
      op.getPrevK(), op.getPrevV(), op.getSeg(), op.getPrevSeg(),
      op.getPrevCount(), op.getChunkSizeAttr(), aq.split.getEpsAttr());
  rewireCacheUses(rewriter, cache, fused.getKeyCache(), length, kept);
  rewriter.replaceAllUsesWith(op->getResults(),
                              fused->getResults().take_front(3));
  rewriter.eraseOp(op);
  eraseIfDead(rewriter, {aq.expand, ak.expand});
  if (aq.split->use_empty()) {
    viewCache.erase(aq.split);
    rewriter.eraseOp(aq.split);
  }
  return "";
}

struct GeckoFuseAttentionProloguePass
    : impl::GeckoFuseAttentionPrologueBase<GeckoFuseAttentionProloguePass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<ChunkAttentionOp, WorkingMemoryOp>(op))
        ops.push_back(op);
      if (auto fused = dyn_cast<FusedChunkAttentionOp>(op);
          fused && fused.getQ())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    ViewCache views;
    for (Operation *op : ops) {
      std::string why;
      if (auto sca = dyn_cast<ChunkAttentionOp>(op))
        why = fuseAttentionPrologue(rewriter, views, op, partsOf(sca));
      else if (auto fused = dyn_cast<FusedChunkAttentionOp>(op))
        why = fuseAttentionPrologue(rewriter, views, op, partsOf(fused));
      else
        why = fuseMemoryPrologue(rewriter, views, cast<WorkingMemoryOp>(op));
      LLVM_DEBUG(if (!why.empty()) llvm::dbgs()
                 << "not fused: " << *op << ": " << why << "\n");
    }
  }
};

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

/// `v` (B, L, H·d) viewed as (B, L, H, d): the source of a head-merging
/// collapse_shape when `v` is one, else a new expand_shape before `at`.
Value headSplitView(RewriterBase &rewriter, Operation *at, Value v,
                    RankedTensorType like) {
  if (auto collapse = v.getDefiningOp<tensor::CollapseShapeOp>())
    if (collapse.getSrcType() == like &&
        isHeadSplit(collapse.getReassociationIndices()))
      return collapse.getSrc();
  rewriter.setInsertionPoint(at);
  auto type = cast<RankedTensorType>(v.getType());
  return tensor::ExpandShapeOp::create(
      rewriter, at->getLoc(),
      RankedTensorType::get(like.getShape(), type.getElementType()), v,
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

std::string fuseEpilogue(RewriterBase &rewriter, GatedAddOp add) {
  auto collapse = add.getA().getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse || !isHeadSplit(collapse.getReassociationIndices()))
    return "the gated operand is not a head merge (tensor.collapse_shape)";
  Operation *attention = collapse.getSrc().getDefiningOp();
  AttentionParts parts;
  if (auto sca = dyn_cast_or_null<ChunkAttentionOp>(attention)) {
    parts = partsOf(sca);
  } else if (auto fused = dyn_cast_or_null<FusedChunkAttentionOp>(attention)) {
    if (fused.getAddend())
      return "the attention already has an epilogue";
    parts = partsOf(fused);
  } else {
    return "the gated operand is not an attention output";
  }
  if (!collapse.getSrc().hasOneUse() || !collapse.getResult().hasOneUse())
    return "the attention output has other uses";
  if (add.getB() == add.getA() || add.getGate() == add.getA())
    return "the attention output is used twice";
  if (attention->getBlock() != add->getBlock())
    return "the attention and the gated_add are in different blocks";
  auto headType = cast<RankedTensorType>(collapse.getSrcType());
  if (!headType.hasStaticShape() ||
      rankedType(add.getB()) != rankedType(add.getA()) ||
      (add.getGate() && rankedType(add.getGate()) != rankedType(add.getA())))
    return "the gated_add operands are not one static type";
  SmallVector<OpOperand *> keyCacheUses;
  if (attention->getNumResults() > 1)
    for (OpOperand &use : attention->getResult(1).getUses())
      keyCacheUses.push_back(&use);
  if (!allAfter(keyCacheUses, add))
    return "a use of the key cache precedes the gated_add";

  // Head merges of the addend / gate that become dead.
  Operation *b = add.getB().getDefiningOp<tensor::CollapseShapeOp>();
  Operation *gate = add.getGate()
                        ? add.getGate().getDefiningOp<tensor::CollapseShapeOp>()
                        : nullptr;
  parts.addend = headSplitView(rewriter, add, add.getB(), headType);
  if (Value gate = add.getGate())
    parts.gate = headSplitView(rewriter, add, gate, headType);
  rewriter.setInsertionPoint(add);
  FusedChunkAttentionOp fused =
      buildFused(rewriter, attention->getLoc(), parts);
  Value merged = tensor::CollapseShapeOp::create(
      rewriter, add.getLoc(), add.getY().getType(), fused.getOut(),
      collapse.getReassociationIndices());
  rewriter.replaceOp(add, merged);
  if (attention->getNumResults() > 1)
    rewriter.replaceAllUsesWith(attention->getResult(1), fused.getKeyCache());
  rewriter.eraseOp(collapse);
  rewriter.eraseOp(attention);
  eraseIfDead(rewriter, {b, gate});
  return "";
}

struct GeckoFuseAttentionEpiloguePass
    : impl::GeckoFuseAttentionEpilogueBase<GeckoFuseAttentionEpiloguePass> {
  void runOnOperation() override {
    SmallVector<GatedAddOp> adds;
    getOperation()->walk([&](GatedAddOp op) { adds.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (GatedAddOp add : adds) {
      std::string why = fuseEpilogue(rewriter, add);
      LLVM_DEBUG(if (!why.empty()) llvm::dbgs()
                 << "not fused: " << add << ": " << why << "\n");
      (void)why;
    }
  }
};

} // namespace

} // namespace mlir::gecko
