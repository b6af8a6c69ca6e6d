//===- LowerLinear.cpp - Dense layers and block elementwise ops to linalg -===//
//
// spec §7-§8, the dense parts of the Gecko block. Every op is viewed as a
// matrix (rows M = all leading dimensions folded, columns = the last one)
// and computed by an scf.forall over (row tile, column tile) blocks:
// - gecko.linear: per (token-tile-size rows, linear-column-tile outputs)
//   block, y = x_tile · (W_tile)ᵀ as linalg.transpose of the (tn, in) weight
//   slice + linalg.matmul into an f32 accumulator (bf16/f16 inputs are
//   multiplied in f32), then one elementwise generic adds the bias and
//   rounds to the activation type.
// - gecko.linear_grad: dx = dy · W per (rows, input columns) block;
//   dW = dyᵀ · x per (output rows, input columns) block, each block reducing
//   over ALL M rows inside one linalg.matmul (deterministic, no atomics);
//   dbias = Σ_rows dy per output block (f32 reduction).
// - gecko.silu(_grad), gecko.gated_add(_grad): elementwise generics in f32
//   per (rows, columns) block.
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::gecko {

namespace {

/// Size of the block starting at `offset` of a dimension of `extent` cut in
/// steps of `tile` (affine.min for the partial last block).
OpFoldResult blockSize(OpBuilder &b, Location loc, Value offset, int64_t tile,
                       int64_t extent) {
  if (extent % tile == 0)
    return b.getIndexAttr(tile);
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {b.getAffineConstantExpr(tile), extent - d0}, b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset});
}

/// One (row, column) block of a 2-D forall.
struct Block2D {
  Value row, col;
  OpFoldResult rows, cols;
};

/// scf.forall over [0, m) x [0, n) in (tm, tn) steps; `body` returns one
/// (rows, cols) tile per rank-2 output, inserted at [row, col].
SmallVector<Value> buildBlockForall(
    OpBuilder &b, Location loc, int64_t m, int64_t n, int64_t tm, int64_t tn,
    ValueRange outputs,
    function_ref<SmallVector<Value>(OpBuilder &, Location, const Block2D &)>
        body) {
  tm = std::max<int64_t>(1, std::min(tm, m));
  tn = std::max<int64_t>(1, std::min(tn, n));
  SmallVector<OpFoldResult> lbs = {b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ubs = {b.getIndexAttr(m), b.getIndexAttr(n)};
  SmallVector<OpFoldResult> steps = {b.getIndexAttr(tm), b.getIndexAttr(tn)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  Block2D block{ivs[0], ivs[1], blockSize(b, loc, ivs[0], tm, m),
                blockSize(b, loc, ivs[1], tn, n)};
  SmallVector<Value> results = body(b, loc, block);
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [result, shared] :
       llvm::zip_equal(results, forall.getRegionIterArgs())) {
    SmallVector<OpFoldResult> offsets = {block.row, block.col};
    SmallVector<OpFoldResult> sizes = {block.rows, block.cols};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

/// source[rowOffset : +rows, colOffset : +cols] of a rank-2 tensor.
Value slice2D(OpBuilder &b, Location loc, Value source, OpFoldResult row,
              OpFoldResult rows, OpFoldResult col, OpFoldResult cols) {
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc, source, SmallVector<OpFoldResult>{row, col},
      SmallVector<OpFoldResult>{rows, cols}, strides);
}

Value zerosF32(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, 0.0), init)
      .getResult(0);
}

/// lhs (m, k) · rhs (k, n) accumulated in a fresh f32 (m, n) tensor.
Value matmulF32(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  OpFoldResult m = tensor::getMixedSize(b, loc, lhs, 0);
  OpFoldResult n = tensor::getMixedSize(b, loc, rhs, 1);
  Value acc = zerosF32(b, loc, {m, n});
  return linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{acc})
      .getResult(0);
}

Value transpose2D(OpBuilder &b, Location loc, Value x) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  Value init = tensor::EmptyOp::create(
      b, loc, SmallVector<OpFoldResult>{sizes[1], sizes[0]},
      cast<RankedTensorType>(x.getType()).getElementType());
  return linalg::TransposeOp::create(b, loc, x, init, ArrayRef<int64_t>{1, 0})
      ->getResult(0);
}

