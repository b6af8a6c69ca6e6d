//===- GeckoOps.cpp - Gecko operators and their verifiers -----------------===//
//
// Each verifier states the operand and result shapes with symbolic dimension
// names (see ShapeBinder.h). A forward op and its `_grad` op share the checks
// of the forward operands through the templated verify*Inputs helpers.
//
//===----------------------------------------------------------------------===//

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "ShapeBinder.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"

using namespace mlir;
using namespace mlir::gecko;

#include "gecko/Dialect/Gecko/IR/GeckoOpsEnums.cpp.inc"

static Type elementTypeOf(Value value) {
  return cast<ShapedType>(value.getType()).getElementType();
}

//===----------------------------------------------------------------------===//
// Timestep decay norm
//===----------------------------------------------------------------------===//

template <typename OpTy>
static LogicalResult verifyTimestepNormInputs(OpTy op, ShapeBinder &shapes) {
  Operation *raw = op.getOperation();
  shapes.setActivationType(elementTypeOf(op.getX()));
  int64_t groups = op.getNumGroups();
  if (failed(expectPositive(raw, "num_groups", groups)) ||
      failed(
          expectUnitInterval(raw, "beta1", op.getBeta1().convertToDouble())) ||
      failed(
          expectUnitInterval(raw, "beta2", op.getBeta2().convertToDouble())) ||
      failed(expectPositive(raw, "eps", op.getEps().convertToDouble())))
    return failure();
  shapes.bind("G", groups);
  if (failed(shapes.expect(op.getX(), "x", {"B", "L", "D"}, true)) ||
      failed(expectDivides(raw, "num_groups", groups,
                           "D =", shapes.lookup("D"))) ||
      failed(shapes.expect(op.getWeight(), "weight", {"D"}, true)) ||
      failed(shapes.expect(op.getBias(), "bias", {"D"}, true)) ||
      failed(shapes.expect(op.getCount(), "count", {"B"})) ||
      failed(shapes.expect(op.getMean(), "mean", {"B", "G"}, true)) ||
      failed(shapes.expect(op.getVar(), "var", {"B", "G"}, true)) ||
      failed(shapes.expect(op.getBos(), "bos", {"B", "L"})) ||
      failed(shapes.expect(op.getPadding(), "padding", {"B", "L"})))
    return failure();
  return success();
}

LogicalResult TimestepNormOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyTimestepNormInputs(*this, shapes)) ||
      failed(shapes.expect(getY(), "y", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getNewCount(), "new_count", {"B"})) ||
      failed(shapes.expect(getNewMean(), "new_mean", {"B", "G"}, true)) ||
      failed(shapes.expect(getNewVar(), "new_var", {"B", "G"}, true)))
    return failure();
  return success();
}

LogicalResult TimestepNormGradOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyTimestepNormInputs(*this, shapes)) ||
      failed(shapes.expect(getDy(), "dy", {"B", "L", "D"}, true)) ||
      failed(expectTogether(*this, getDNewMean(), "d_new_mean", getDNewVar(),
                            "d_new_var")) ||
      failed(shapes.expect(getDNewMean(), "d_new_mean", {"B", "G"}, true)) ||
      failed(shapes.expect(getDNewVar(), "d_new_var", {"B", "G"}, true)) ||
      failed(shapes.expect(getDx(), "dx", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getDweight(), "dweight", {"D"}, true)) ||
      failed(shapes.expect(getDbias(), "dbias", {"D"}, true)) ||
      failed(shapes.expect(getDmean(), "dmean", {"B", "G"}, true)) ||
      failed(shapes.expect(getDvar(), "dvar", {"B", "G"}, true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Complex EMA
//===----------------------------------------------------------------------===//

template <typename OpTy>
static LogicalResult verifyCemaParams(OpTy op, ShapeBinder &shapes) {
  shapes.setActivationType(elementTypeOf(op.getAlpha()));
  if (failed(shapes.expect(op.getAlpha(), "alpha", {"D", "N"}, true)) ||
      failed(shapes.expect(op.getDelta(), "delta", {"D", "N"}, true)) ||
      failed(shapes.expect(op.getTheta(), "theta", {"D"}, true)) ||
      failed(shapes.expect(op.getGamma(), "gamma", {"D", "N", "2"}, true)))
    return failure();
  return success();
}

LogicalResult CemaCoeffsOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyCemaParams(*this, shapes)) ||
      failed(shapes.expect(getP(), "p", {"D", "N"})) ||
      failed(shapes.expect(getQ(), "q", {"D", "N"})) ||
      failed(shapes.expect(getGammaC(), "gamma_c", {"D", "N"})))
    return failure();
  return success();
}

