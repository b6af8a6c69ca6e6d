//===- TileUtils.cpp - Shared helpers of the gecko-to-linalg lowering -----===//

#include "TileUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

namespace mlir::gecko {

namespace {

/// min(tile, extent - offset): the size of the tile starting at `offset`.
OpFoldResult tileSize(OpBuilder &b, Location loc, Value offset, int64_t tile,
                      int64_t extent) {
  if (extent % tile == 0) // every tile is full
    return b.getIndexAttr(tile);
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {b.getAffineConstantExpr(tile), extent - d0}, b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset});
}

} // namespace

SmallVector<Value> buildRowTiledForall(OpBuilder &b, Location loc,
                                       int64_t batch, int64_t tokens,
                                       const GeckoTileSizes &tiles,
                                       ValueRange outputs, TileBodyFn body) {
  int64_t batchTile = std::min(tiles.batch, batch);
  int64_t tokenTile = std::min(tiles.tokens, tokens);
  SmallVector<OpFoldResult> lbs = {b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ubs = {b.getIndexAttr(batch),
                                   b.getIndexAttr(tokens)};
  SmallVector<OpFoldResult> steps = {b.getIndexAttr(batchTile),
                                     b.getIndexAttr(tokenTile)};
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps, outputs,
                                      /*mapping=*/std::nullopt);

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs = forall.getInductionVars();
  RowTile tile;
  tile.batchOffset = ivs[0];
  tile.tokenOffset = ivs[1];
  tile.batchSize = tileSize(b, loc, ivs[0], batchTile, batch);
  tile.tokenSize = tileSize(b, loc, ivs[1], tokenTile, tokens);
  SmallVector<Value> results = body(b, loc, tile, forall.getRegionIterArgs());

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [result, shared] :
       llvm::zip_equal(results, forall.getRegionIterArgs())) {
    auto type = cast<RankedTensorType>(result.getType());
    SmallVector<OpFoldResult> offsets = {tile.batchOffset, tile.tokenOffset};
    SmallVector<OpFoldResult> sizes = {tile.batchSize, tile.tokenSize};
    for (int64_t dim = 2; dim < type.getRank(); ++dim) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(type.getDimSize(dim)));
    }
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

Value extractRowTile(OpBuilder &b, Location loc, Value source,
                     const RowTile &tile) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> offsets = {tile.batchOffset, tile.tokenOffset};
  SmallVector<OpFoldResult> sizes = {tile.batchSize, tile.tokenSize};
  for (int64_t dim = 2; dim < type.getRank(); ++dim) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(dim)));
  }
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                        strides);
}

Value reshapeStatic(OpBuilder &b, Location loc, Value source,
                    ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(source.getType());
  if (type.getShape() == shape)
    return source;
  Value flat = source;
  if (type.getRank() > 1) {
    ReassociationIndices all =
        llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
    flat = tensor::CollapseShapeOp::create(b, loc, source,
                                           ArrayRef<ReassociationIndices>{all});
  }
  if (shape.size() == 1)
    return flat;
  ReassociationIndices all =
      llvm::to_vector(llvm::seq<int64_t>(0, shape.size()));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, resultType, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

Value emptyLike(OpBuilder &b, Location loc, Value like, Type type) {
  return tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, like),
                                 type);
}

Value toF32(OpBuilder &b, Location loc, Value value) {
  if (value.getType().isF32())
    return value;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), value);
}

Value fromF32(OpBuilder &b, Location loc, Value value, Type type) {
  if (type.isF32())
    return value;
  return arith::TruncFOp::create(b, loc, type, value);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value sumLastDim(OpBuilder &b, Location loc, Value input, ValueRange perRow,
                 SummandFn term) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  sizes.pop_back();
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value zero = f32Constant(b, loc, 0.0);
  Value acc = linalg::FillOp::create(b, loc, zero, init).getResult(0);

  MLIRContext *ctx = b.getContext();
  AffineMap full = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap row = full.dropResult(rank - 1);
  SmallVector<AffineMap> maps = {full};
  maps.append(perRow.size(), row);
  maps.push_back(row);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  SmallVector<Value> inputs = {input};
  llvm::append_range(inputs, perRow);
  auto generic = linalg::GenericOp::create(
      b, loc, acc.getType(), inputs, acc, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value element = toF32(nb, nloc, args.front());
        Value summand = term(nb, nloc, element, args.slice(1, perRow.size()));
        Value sum = arith::AddFOp::create(nb, nloc, args.back(), summand);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

SmallVector<Value> elementwise(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ValueRange outputs,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = cast<RankedTensorType>(outputs.front().getType()).getRank();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<AffineMap> maps(inputMaps);
  maps.append(outputs.size(), identity);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, outputs.getTypes(), inputs, outputs, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return llvm::to_vector_of<Value>(generic.getResults());
}

Value ropeInverseFrequencies(OpBuilder &b, Location loc, int64_t headDim,
                             double base) {
  SmallVector<float> table;
  for (int64_t j = 0; j < headDim / 2; ++j) {
    float frequency = static_cast<float>(
        std::pow(base, static_cast<double>(2 * j) / headDim));
    table.push_back(1.0f / frequency);
  }
  auto type = RankedTensorType::get({headDim / 2}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, ArrayRef<float>(table)));
}

} // namespace mlir::gecko