/// (M, F) view: leading dimensions folded.
SmallVector<int64_t> matrixView(ArrayRef<int64_t> shape) {
  int64_t rows = 1;
  for (int64_t dim : shape.drop_back())
    rows *= dim;
  return {rows, shape.back()};
}

Value lowerLinear(OpBuilder &b, Location loc, LinearOp op,
                  const GeckoTileSizes &tiles) {
  auto xType = cast<RankedTensorType>(op.getX().getType());
  auto yType = cast<RankedTensorType>(op.getY().getType());
  Type elementType = yType.getElementType();
  SmallVector<int64_t> xView = matrixView(xType.getShape());
  int64_t m = xView[0], in = xView[1], out = yType.getShape().back();
  Value x = reshapeStatic(b, loc, op.getX(), xView);
  Value weight = op.getWeight();
  Value bias = op.getBias();
  Value init = tensor::EmptyOp::create(b, loc, {m, out}, elementType);
  AffineMap identity = b.getMultiDimIdentityMap(2);
  AffineMap perColumn =
      AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext());
  Value y = buildBlockForall(
      b, loc, m, out, tiles.tokens, tiles.linearColumns, init,
      [&](OpBuilder &tb, Location tl, const Block2D &blk) {
        Value xTile = slice2D(tb, tl, x, blk.row, blk.rows, tb.getIndexAttr(0),
                              tb.getIndexAttr(in));
        Value wTile = slice2D(tb, tl, weight, blk.col, blk.cols,
                              tb.getIndexAttr(0), tb.getIndexAttr(in));
        Value acc = matmulF32(tb, tl, xTile, transpose2D(tb, tl, wTile));
        Value outTile = emptyLike(tb, tl, acc, elementType);
        SmallVector<Value> inputs = {acc};
        SmallVector<AffineMap> maps = {identity};
        if (bias) {
          inputs.push_back(tensor::ExtractSliceOp::create(
              tb, tl, bias, SmallVector<OpFoldResult>{blk.col},
              SmallVector<OpFoldResult>{blk.cols},
              SmallVector<OpFoldResult>{tb.getIndexAttr(1)}));
          maps.push_back(perColumn);
        }
        return elementwise(
            tb, tl, inputs, maps, outTile,
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value v = args[0];
              if (bias)
                v = arith::AddFOp::create(nb, nl, v, toF32(nb, nl, args[1]));
              return SmallVector<Value>{fromF32(nb, nl, v, elementType)};
            });
      })[0];
  return reshapeStatic(b, loc, y, yType.getShape());
}

