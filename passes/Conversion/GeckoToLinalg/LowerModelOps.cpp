//===- LowerModelOps.cpp - Embedding, SwiGLU, cross-entropy to linalg -----===//
//
// spec §7, the model-graph ops around the blocks. All three are row-wise and
// use the (batch, token-block) scf.forall of TileUtils:
// - gecko.embedding: per tile one generic over (p, q, D) gathers
//   table[id, d] with tensor.extract. Token ids outside [0, V) are CLAMPED
//   to [0, V − 1] before the read (the gather never reads out of bounds; an
//   invalid id yields the first or last row, as a clamping gather does).
// - gecko.swiglu: per tile one elementwise generic silu(gate)·up in f32,
//   silu(g) = g / (1 + exp(−g)).
// - gecko.cross_entropy: per tile the f32 row maximum and Σ exp(x − max)
//   over the vocabulary (two reductions), then the tile's sum of
//   max + log(Σ) − logits[label] is written to its own slot of a per-tile
//   partials tensor; after the forall the slots are summed in a fixed order
//   and scaled by 1/(B·L) (TileReductions.h). Labels are clamped to [0, V)
//   like the embedding ids.
//
//===----------------------------------------------------------------------===//

#include "TileReductions.h"
#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir::gecko {

namespace {

/// The (P, Q, F) view of a statically shaped tensor of rank >= 1: leading
/// unit dimensions for rank < 3, middle dimensions folded into Q.
SmallVector<int64_t> rowView(ArrayRef<int64_t> shape) {
  int64_t rows = 1, tokens = 1;
  if (shape.size() == 2)
    tokens = shape[0];
  if (shape.size() >= 3) {
    rows = shape[0];
    for (int64_t dim : shape.drop_front().drop_back())
      tokens *= dim;
  }
  return {rows, tokens, shape.back()};
}

/// An i64 id clamped to [0, extent − 1], as an index.
Value clampedIndex(OpBuilder &b, Location loc, Value id, int64_t extent) {
  Value low = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
  Value high = arith::ConstantIntOp::create(b, loc, b.getI64Type(), extent - 1);
  Value clamped = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, id, low), high);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), clamped);
}

LogicalResult requireStatic(Operation *op) {
  for (Type type : op->getOperandTypes())
    if (auto shaped = dyn_cast<RankedTensorType>(type);
        shaped && !shaped.hasStaticShape())
      return op->emitOpError()
             << "gecko-convert-to-linalg supports only static shapes, got "
             << type;
  return success();
}

Value lowerEmbedding(OpBuilder &b, Location loc, EmbeddingOp op,
                     const GeckoTileSizes &tiles) {
  auto tableType = cast<RankedTensorType>(op.getTable().getType());
  auto outType = cast<RankedTensorType>(op.getOut().getType());
  int64_t vocab = tableType.getShape()[0];
  ArrayRef<int64_t> shape = outType.getShape(); // (B, L, D)
  Type elementType = outType.getElementType();
  Value table = op.getTable();
  Value tokens = op.getTokens();
  Value init = tensor::EmptyOp::create(b, loc, shape, elementType);
  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1, d2;
  bindDims(ctx, d0, d1, d2);
  AffineMap perToken = AffineMap::get(3, 0, {d0, d1}, ctx);
  return buildRowTiledForall(
      b, loc, shape[0], shape[1], tiles, init,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value ids = extractRowTile(tb, tloc, tokens, tile);
        SmallVector<OpFoldResult> sizes = {tile.batchSize, tile.tokenSize,
                                           tb.getIndexAttr(shape[2])};
        Value out = tensor::EmptyOp::create(tb, tloc, sizes, elementType);
        return elementwise(
            tb, tloc, ids, perToken, out,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value row = clampedIndex(nb, nloc, args[0], vocab);
              Value column = linalg::IndexOp::create(nb, nloc, 2);
              Value value = tensor::ExtractOp::create(nb, nloc, table,
                                                      ValueRange{row, column});
              if (value.getType() != elementType)
                value = fromF32(nb, nloc, toF32(nb, nloc, value), elementType);
              return SmallVector<Value>{value};
            });
      })[0];
}

Value lowerSwiGlu(OpBuilder &b, Location loc, SwiGluOp op,
                  const GeckoTileSizes &tiles) {
  auto type = cast<RankedTensorType>(op.getOut().getType());
  Type elementType = type.getElementType();
  SmallVector<int64_t> view = rowView(type.getShape());
  Value gate = reshapeStatic(b, loc, op.getGate(), view);
  Value up = reshapeStatic(b, loc, op.getUp(), view);
  Value init = tensor::EmptyOp::create(b, loc, view, elementType);
  AffineMap identity = b.getMultiDimIdentityMap(3);
  Value out = buildRowTiledForall(
      b, loc, view[0], view[1], tiles, init,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value gateTile = extractRowTile(tb, tloc, gate, tile);
        Value upTile = extractRowTile(tb, tloc, up, tile);
        Value outTile = emptyLike(tb, tloc, gateTile, elementType);
        return elementwise(
            tb, tloc, ValueRange{gateTile, upTile}, {identity, identity},
            outTile, [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value g = toF32(nb, nloc, args[0]);
              Value u = toF32(nb, nloc, args[1]);
              Value one = f32Constant(nb, nloc, 1.0);
              Value expNeg = math::ExpOp::create(
                  nb, nloc, arith::NegFOp::create(nb, nloc, g));
              Value silu = arith::DivFOp::create(
                  nb, nloc, g, arith::AddFOp::create(nb, nloc, one, expNeg));
              Value value = arith::MulFOp::create(nb, nloc, silu, u);
              return SmallVector<Value>{fromF32(nb, nloc, value, elementType)};
            });
      })[0];
  return reshapeStatic(b, loc, out, type.getShape());
}

