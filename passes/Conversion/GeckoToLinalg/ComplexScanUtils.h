//===- ComplexScanUtils.h - Helpers of the complex EMA lowerings --*- C++
//-*-===//
//
// The small builders shared by the cema lowering (LowerComplexEma.cpp) and
// the fused timestep_norm -> cema -> rms_norm lowering
// (LowerFusedNormEma.cpp): complex numbers as (re, im) f32 pairs, static
// sizes, slices and inserts of tiles, and the tile-size clamp.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONVERSION_GECKOTOLINALG_COMPLEXSCANUTILS_H
#define GECKO_CONVERSION_GECKOTOLINALG_COMPLEXSCANUTILS_H

#include "TileUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::gecko::cema_utils {

/// A complex value (scalar or tensor) as a pair of f32 values.
struct Cx {
  Value re, im;
};

inline Value mulf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}

inline Value addf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}

inline Value subf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}

inline Value select(OpBuilder &b, Location loc, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, loc, c, x, y);
}

inline Cx cmul(OpBuilder &b, Location loc, Cx x, Cx y) {
  return {subf(b, loc, mulf(b, loc, x.re, y.re), mulf(b, loc, x.im, y.im)),
          addf(b, loc, mulf(b, loc, x.re, y.im), mulf(b, loc, x.im, y.re))};
}

inline SmallVector<OpFoldResult> staticSizes(OpBuilder &b,
                                             ArrayRef<int64_t> shape) {
  return llvm::map_to_vector(
      shape, [&](int64_t s) -> OpFoldResult { return b.getIndexAttr(s); });
}

inline Value empty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type type) {
  return tensor::EmptyOp::create(b, loc, sizes, type);
}

/// Slice of `source` (unit strides) with the unit dimensions in `drop`
/// removed from the result type.
inline Value slice(OpBuilder &b, Location loc, Value source,
                   ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
                   ArrayRef<int64_t> drop = {}) {
  auto type = cast<RankedTensorType>(source.getType());
  SmallVector<int64_t> shape;
  for (auto [i, size] : llvm::enumerate(sizes)) {
    if (llvm::is_contained(drop, static_cast<int64_t>(i)))
      continue;
    std::optional<int64_t> c = getConstantIntValue(size);
    shape.push_back(c ? *c : ShapedType::kDynamic);
  }
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, resultType, source, offsets,
                                        sizes, strides);
}

inline Value insert(OpBuilder &b, Location loc, Value source, Value dest,
                    ArrayRef<OpFoldResult> offsets,
                    ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, source, dest, offsets, sizes,
                                       strides);
}

/// Splits a complex<f32> tensor into (re, im) f32 tensors.
inline Cx splitComplex(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  Value init = empty(b, loc, staticSizes(b, type.getShape()), b.getF32Type());
  AffineMap id =
      AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext());
  SmallVector<Value> parts = elementwise(
      b, loc, value, id, ValueRange{init, init},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return SmallVector<Value>{complex::ReOp::create(nb, nloc, args[0]),
                                  complex::ImOp::create(nb, nloc, args[0])};
      });
  return {parts[0], parts[1]};
}

/// Joins (re, im) f32 tensors into a complex<f32> tensor.
inline Value joinComplex(OpBuilder &b, Location loc, Cx value) {
  auto type = cast<RankedTensorType>(value.re.getType());
  auto complexType = ComplexType::get(b.getF32Type());
  Value init = empty(b, loc, staticSizes(b, type.getShape()), complexType);
  AffineMap id =
      AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext());
  return elementwise(b, loc, ValueRange{value.re, value.im}, {id, id}, init,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{complex::CreateOp::create(
                           nb, nloc, complexType, args[0], args[1])};
                     })[0];
}

/// min(tile, extent - offset) (static when the tile divides the extent).
inline OpFoldResult tileSize(OpBuilder &b, Location loc, Value offset,
                             int64_t tile, int64_t extent) {
  if (extent % tile == 0)
    return b.getIndexAttr(tile);
  AffineExpr d0 = b.getAffineDimExpr(0);
  AffineMap map = AffineMap::get(
      1, 0, {b.getAffineConstantExpr(tile), extent - d0}, b.getContext());
  return affine::makeComposedFoldedAffineMin(b, loc, map, {offset});
}

} // namespace mlir::gecko::cema_utils

#endif // GECKO_CONVERSION_GECKOTOLINALG_COMPLEXSCANUTILS_H