SmallVector<Value> lowerLinearGrad(OpBuilder &b, Location loc, LinearGradOp op,
                                   const GeckoTileSizes &tiles) {
  auto xType = cast<RankedTensorType>(op.getX().getType());
  auto dyType = cast<RankedTensorType>(op.getDy().getType());
  auto wType = cast<RankedTensorType>(op.getWeight().getType());
  SmallVector<int64_t> xView = matrixView(xType.getShape());
  int64_t m = xView[0], in = xView[1], out = dyType.getShape().back();
  Value x = reshapeStatic(b, loc, op.getX(), xView);
  Value dy = reshapeStatic(b, loc, op.getDy(), {m, out});
  Value weight = op.getWeight();
  AffineMap identity = b.getMultiDimIdentityMap(2);
  auto rounded = [&](OpBuilder &tb, Location tl, Value acc, Type type) {
    Value outTile = emptyLike(tb, tl, acc, type);
    return elementwise(tb, tl, acc, identity, outTile,
                       [&](OpBuilder &nb, Location nl, ValueRange args) {
                         return SmallVector<Value>{
                             fromF32(nb, nl, args[0], type)};
                       })[0];
  };
  // dx = dy · W, per (row, input column) block.
  Type xElement = xType.getElementType();
  Value dxInit = tensor::EmptyOp::create(b, loc, {m, in}, xElement);
  Value dx = buildBlockForall(
      b, loc, m, in, tiles.tokens, tiles.linearColumns, dxInit,
      [&](OpBuilder &tb, Location tl, const Block2D &blk) {
        Value dyTile = slice2D(tb, tl, dy, blk.row, blk.rows,
                               tb.getIndexAttr(0), tb.getIndexAttr(out));
        Value wTile = slice2D(tb, tl, weight, tb.getIndexAttr(0),
                              tb.getIndexAttr(out), blk.col, blk.cols);
        return SmallVector<Value>{
            rounded(tb, tl, matmulF32(tb, tl, dyTile, wTile), xElement)};
      })[0];
  // dW = dyᵀ · x, per (output row, input column) block over all M rows.
  Type wElement = wType.getElementType();
  Value dwInit = tensor::EmptyOp::create(b, loc, {out, in}, wElement);
  Value dw = buildBlockForall(
      b, loc, out, in, tiles.linearColumns, tiles.linearColumns, dwInit,
      [&](OpBuilder &tb, Location tl, const Block2D &blk) {
        Value dyTile = slice2D(tb, tl, dy, tb.getIndexAttr(0),
                               tb.getIndexAttr(m), blk.row, blk.rows);
        Value xTile = slice2D(tb, tl, x, tb.getIndexAttr(0), tb.getIndexAttr(m),
                              blk.col, blk.cols);
        Value acc = matmulF32(tb, tl, transpose2D(tb, tl, dyTile), xTile);
        return SmallVector<Value>{rounded(tb, tl, acc, wElement)};
      })[0];
  SmallVector<Value> results = {reshapeStatic(b, loc, dx, xType.getShape()),
                                dw};
  if (op.getBias()) {
    Type bElement =
        cast<RankedTensorType>(op.getBias().getType()).getElementType();
    Value dbInit = tensor::EmptyOp::create(b, loc, {1, out}, bElement);
    Value db = buildBlockForall(
        b, loc, 1, out, 1, tiles.linearColumns, dbInit,
        [&](OpBuilder &tb, Location tl, const Block2D &blk) {
          Value dyTile = slice2D(tb, tl, dy, tb.getIndexAttr(0),
                                 tb.getIndexAttr(m), blk.col, blk.cols);
          // (cols, M) so that sumLastDim reduces over the rows.
          Value sums = sumLastDim(
              tb, tl, transpose2D(tb, tl, dyTile), {},
              [](OpBuilder &, Location, Value e, ValueRange) { return e; });
          SmallVector<OpFoldResult> sizes = {tb.getIndexAttr(1), blk.cols};
          auto sumsType = cast<RankedTensorType>(sums.getType());
          Value expanded = tensor::ExpandShapeOp::create(
              tb, tl,
              RankedTensorType::get({1, sumsType.getDimSize(0)},
                                    tb.getF32Type()),
              sums, ArrayRef<ReassociationIndices>{{0, 1}}, sizes);
          return SmallVector<Value>{rounded(tb, tl, expanded, bElement)};
        })[0];
    results.push_back(reshapeStatic(b, loc, db, {out}));
  }
  return results;
}

/// Elementwise op over equally shaped operands, tiled as (rows, columns).
Value lowerElementwise(
    OpBuilder &b, Location loc, ValueRange operands, RankedTensorType type,
    const GeckoTileSizes &tiles,
    function_ref<Value(OpBuilder &, Location, ValueRange f32Args)> fn) {
  Type elementType = type.getElementType();
  SmallVector<int64_t> view = matrixView(type.getShape());
  SmallVector<Value> flat;
  for (Value operand : operands)
    flat.push_back(reshapeStatic(b, loc, operand, view));
  Value init = tensor::EmptyOp::create(b, loc, view, elementType);
  AffineMap identity = b.getMultiDimIdentityMap(2);
  Value out = buildBlockForall(
      b, loc, view[0], view[1], tiles.tokens, tiles.linearColumns, init,
      [&](OpBuilder &tb, Location tl, const Block2D &blk) {
        SmallVector<Value> inputs;
        for (Value operand : flat)
          inputs.push_back(
              slice2D(tb, tl, operand, blk.row, blk.rows, blk.col, blk.cols));
        Value outTile = emptyLike(tb, tl, inputs[0], elementType);
        SmallVector<AffineMap> maps(inputs.size(), identity);
        return elementwise(tb, tl, inputs, maps, outTile,
                           [&](OpBuilder &nb, Location nl, ValueRange args) {
                             SmallVector<Value> f32Args;
                             for (Value arg : args.drop_back())
                               f32Args.push_back(toF32(nb, nl, arg));
                             return SmallVector<Value>{fromF32(
                                 nb, nl, fn(nb, nl, f32Args), elementType)};
                           });
      })[0];
  return reshapeStatic(b, loc, out, type.getShape());
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0);
  Value expNeg = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, expNeg));
}

