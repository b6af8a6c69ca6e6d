//===- BuilderSupport.h - Shared pieces of the model builders ---*- C++ -*-===//
//
// Internal to lib/Model: the op emitter, the named-argument view, the layer
// state list and the two halves of one layer (everything before the
// attention / working memory, and everything after), shared by the chunk
// builder (ModelBuilder.cpp) and the decode builder (DecodeBuilder.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_LIB_MODEL_BUILDERSUPPORT_H
#define GECKO_LIB_MODEL_BUILDERSUPPORT_H

#include "gecko/Model/ModelBuilder.h"

#include "gecko/Dialect/Gecko/IR/GeckoOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/StringMap.h"

namespace gecko::model::detail {

using namespace mlir;
using llvm::ArrayRef;
using llvm::SmallVector;
using llvm::StringMap;
using llvm::StringRef;

llvm::Error buildError(const llvm::Twine &message);

/// Names and shapes of one layer's state (spec §9) after `tokens` tokens.
std::vector<ArgInfo> layerState(const ref::GeckoConfig &c, int64_t batch,
                                int64_t tokens, const std::string &prefix);

/// Values by name (the builder's view of a signature).
struct Named {
  StringMap<Value> values;
  Value get(StringRef name) const {
    auto it = values.find(name);
    return it == values.end() ? Value() : it->second;
  }
};

inline RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type element) {
  return RankedTensorType::get(shape, element);
}

inline ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// Helpers that create ops at one insertion point.
struct Emitter {
  OpBuilder &b;
  Location loc;
  Type f32;

  Emitter(OpBuilder &b, Location loc) : b(b), loc(loc), f32(b.getF32Type()) {}

  Value zeros(ArrayRef<int64_t> shape, Type element) {
    auto type = tensorOf(shape, element);
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getZeroAttr(element)));
  }

  /// Reshape by folding / splitting the listed dims (static shapes).
  Value expand(Value v, ArrayRef<int64_t> shape,
               ArrayRef<ReassociationIndices> groups) {
    auto type =
        tensorOf(shape, cast<RankedTensorType>(v.getType()).getElementType());
    return tensor::ExpandShapeOp::create(b, loc, type, v, groups);
  }
  Value collapse(Value v, ArrayRef<ReassociationIndices> groups) {
    return tensor::CollapseShapeOp::create(b, loc, v, groups);
  }
  /// (B, L, H*d) -> (B, L, H, d).
  Value splitHeads(Value v, int64_t heads) {
    ArrayRef<int64_t> s = shapeOf(v);
    return expand(v, {s[0], s[1], heads, s[2] / heads}, {{0}, {1}, {2, 3}});
  }
  Value mergeHeads(Value v) { return collapse(v, {{0}, {1}, {2, 3}}); }

  /// v[:, from:to] along dim 1 (any rank).
  Value sliceDim1(Value v, int64_t from, int64_t to) {
    ArrayRef<int64_t> s = shapeOf(v);
    SmallVector<int64_t> offsets(s.size(), 0), sizes(s), strides(s.size(), 1);
    offsets[1] = from;
    sizes[1] = to - from;
    auto type =
        tensorOf(sizes, cast<RankedTensorType>(v.getType()).getElementType());
    return tensor::ExtractSliceOp::create(b, loc, type, v, ValueRange{},
                                          ValueRange{}, ValueRange{}, offsets,
                                          sizes, strides);
  }
  Value concatDim1(Value a, Value c) {
    return tensor::ConcatOp::create(b, loc, /*dim=*/1, ValueRange{a, c});
  }
  /// Swaps dims 1 and 2 of a rank-4 tensor.
  Value transpose12(Value v) {
    ArrayRef<int64_t> s = shapeOf(v);
    Value init = tensor::EmptyOp::create(
        b, loc, SmallVector<int64_t>{s[0], s[2], s[1], s[3]},
        cast<RankedTensorType>(v.getType()).getElementType());
    return linalg::TransposeOp::create(b, loc, v, init,
                                       ArrayRef<int64_t>{0, 2, 1, 3})
        ->getResult(0);
  }

  Value linear(Value x, Value w, Value bias = {}) {
    SmallVector<int64_t> shape(shapeOf(x));
    shape.back() = shapeOf(w)[0];
    return mlir::gecko::LinearOp::create(b, loc, tensorOf(shape, f32), x, w,
                                         bias);
  }
  Value add(Value a, Value c, Value gate = {}) {
    return mlir::gecko::GatedAddOp::create(b, loc, a.getType(), a, c, gate);
  }
};

/// Per-layer inputs of the block body.
struct LayerIO {
  Value x, bos, seg, prevSeg, prevCount, start;
  Named params; // "mega.*", "nffn.*"
  Named state;  // "sca_k", ...
};

/// What one layer computes before the attention and the working memory.
struct LayerFront {
  Value mx, r;            // (B, L, D), the attention gate (B, L, value_dim)
  Value qh, kh, aqh, akh; // (B, L, H, dz), q / k rotated
  Value vh;               // (B, L, H, dv)
  Value newCount, newMean, newVar, newHx; // TSN / CEMA state after the call
};

/// TSN (from count / mean / var) -> CEMA (from hx, or zero when null) ->
/// RMS norm -> z split, v, r -> heads, rope of q and k from io.start.
LayerFront emitLayerFront(Emitter &e, const ref::GeckoConfig &c,
                          const LayerIO &io, Value count, Value mean, Value var,
                          Value hx);
/// sca·r + awm -> wh1 / wh2 + residual -> NFFN: the layer output.
Value emitLayerBack(Emitter &e, const ref::GeckoConfig &c, const LayerIO &io,
                    const LayerFront &front, Value sca, Value awm);

/// Checks that `args` match `signature` and names them.
llvm::Expected<Named> nameArgs(const Signature &signature, ValueRange args,
                               OpBuilder &b);
/// The dialects the builders create ops of.
void loadDialects(MLIRContext *ctx);

} // namespace gecko::model::detail

#endif // GECKO_LIB_MODEL_BUILDERSUPPORT_H