LogicalResult CemaCoeffsGradOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyCemaParams(*this, shapes)) ||
      failed(shapes.expect(getDp(), "dp", {"D", "N"})) ||
      failed(shapes.expect(getDq(), "dq", {"D", "N"})) ||
      failed(shapes.expect(getDgammaC(), "dgamma_c", {"D", "N"})) ||
      failed(shapes.expect(getDalpha(), "dalpha", {"D", "N"}, true)) ||
      failed(shapes.expect(getDdelta(), "ddelta", {"D", "N"}, true)) ||
      failed(shapes.expect(getDtheta(), "dtheta", {"D"}, true)) ||
      failed(shapes.expect(getDgamma(), "dgamma", {"D", "N", "2"}, true)))
    return failure();
  return success();
}

template <typename OpTy>
static LogicalResult verifyCemaInputs(OpTy op, ShapeBinder &shapes) {
  shapes.setActivationType(elementTypeOf(op.getX()));
  if (failed(shapes.expect(op.getX(), "x", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(op.getP(), "p", {"D", "N"})) ||
      failed(shapes.expect(op.getQ(), "q", {"D", "N"})) ||
      failed(shapes.expect(op.getGammaC(), "gamma_c", {"D", "N"})) ||
      failed(shapes.expect(op.getHx(), "hx", {"B", "D", "N"})) ||
      failed(shapes.expect(op.getBos(), "bos", {"B", "L"})))
    return failure();
  return success();
}

LogicalResult CemaOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyCemaInputs(*this, shapes)) ||
      failed(shapes.expect(getY(), "y", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getNewH(), "new_h", {"B", "D", "N"})))
    return failure();
  return success();
}

LogicalResult CemaGradOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyCemaInputs(*this, shapes)) ||
      failed(shapes.expect(getDy(), "dy", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getDNewH(), "d_new_h", {"B", "D", "N"})) ||
      failed(shapes.expect(getDx(), "dx", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getDp(), "dp", {"D", "N"})) ||
      failed(shapes.expect(getDq(), "dq", {"D", "N"})) ||
      failed(shapes.expect(getDgammaC(), "dgamma_c", {"D", "N"})) ||
      failed(shapes.expectPresence(getDhx(), "dhx", bool(getHx()),
                                   "'hx' is given")) ||
      failed(shapes.expect(getDhx(), "dhx", {"B", "D", "N"})))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Norms and the z split
//===----------------------------------------------------------------------===//

/// Dimension names of a norm input of any rank: N0, N1, ..., D.
static SmallVector<StringRef> normDims(Value x,
                                       SmallVectorImpl<std::string> &storage) {
  auto type = cast<ShapedType>(x.getType());
  int64_t rank = type.hasRank() ? type.getRank() : 1;
  storage.clear();
  for (int64_t i = 0; i + 1 < rank; ++i)
    storage.push_back("N" + std::to_string(i));
  storage.push_back("D");
  return SmallVector<StringRef>(storage.begin(), storage.end());
}

template <typename OpTy>
static LogicalResult verifyNormInputs(OpTy op, ShapeBinder &shapes,
                                      ArrayRef<StringRef> dims) {
  Operation *raw = op.getOperation();
  shapes.setActivationType(elementTypeOf(op.getX()));
  auto type = cast<ShapedType>(op.getX().getType());
  if (type.hasRank() && type.getRank() == 0)
    return op.emitOpError() << "'x' must have rank >= 1, got rank 0";
  int64_t groups = op.getNumGroups();
  if (failed(expectPositive(raw, "num_groups", groups)) ||
      failed(expectPositive(raw, "eps", op.getEps().convertToDouble())) ||
      failed(shapes.expect(op.getX(), "x", dims, true)) ||
      failed(expectDivides(raw, "num_groups", groups,
                           "D =", shapes.lookup("D"))) ||
      failed(shapes.expect(op.getWeight(), "weight", {"D"}, true)))
    return failure();
  return success();
}

LogicalResult RmsNormOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> storage;
  SmallVector<StringRef> dims = normDims(getX(), storage);
  if (failed(verifyNormInputs(*this, shapes, dims)) ||
      failed(shapes.expect(getY(), "y", dims, true)))
    return failure();
  return success();
}

LogicalResult RmsNormGradOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> storage;
  SmallVector<StringRef> dims = normDims(getX(), storage);
  if (failed(verifyNormInputs(*this, shapes, dims)) ||
      failed(shapes.expect(getDy(), "dy", dims, true)) ||
      failed(shapes.expect(getDx(), "dx", dims, true)) ||
      failed(shapes.expectPresence(getDweight(), "dweight", bool(getWeight()),
                                   "'weight' is given")) ||
      failed(shapes.expect(getDweight(), "dweight", {"D"}, true)))
    return failure();
  return success();
}