Value lowerCrossEntropy(OpBuilder &b, Location loc, CrossEntropyOp op,
                        const GeckoTileSizes &tiles) {
  auto logitsType = cast<RankedTensorType>(op.getLogits().getType());
  ArrayRef<int64_t> shape = logitsType.getShape(); // (B, L, V)
  int64_t vocab = shape[2];
  Value logits = op.getLogits();
  Value labels = op.getLabels();
  Value partials = emptyPartials(b, loc, shape[0], shape[1], tiles, {});
  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1, d2;
  bindDims(ctx, d0, d1, d2);
  AffineMap full = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap perRow = AffineMap::get(3, 0, {d0, d1}, ctx);
  AffineMap rows = AffineMap::getMultiDimIdentityMap(2, ctx);

  Value sums = buildRowTiledForallWithPartials(
      b, loc, shape[0], shape[1], tiles, {}, partials,
      [&](OpBuilder &tb, Location tloc, const RowTile &tile, ValueRange) {
        Value tileLogits = extractRowTile(tb, tloc, logits, tile);
        Value tileLabels = extractRowTile(tb, tloc, labels, tile);
        // Row maximum over the vocabulary (f32, from −inf).
        SmallVector<OpFoldResult> rowSizes =
            tensor::getMixedSizes(tb, tloc, tileLabels);
        Value empty =
            tensor::EmptyOp::create(tb, tloc, rowSizes, tb.getF32Type());
        Value lowest =
            f32Constant(tb, tloc, -std::numeric_limits<double>::infinity());
        Value maxInit =
            linalg::FillOp::create(tb, tloc, lowest, empty).getResult(0);
        Value rowMax =
            linalg::GenericOp::create(
                tb, tloc, maxInit.getType(), tileLogits, maxInit,
                ArrayRef<AffineMap>{full, perRow},
                ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                              utils::IteratorType::parallel,
                                              utils::IteratorType::reduction},
                [&](OpBuilder &nb, Location nloc, ValueRange args) {
                  Value value = toF32(nb, nloc, args[0]);
                  linalg::YieldOp::create(nb, nloc,
                                          ValueRange{arith::MaximumFOp::create(
                                              nb, nloc, args[1], value)});
                })
                .getResult(0);
        // Σ exp(x − max) per row.
        Value sumExp = sumOver(
            tb, tloc, ValueRange{tileLogits, rowMax}, {full, perRow}, {2}, 1,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value shifted = arith::SubFOp::create(
                  nb, nloc, toF32(nb, nloc, args[0]), args[1]);
              return SmallVector<Value>{math::ExpOp::create(nb, nloc, shifted)};
            })[0];
        // This tile's Σ (max + log Σ − logits[label]).
        Value tileSum = sumOver(
            tb, tloc, ValueRange{tileLabels, rowMax, sumExp},
            {rows, rows, rows}, {0, 1}, 1,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value label = clampedIndex(nb, nloc, args[0], vocab);
              Value row = linalg::IndexOp::create(nb, nloc, 0);
              Value token = linalg::IndexOp::create(nb, nloc, 1);
              Value picked = toF32(
                  nb, nloc,
                  tensor::ExtractOp::create(nb, nloc, tileLogits,
                                            ValueRange{row, token, label}));
              Value logSumExp = arith::AddFOp::create(
                  nb, nloc, args[1], math::LogOp::create(nb, nloc, args[2]));
              return SmallVector<Value>{
                  arith::SubFOp::create(nb, nloc, logSumExp, picked)};
            })[0];
        return SmallVector<Value>{tileSum};
      })[0];
  double inverseCount = 1.0 / static_cast<double>(shape[0] * shape[1]);
  return reducePartials(b, loc, sums, b.getF32Type(), inverseCount);
}

} // namespace

LogicalResult lowerModelOp(RewriterBase &rewriter, Operation *op,
                           const GeckoTileSizes &tiles) {
  if (failed(requireStatic(op)))
    return failure();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  Value replacement;
  if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
    replacement = lowerEmbedding(rewriter, loc, embedding, tiles);
  } else if (auto swiglu = dyn_cast<SwiGluOp>(op)) {
    if (cast<RankedTensorType>(swiglu.getType()).getRank() < 1)
      return op->emitOpError()
             << "gecko-convert-to-linalg expects a tensor of rank >= 1";
    replacement = lowerSwiGlu(rewriter, loc, swiglu, tiles);
  } else if (auto loss = dyn_cast<CrossEntropyOp>(op)) {
    replacement = lowerCrossEntropy(rewriter, loc, loss, tiles);
  } else {
    return op->emitOpError() << "is not a model-graph op";
  }
  rewriter.replaceOp(op, replacement);
  return success();
}

} // namespace mlir::gecko