LogicalResult requireStaticShapes(Operation *op) {
  for (Type type :
       llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes())) {
    auto shaped = dyn_cast<RankedTensorType>(type);
    if (!shaped || !shaped.hasStaticShape())
      return op->emitOpError()
             << "gecko-convert-to-linalg supports only static shapes, got "
             << type;
    if (shaped.getRank() < 1)
      return op->emitOpError()
             << "gecko-convert-to-linalg expects tensors of rank >= 1";
  }
  return success();
}

} // namespace

LogicalResult lowerLinearOp(RewriterBase &rewriter, Operation *op,
                            const GeckoTileSizes &tiles) {
  if (failed(requireStaticShapes(op)))
    return failure();
  if (tiles.linearColumns < 1)
    return op->emitOpError() << "linear-column-tile must be positive";
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  using Args = ValueRange;
  if (auto linear = dyn_cast<LinearOp>(op)) {
    rewriter.replaceOp(op, lowerLinear(rewriter, loc, linear, tiles));
    return success();
  }
  if (auto grad = dyn_cast<LinearGradOp>(op)) {
    rewriter.replaceOp(op, lowerLinearGrad(rewriter, loc, grad, tiles));
    return success();
  }
  if (auto silu = dyn_cast<SiluOp>(op)) {
    auto type = cast<RankedTensorType>(silu.getType());
    rewriter.replaceOp(
        op, lowerElementwise(rewriter, loc, silu.getX(), type, tiles,
                             [](OpBuilder &b, Location l, Args a) -> Value {
                               return arith::MulFOp::create(
                                   b, l, a[0], sigmoid(b, l, a[0]));
                             }));
    return success();
  }
  if (auto grad = dyn_cast<SiluGradOp>(op)) {
    auto type = cast<RankedTensorType>(grad.getType());
    rewriter.replaceOp(
        op, lowerElementwise(
                rewriter, loc, ValueRange{grad.getX(), grad.getDy()}, type,
                tiles, [](OpBuilder &b, Location l, Args a) -> Value {
                  // dy·σ·(1 + x·(1 − σ))
                  Value s = sigmoid(b, l, a[0]);
                  Value one = f32Constant(b, l, 1.0);
                  Value t = arith::MulFOp::create(
                      b, l, a[0], arith::SubFOp::create(b, l, one, s));
                  Value d = arith::MulFOp::create(
                      b, l, s, arith::AddFOp::create(b, l, one, t));
                  return arith::MulFOp::create(b, l, a[1], d);
                }));
    return success();
  }
  if (auto add = dyn_cast<GatedAddOp>(op)) {
    auto type = cast<RankedTensorType>(add.getY().getType());
    SmallVector<Value> operands = {add.getA(), add.getB()};
    if (add.getGate())
      operands.push_back(add.getGate());
    rewriter.replaceOp(
        op, lowerElementwise(rewriter, loc, operands, type, tiles,
                             [](OpBuilder &b, Location l, Args a) -> Value {
                               Value x = a[0];
                               if (a.size() == 3)
                                 x = arith::MulFOp::create(b, l, x, a[2]);
                               return arith::AddFOp::create(b, l, x, a[1]);
                             }));
    return success();
  }
  if (auto grad = dyn_cast<GatedAddGradOp>(op)) {
    auto type = cast<RankedTensorType>(grad.getDy().getType());
    SmallVector<Value> results;
    Value dy = grad.getDy();
    if (Value gate = grad.getGate()) {
      results.push_back(
          lowerElementwise(rewriter, loc, ValueRange{dy, gate}, type, tiles,
                           [](OpBuilder &b, Location l, Args a) -> Value {
                             return arith::MulFOp::create(b, l, a[0], a[1]);
                           }));
    } else {
      results.push_back(dy);
    }
    results.push_back(dy);
    if (grad.getGate())
      results.push_back(lowerElementwise(
          rewriter, loc, ValueRange{dy, grad.getA()}, type, tiles,
          [](OpBuilder &b, Location l, Args a) -> Value {
            return arith::MulFOp::create(b, l, a[0], a[1]);
          }));
    rewriter.replaceOp(op, results);
    return success();
  }
  return op->emitOpError() << "is not a dense/elementwise block op";
}

} // namespace mlir::gecko