LogicalResult LayerNormOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> storage;
  SmallVector<StringRef> dims = normDims(getX(), storage);
  if (failed(verifyNormInputs(*this, shapes, dims)) ||
      failed(shapes.expect(getBias(), "bias", {"D"}, true)) ||
      failed(shapes.expect(getY(), "y", dims, true)))
    return failure();
  return success();
}

LogicalResult LayerNormGradOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> storage;
  SmallVector<StringRef> dims = normDims(getX(), storage);
  if (failed(verifyNormInputs(*this, shapes, dims)) ||
      failed(shapes.expect(getBias(), "bias", {"D"}, true)) ||
      failed(shapes.expect(getDy(), "dy", dims, true)) ||
      failed(shapes.expect(getDx(), "dx", dims, true)) ||
      failed(shapes.expectPresence(getDweight(), "dweight", bool(getWeight()),
                                   "'weight' is given")) ||
      failed(shapes.expect(getDweight(), "dweight", {"D"}, true)) ||
      failed(shapes.expectPresence(getDbias(), "dbias", bool(getBias()),
                                   "'bias' is given")) ||
      failed(shapes.expect(getDbias(), "dbias", {"D"}, true)))
    return failure();
  return success();
}

template <typename OpTy>
static LogicalResult verifyZSplitInputs(OpTy op, ShapeBinder &shapes) {
  Operation *raw = op.getOperation();
  shapes.setActivationType(elementTypeOf(op.getZ()));
  int64_t heads = op.getNumHeads();
  if (failed(expectPositive(raw, "num_heads", heads)) ||
      failed(expectPositive(raw, "eps", op.getEps().convertToDouble())) ||
      failed(shapes.expect(op.getZ(), "z", {"B", "L", "Z"}, true)) ||
      failed(
          expectDivides(raw, "num_heads", heads, "Z =", shapes.lookup("Z"))) ||
      failed(shapes.expect(op.getGamma(), "gamma", {"4", "Z"}, true)) ||
      failed(shapes.expect(op.getBeta(), "beta", {"4", "Z"}, true)))
    return failure();
  return success();
}

LogicalResult ZSplitOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyZSplitInputs(*this, shapes)))
    return failure();
  for (auto [result, name] :
       llvm::zip_equal(getResults(), ArrayRef<StringRef>{"q", "k", "aq", "ak"}))
    if (failed(shapes.expect(result, name, {"B", "L", "Z"}, true)))
      return failure();
  return success();
}

