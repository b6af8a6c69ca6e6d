//===- TileReductions.cpp - Reductions across forall tiles ----------------===//

#include "TileReductions.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::gecko {

namespace {

/// min(tile, extent - offset), as buildRowTiledForall sizes its tiles.
OpFoldResult tileSize(OpBuilder &b, Location loc, Value offset, int64_t tile,
                      int64_t extent) {
  if (extent % tile == 0)
    return b.getIndexAttr(tile);
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {b.getAffineConstantExpr(tile), extent - d0}, b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset});
}

/// offset floordiv tile: the index of the tile starting at `offset`.
OpFoldResult tileIndex(OpBuilder &b, Location loc, Value offset, int64_t tile) {
  AffineExpr d0 = b.getAffineDimExpr(0);
  return affine::makeComposedFoldedAffineApply(b, loc, d0.floorDiv(tile),
                                               {offset});
}

} // namespace

int64_t numTiles(int64_t extent, int64_t tile) {
  int64_t step = std::min(tile, extent);
  return step <= 0 ? 0 : (extent + step - 1) / step;
}

Value emptyPartials(OpBuilder &b, Location loc, int64_t batch, int64_t tokens,
                    const GeckoTileSizes &tiles, ArrayRef<int64_t> trailing) {
  SmallVector<int64_t> shape = {numTiles(batch, tiles.batch),
                                numTiles(tokens, tiles.tokens)};
  llvm::append_range(shape, trailing);
  return tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
}

SmallVector<Value>
buildRowTiledForallWithPartials(OpBuilder &b, Location loc, int64_t batch,
                                int64_t tokens, const GeckoTileSizes &tiles,
                                ValueRange rowOutputs, ValueRange partials,
                                TileBodyFn body) {
  int64_t batchTile = std::min(tiles.batch, batch);
  int64_t tokenTile = std::min(tiles.tokens, tokens);
  SmallVector<Value> outputs(rowOutputs);
  llvm::append_range(outputs, partials);
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
  OpFoldResult batchIndex = tileIndex(b, loc, ivs[0], batchTile);
  OpFoldResult tokenIndex = tileIndex(b, loc, ivs[1], tokenTile);
  SmallVector<Value> results = body(b, loc, tile, forall.getRegionIterArgs());
  assert(results.size() == outputs.size() && "one result per shared output");

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  for (auto [index, result, shared] :
       llvm::enumerate(results, forall.getRegionIterArgs())) {
    bool isPartial = index >= rowOutputs.size();
    auto sharedType = cast<RankedTensorType>(shared.getType());
    SmallVector<OpFoldResult> offsets, sizes;
    if (isPartial) {
      offsets = {batchIndex, tokenIndex};
      sizes = {b.getIndexAttr(1), b.getIndexAttr(1)};
    } else {
      offsets = {tile.batchOffset, tile.tokenOffset};
      sizes = {tile.batchSize, tile.tokenSize};
    }
    for (int64_t dim = 2; dim < sharedType.getRank(); ++dim) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(sharedType.getDimSize(dim)));
    }
    SmallVector<OpFoldResult> strides(sharedType.getRank(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, result, shared, offsets,
                                          sizes, strides);
  }
  return llvm::to_vector_of<Value>(forall.getResults());
}

SmallVector<Value> sumOver(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ArrayRef<int64_t> reduced, unsigned numSums,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> term) {
  Value space = inputs.front();
  int64_t rank = cast<RankedTensorType>(space.getType()).getRank();
  SmallVector<OpFoldResult> allSizes = tensor::getMixedSizes(b, loc, space);
  SmallVector<OpFoldResult> keptSizes;
  SmallVector<AffineExpr> keptDims;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t dim = 0; dim < rank; ++dim) {
    bool isReduced = llvm::is_contained(reduced, dim);
    iterators.push_back(isReduced ? utils::IteratorType::reduction
                                  : utils::IteratorType::parallel);
    if (!isReduced) {
      keptSizes.push_back(allSizes[dim]);
      keptDims.push_back(b.getAffineDimExpr(dim));
    }
  }
  Value init = tensor::EmptyOp::create(b, loc, keptSizes, b.getF32Type());
  Value zero = f32Constant(b, loc, 0.0);
  Value acc = linalg::FillOp::create(b, loc, zero, init).getResult(0);
  SmallVector<Value> accs(numSums, acc);

  AffineMap keptMap = AffineMap::get(rank, 0, keptDims, b.getContext());
  SmallVector<AffineMap> maps(inputMaps);
  maps.append(numSums, keptMap);
  SmallVector<Type> resultTypes(numSums, acc.getType());
  auto generic = linalg::GenericOp::create(
      b, loc, resultTypes, inputs, accs, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> summands =
            term(nb, nloc, args.take_front(inputs.size()));
        SmallVector<Value> sums;
        for (auto [summand, partial] :
             llvm::zip_equal(summands, args.take_back(numSums)))
          sums.push_back(arith::AddFOp::create(nb, nloc, partial, summand));
        linalg::YieldOp::create(nb, nloc, sums);
      });
  return llvm::to_vector_of<Value>(generic.getResults());
}

Value reducePartials(OpBuilder &b, Location loc, Value partials,
                     Type elementType, double factor) {
  int64_t rank = cast<RankedTensorType>(partials.getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  Value sum = sumOver(b, loc, partials, identity, {0, 1}, 1,
                      [](OpBuilder &, Location, ValueRange args) {
                        return SmallVector<Value>{args[0]};
                      })[0];
  if (factor == 1.0 && elementType.isF32())
    return sum;
  Value init = emptyLike(b, loc, sum, elementType);
  return elementwise(
      b, loc, sum, b.getMultiDimIdentityMap(rank - 2), init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value = args[0];
        if (factor != 1.0)
          value = arith::MulFOp::create(nb, nloc, value,
                                        f32Constant(nb, nloc, factor));
        return SmallVector<Value>{fromF32(nb, nloc, value, elementType)};
      })[0];
}

} // namespace mlir::gecko