LogicalResult ZSplitGradOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyZSplitInputs(*this, shapes)) ||
      failed(shapes.expect(getDq(), "dq", {"B", "L", "Z"}, true)) ||
      failed(shapes.expect(getDk(), "dk", {"B", "L", "Z"}, true)) ||
      failed(shapes.expect(getDaq(), "daq", {"B", "L", "Z"}, true)) ||
      failed(shapes.expect(getDak(), "dak", {"B", "L", "Z"}, true)) ||
      failed(shapes.expect(getDz(), "dz", {"B", "L", "Z"}, true)) ||
      failed(shapes.expect(getDgamma(), "dgamma", {"4", "Z"}, true)) ||
      failed(shapes.expect(getDbeta(), "dbeta", {"4", "Z"}, true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

template <typename OpTy>
static LogicalResult verifyRope(OpTy op, Value input, StringRef inputName,
                                Value output, StringRef outputName) {
  ShapeBinder shapes(op.getOperation());
  shapes.setActivationType(elementTypeOf(input));
  if (!(op.getBase().convertToDouble() > 0.0))
    return op.emitOpError() << "expected base to be positive, got "
                            << op.getBase().convertToDouble();
  if (failed(shapes.expect(input, inputName, {"B", "L", "H", "d"}, true)) ||
      failed(shapes.expect(output, outputName, {"B", "L", "H", "d"}, true)))
    return failure();
  if (std::optional<int64_t> dim = shapes.lookup("d"); dim && *dim % 2 != 0)
    return op.emitOpError() << "expected the head dim d of '" << inputName
                            << "' to be even, got " << *dim;
  if (std::optional<uint64_t> ropeHeads = op.getNumRopeHeads()) {
    std::optional<int64_t> heads = shapes.lookup("H");
    auto count = static_cast<int64_t>(*ropeHeads);
    if (count < 0 || (heads && count > *heads)) {
      auto diag = op.emitOpError() << "expected num_rope_heads in [0, H";
      if (heads)
        diag << "=" << *heads;
      return diag << "], got " << count;
    }
  }
  return success();
}

LogicalResult RopeOp::verify() {
  return verifyRope(*this, getX(), "x", getY(), "y");
}

LogicalResult RopeGradOp::verify() {
  return verifyRope(*this, getDy(), "dy", getDx(), "dx");
}

//===----------------------------------------------------------------------===//
// Chunked operators: shared path checks
//===----------------------------------------------------------------------===//

/// Name of the cache length: exactly C on the chunked path, free on the short
/// path (bounded by the path checks below).
static StringRef cacheLengthName(ChunkPath path) {
  return path == ChunkPath::Chunked ? "C" : "T";
}

/// Binds C and checks the sequence length against the path.
static LogicalResult verifyChunkPath(Operation *op, ChunkPath path,
                                     int64_t chunkSize, ShapeBinder &shapes) {
  if (failed(expectPositive(op, "chunk_size", chunkSize)))
    return failure();
  shapes.bind("C", chunkSize);
  std::optional<int64_t> length = shapes.lookup("L");
  if (path == ChunkPath::Chunked)
    return expectDivides(op, "chunk_size", chunkSize, "sequence length",
                         length);
  if (length && *length >= chunkSize)
    return op->emitOpError() << "short path expects sequence length " << *length
                             << " to be less than chunk_size " << chunkSize
                             << " (use path = chunked)";
  return success();
}

//===----------------------------------------------------------------------===//
// Sliding chunk attention
//===----------------------------------------------------------------------===//

/// `q` / `k` are the query and key operands (for the fused op with a z
/// split prologue: `z` and no k), named `qName` / "k".
template <typename OpTy>
static LogicalResult verifyChunkAttentionInputs(OpTy op, ShapeBinder &shapes,
                                                Value q, Value k,
                                                StringRef qName = "q") {
  Operation *raw = op.getOperation();
  shapes.setActivationType(elementTypeOf(q));
  StringRef cacheLen = cacheLengthName(op.getPath());
  if (failed(shapes.expect(q, qName, {"B", "L", "H", "dk"}, true)) ||
      failed(shapes.expect(k, "k", {"B", "L", "H", "dk"}, true)) ||
      failed(shapes.expect(op.getV(), "v", {"B", "L", "H", "dv"}, true)) ||
      failed(verifyChunkPath(raw, op.getPath(), op.getChunkSize(), shapes)) ||
      failed(expectTogether(raw, op.getPrevK(), "prev_k", op.getPrevV(),
                            "prev_v")) ||
      failed(expectRequires(raw, op.getPrevSeg(), "prev_seg", op.getSeg(),
                            "seg")) ||
      failed(expectRequires(raw, op.getPrevSeg(), "prev_seg", op.getPrevK(),
                            "prev_k")) ||
      failed(shapes.expect(op.getPrevK(), "prev_k", {"B", cacheLen, "H", "dk"},
                           true)) ||
      failed(shapes.expect(op.getPrevV(), "prev_v", {"B", cacheLen, "H", "dv"},
                           true)) ||
      failed(shapes.expect(op.getSeg(), "seg", {"B", "L"})) ||
      failed(shapes.expect(op.getPrevSeg(), "prev_seg", {"B", cacheLen})))
    return failure();
  if (op.getPrevK() && op.getSeg() && !op.getPrevSeg())
    return op.emitOpError()
           << "expected 'prev_seg' when both a cache and 'seg' are given";
  if (op.getPath() == ChunkPath::Short) {
    std::optional<int64_t> cached = shapes.lookup("T");
    int64_t limit = 2 * op.getChunkSize() - 1;
    if (cached && *cached > limit)
      return op.emitOpError()
             << "short path expects a cache of at most 2 * chunk_size - 1 = "
             << limit << " tokens, got " << *cached;
  }
  return success();
}

LogicalResult ChunkAttentionOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyChunkAttentionInputs(*this, shapes, getQ(), getK())) ||
      failed(shapes.expect(getOut(), "out", {"B", "L", "H", "dv"}, true)))
    return failure();
  return success();
}

LogicalResult ChunkAttentionGradOp::verify() {
  ShapeBinder shapes(*this);
  StringRef cacheLen = cacheLengthName(getPath());
  bool hasCache = static_cast<bool>(getPrevK());
  if (failed(verifyChunkAttentionInputs(*this, shapes, getQ(), getK())) ||
      failed(shapes.expect(getDout(), "dout", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getDq(), "dq", {"B", "L", "H", "dk"}, true)) ||
      failed(shapes.expect(getDk(), "dk", {"B", "L", "H", "dk"}, true)) ||
      failed(shapes.expect(getDv(), "dv", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expectPresence(getDprevK(), "dprev_k", hasCache,
                                   "a cache is given")) ||
      failed(shapes.expectPresence(getDprevV(), "dprev_v", hasCache,
                                   "a cache is given")) ||
      failed(shapes.expect(getDprevK(), "dprev_k", {"B", cacheLen, "H", "dk"},
                           true)) ||
      failed(shapes.expect(getDprevV(), "dprev_v", {"B", cacheLen, "H", "dv"},
                           true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Adaptive working memory
//===----------------------------------------------------------------------===//

/// `aq` / `ak` are the query and key operands (for the fused op: `z` and no
/// ak), named `aqName` / "ak".
template <typename OpTy>
static LogicalResult verifyWorkingMemoryInputs(OpTy op, ShapeBinder &shapes,
                                               Value aq, Value ak,
                                               StringRef aqName = "aq") {
  Operation *raw = op.getOperation();
  shapes.setActivationType(elementTypeOf(aq));
  StringRef cacheLen = cacheLengthName(op.getPath());
  if (failed(shapes.expect(aq, aqName, {"B", "L", "H", "dz"}, true)) ||
      failed(shapes.expect(ak, "ak", {"B", "L", "H", "dz"}, true)) ||
      failed(shapes.expect(op.getV(), "v", {"B", "L", "H", "dv"}, true)) ||
      failed(verifyChunkPath(raw, op.getPath(), op.getChunkSize(), shapes)) ||
      failed(
          expectTogether(raw, op.getMemory(), "memory", op.getLnt(), "lnt")) ||
      failed(expectTogether(raw, op.getPrevK(), "prev_k", op.getPrevV(),
                            "prev_v")) ||
      failed(expectTogether(raw, op.getPrevSeg(), "prev_seg", op.getPrevCount(),
                            "prev_count")) ||
      failed(expectRequires(raw, op.getMemory(), "memory", op.getPrevK(),
                            "prev_k")) ||
      failed(expectRequires(raw, op.getPrevSeg(), "prev_seg", op.getSeg(),
                            "seg")) ||
      failed(expectRequires(raw, op.getPrevSeg(), "prev_seg", op.getPrevK(),
                            "prev_k")) ||
      failed(shapes.expect(op.getMemory(), "memory", {"B", "H", "dz", "dv"},
                           true)) ||
      failed(shapes.expect(op.getLnt(), "lnt", {"B", "H", "dz"})) ||
      failed(shapes.expect(op.getPrevK(), "prev_k", {"B", cacheLen, "H", "dz"},
                           true)) ||
      failed(shapes.expect(op.getPrevV(), "prev_v", {"B", cacheLen, "H", "dv"},
                           true)) ||
      failed(shapes.expect(op.getSeg(), "seg", {"B", "L"})) ||
      failed(shapes.expect(op.getPrevSeg(), "prev_seg", {"B", cacheLen})) ||
      failed(shapes.expect(op.getPrevCount(), "prev_count", {"B"})))
    return failure();
  if (op.getPrevK() && op.getSeg() && !op.getPrevSeg())
    return op.emitOpError() << "expected 'prev_seg' and 'prev_count' when "
                               "both a cache and 'seg' are given";
  if (op.getPath() != ChunkPath::Short)
    return success();

  // Short path: the pending tokens T + L decide whether a chunk completes.
  std::optional<int64_t> length = shapes.lookup("L");
  std::optional<int64_t> cached =
      op.getPrevK() ? shapes.lookup("T") : std::optional<int64_t>(0);
  if (!length || !cached)
    return success();
  int64_t total = *cached + *length;
  int64_t chunk = op.getChunkSize();
  if (!op.getMemory() && total > chunk)
    return op.emitOpError() << "short path without memory expects T + L <= "
                               "chunk_size = "
                            << chunk << ", got " << total;
  if (op.getMemory() && (total <= chunk || total > 2 * chunk))
    return op.emitOpError()
           << "short path with memory expects chunk_size = " << chunk
           << " < T + L <= " << 2 * chunk << ", got " << total;
  return success();
}

LogicalResult WorkingMemoryOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(verifyWorkingMemoryInputs(*this, shapes, getAq(), getAk())) ||
      failed(shapes.expect(getOut(), "out", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getNewMemory(), "new_memory", {"B", "H", "dz", "dv"},
                           true)) ||
      failed(shapes.expect(getNewLnt(), "new_lnt", {"B", "H", "dz"})))
    return failure();
  return success();
}

LogicalResult WorkingMemoryGradOp::verify() {
  ShapeBinder shapes(*this);
  StringRef cacheLen = cacheLengthName(getPath());
  bool hasMemory = static_cast<bool>(getMemory());
  bool hasCache = static_cast<bool>(getPrevK());
  if (failed(verifyWorkingMemoryInputs(*this, shapes, getAq(), getAk())) ||
      failed(shapes.expect(getDout(), "dout", {"B", "L", "H", "dv"}, true)) ||
      failed(expectTogether(*this, getDNewMemory(), "d_new_memory",
                            getDNewLnt(), "d_new_lnt")) ||
      failed(shapes.expect(getDNewMemory(), "d_new_memory",
                           {"B", "H", "dz", "dv"}, true)) ||
      failed(shapes.expect(getDNewLnt(), "d_new_lnt", {"B", "H", "dz"})) ||
      failed(shapes.expect(getDaq(), "daq", {"B", "L", "H", "dz"}, true)) ||
      failed(shapes.expect(getDak(), "dak", {"B", "L", "H", "dz"}, true)) ||
      failed(shapes.expect(getDv(), "dv", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expectPresence(getDmemory(), "dmemory", hasMemory,
                                   "'memory' is given")) ||
      failed(shapes.expectPresence(getDlnt(), "dlnt", hasMemory,
                                   "'memory' is given")) ||
      failed(shapes.expectPresence(getDprevK(), "dprev_k", hasCache,
                                   "a cache is given")) ||
      failed(shapes.expectPresence(getDprevV(), "dprev_v", hasCache,
                                   "a cache is given")) ||
      failed(shapes.expect(getDmemory(), "dmemory", {"B", "H", "dz", "dv"},
                           true)) ||
      failed(shapes.expect(getDlnt(), "dlnt", {"B", "H", "dz"})) ||
      failed(shapes.expect(getDprevK(), "dprev_k", {"B", cacheLen, "H", "dz"},
                           true)) ||
      failed(shapes.expect(getDprevV(), "dprev_v", {"B", cacheLen, "H", "dv"},
                           true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Fused attention prologue / epilogue
//===----------------------------------------------------------------------===//

/// The z split prologue: `gamma, beta (4, H, d)` in the activation type and
/// a positive `eps`. `d` names the head dim ("dk" or "dz").
static LogicalResult verifyZSplitPrologue(Operation *op, ShapeBinder &shapes,
                                          Value gamma, Value beta,
                                          std::optional<double> eps,
                                          StringRef d) {
  if (!eps)
    return op->emitOpError() << "expected 'eps' with a z split prologue";
  if (failed(expectPositive(op, "eps", *eps)) ||
      failed(shapes.expect(gamma, "gamma", {"4", "H", d}, true)) ||
      failed(shapes.expect(beta, "beta", {"4", "H", d}, true)))
    return failure();
  return success();
}

LogicalResult FusedChunkAttentionOp::verify() {
  ShapeBinder shapes(*this);
  bool plain = getQ() || getK();
  bool split = getZ() || getGamma() || getBeta();
  if (plain == split)
    return emitOpError() << "expected exactly one prologue: 'qk(q, k)' or "
                            "'zsplit(z, gamma, beta)'";
  if (failed(expectTogether(*this, getQ(), "q", getK(), "k")) ||
      failed(expectTogether(*this, getZ(), "z", getGamma(), "gamma")) ||
      failed(expectTogether(*this, getZ(), "z", getBeta(), "beta")) ||
      failed(verifyChunkAttentionInputs(*this, shapes, plain ? getQ() : getZ(),
                                        getK(), plain ? "q" : "z")))
    return failure();
  std::optional<double> eps;
  if (getEps())
    eps = getEps()->convertToDouble();
  if (split) {
    if (failed(verifyZSplitPrologue(*this, shapes, getGamma(), getBeta(), eps,
                                    "dk")))
      return failure();
  } else {
    if (eps)
      return emitOpError() << "'eps' is only allowed with a z split prologue";
    if (getStart())
      return emitOpError() << "'rope' is only allowed with a z split "
                              "prologue (rotate q and k with gecko.rope)";
    if (getKeyCache())
      return emitOpError()
             << "'key_cache' is only produced with a z split prologue";
  }
  // Rope: start and rope_base together; num_rope_heads in [0, H]; even dk.
  if (static_cast<bool>(getStart()) != static_cast<bool>(getRopeBase()))
    return emitOpError() << "expected 'rope_base' exactly when 'rope(start)' "
                            "is given";
  if (getNumRopeHeads() && !getStart())
    return emitOpError() << "'num_rope_heads' requires 'rope(start)'";
  if (getStart()) {
    double base = getRopeBase()->convertToDouble();
    if (!(base > 0.0))
      return emitOpError() << "expected rope_base to be positive, got " << base;
    if (std::optional<int64_t> dim = shapes.lookup("dk"); dim && *dim % 2)
      return emitOpError() << "expected the head dim dk of 'z' to be even "
                              "with rope, got "
                           << *dim;
    if (std::optional<uint64_t> ropeHeads = getNumRopeHeads()) {
      std::optional<int64_t> heads = shapes.lookup("H");
      auto count = static_cast<int64_t>(*ropeHeads);
      if (count < 0 || (heads && count > *heads)) {
        auto diag = emitOpError() << "expected num_rope_heads in [0, H";
        if (heads)
          diag << "=" << *heads;
        return diag << "], got " << count;
      }
    }
  }
  StringRef kept = getPath() == ChunkPath::Chunked ? "C" : "L";
  if (failed(expectRequires(*this, getGate(), "gate", getAddend(), "addend")) ||
      failed(
          shapes.expect(getAddend(), "addend", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getGate(), "gate", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getOut(), "out", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getKeyCache(), "key_cache", {"B", kept, "H", "dk"},
                           true)))
    return failure();
  return success();
}

LogicalResult FusedWorkingMemoryOp::verify() {
  ShapeBinder shapes(*this);
  StringRef kept = getPath() == ChunkPath::Chunked ? "C" : "L";
  if (failed(verifyWorkingMemoryInputs(*this, shapes, getZ(), Value(), "z")) ||
      failed(verifyZSplitPrologue(*this, shapes, getGamma(), getBeta(),
                                  getEps().convertToDouble(), "dz")) ||
      failed(shapes.expect(getOut(), "out", {"B", "L", "H", "dv"}, true)) ||
      failed(shapes.expect(getNewMemory(), "new_memory", {"B", "H", "dz", "dv"},
                           true)) ||
      failed(shapes.expect(getNewLnt(), "new_lnt", {"B", "H", "dz"})) ||
      failed(shapes.expect(getKeyCache(), "key_cache", {"B", kept, "H", "dz"},
                           true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Model-graph operators
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  ShapeBinder shapes(*this);
  shapes.setActivationType(elementTypeOf(getTable()));
  if (failed(shapes.expect(getTable(), "table", {"V", "D"}, true)) ||
      failed(shapes.expect(getTokens(), "tokens", {"B", "L"})) ||
      failed(shapes.expect(getOut(), "out", {"B", "L", "D"}, true)))
    return failure();
  return success();
}

LogicalResult CrossEntropyOp::verify() {
  ShapeBinder shapes(*this);
  if (failed(shapes.expect(getLogits(), "logits", {"B", "L", "V"})) ||
      failed(shapes.expect(getLabels(), "labels", {"B", "L"})))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Dense layers and elementwise ops of the block
//===----------------------------------------------------------------------===//

/// Dimension names of a linear input / output: N0, ..., <last>.
static SmallVector<StringRef>
linearDims(Value x, StringRef last, SmallVectorImpl<std::string> &storage) {
  auto type = cast<ShapedType>(x.getType());
  int64_t rank = type.hasRank() ? type.getRank() : 1;
  storage.clear();
  for (int64_t i = 0; i + 1 < rank; ++i)
    storage.push_back("N" + std::to_string(i));
  storage.push_back(last.str());
  return SmallVector<StringRef>(storage.begin(), storage.end());
}

template <typename OpTy>
static LogicalResult verifyLinearInputs(OpTy op, ShapeBinder &shapes,
                                        SmallVectorImpl<std::string> &inStore,
                                        SmallVectorImpl<std::string> &outStore,
                                        SmallVector<StringRef> &outDims) {
  shapes.setActivationType(elementTypeOf(op.getX()));
  auto type = cast<ShapedType>(op.getX().getType());
  if (type.hasRank() && type.getRank() == 0)
    return op.emitOpError() << "'x' must have rank >= 1, got rank 0";
  SmallVector<StringRef> inDims = linearDims(op.getX(), "IN", inStore);
  outDims = linearDims(op.getX(), "OUT", outStore);
  if (failed(shapes.expect(op.getX(), "x", inDims, true)) ||
      failed(shapes.expect(op.getWeight(), "weight", {"OUT", "IN"}, true)) ||
      failed(shapes.expect(op.getBias(), "bias", {"OUT"}, true)))
    return failure();
  return success();
}

LogicalResult LinearOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> inStore, outStore;
  SmallVector<StringRef> outDims;
  if (failed(verifyLinearInputs(*this, shapes, inStore, outStore, outDims)) ||
      failed(shapes.expect(getY(), "y", outDims, true)))
    return failure();
  return success();
}

LogicalResult LinearGradOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> inStore, outStore, dxStore;
  SmallVector<StringRef> outDims;
  if (failed(verifyLinearInputs(*this, shapes, inStore, outStore, outDims)) ||
      failed(shapes.expect(getDy(), "dy", outDims, true)) ||
      failed(shapes.expect(getDx(), "dx", linearDims(getX(), "IN", dxStore),
                           true)) ||
      failed(shapes.expect(getDweight(), "dweight", {"OUT", "IN"}, true)) ||
      failed(shapes.expectPresence(getDbias(), "dbias", bool(getBias()),
                                   "'bias' is given")) ||
      failed(shapes.expect(getDbias(), "dbias", {"OUT"}, true)))
    return failure();
  return success();
}

template <typename OpTy>
static LogicalResult verifyGatedAddInputs(OpTy op, ShapeBinder &shapes,
                                          SmallVectorImpl<std::string> &store,
                                          SmallVector<StringRef> &dims) {
  shapes.setActivationType(elementTypeOf(op.getA()));
  dims = linearDims(op.getA(), "D", store);
  if (failed(shapes.expect(op.getA(), "a", dims, true)) ||
      failed(shapes.expect(op.getB(), "b", dims, true)) ||
      failed(shapes.expect(op.getGate(), "gate", dims, true)))
    return failure();
  return success();
}

LogicalResult GatedAddOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> store;
  SmallVector<StringRef> dims;
  if (failed(verifyGatedAddInputs(*this, shapes, store, dims)) ||
      failed(shapes.expect(getY(), "y", dims, true)))
    return failure();
  return success();
}

LogicalResult GatedAddGradOp::verify() {
  ShapeBinder shapes(*this);
  SmallVector<std::string> store;
  SmallVector<StringRef> dims;
  if (failed(verifyGatedAddInputs(*this, shapes, store, dims)) ||
      failed(shapes.expect(getDy(), "dy", dims, true)) ||
      failed(shapes.expect(getDa(), "da", dims, true)) ||
      failed(shapes.expect(getDb(), "db", dims, true)) ||
      failed(shapes.expectPresence(getDgate(), "dgate", bool(getGate()),
                                   "'gate' is given")) ||
      failed(shapes.expect(getDgate(), "dgate", dims, true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Fused forms
//===----------------------------------------------------------------------===//

LogicalResult FusedNormEmaOp::verify() {
  ShapeBinder shapes(*this);
  Operation *raw = getOperation();
  shapes.setActivationType(elementTypeOf(getX()));
  int64_t groups = getNumGroups(), rmsGroups = getRmsNumGroups();
  if (failed(expectPositive(raw, "num_groups", groups)) ||
      failed(expectUnitInterval(raw, "beta1", getBeta1().convertToDouble())) ||
      failed(expectUnitInterval(raw, "beta2", getBeta2().convertToDouble())) ||
      failed(expectPositive(raw, "eps", getEps().convertToDouble())) ||
      failed(expectPositive(raw, "rms_num_groups", rmsGroups)) ||
      failed(expectPositive(raw, "rms_eps", getRmsEps().convertToDouble())))
    return failure();
  shapes.bind("G", groups);
  if (failed(shapes.expect(getX(), "x", {"B", "L", "D"}, true)) ||
      failed(expectDivides(raw, "num_groups", groups,
                           "D =", shapes.lookup("D"))) ||
      failed(expectDivides(raw, "rms_num_groups", rmsGroups,
                           "D =", shapes.lookup("D"))) ||
      failed(shapes.expect(getNormWeight(), "norm_weight", {"D"}, true)) ||
      failed(shapes.expect(getNormBias(), "norm_bias", {"D"}, true)) ||
      failed(shapes.expect(getCount(), "count", {"B"})) ||
      failed(shapes.expect(getMean(), "mean", {"B", "G"}, true)) ||
      failed(shapes.expect(getVar(), "var", {"B", "G"}, true)) ||
      failed(shapes.expect(getP(), "p", {"D", "N"})) ||
      failed(shapes.expect(getQ(), "q", {"D", "N"})) ||
      failed(shapes.expect(getGammaC(), "gamma_c", {"D", "N"})) ||
      failed(shapes.expect(getHx(), "hx", {"B", "D", "N"})) ||
      failed(shapes.expect(getBos(), "bos", {"B", "L"})) ||
      failed(shapes.expect(getRmsWeight(), "rms_weight", {"D"}, true)) ||
      failed(shapes.expect(getY(), "y", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getTsn(), "tsn", {"B", "L", "D"}, true)) ||
      failed(shapes.expect(getNewCount(), "new_count", {"B"})) ||
      failed(shapes.expect(getNewMean(), "new_mean", {"B", "G"}, true)) ||
      failed(shapes.expect(getNewVar(), "new_var", {"B", "G"}, true)) ||
      failed(shapes.expect(getNewH(), "new_h", {"B", "D", "N"})))
    return failure();
  return success();
}

#define GET_OP_CLASSES
#include "gecko/Dialect/Gecko/IR/GeckoOps.cpp.inc"
