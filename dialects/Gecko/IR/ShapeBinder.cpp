//===- ShapeBinder.cpp - Named-dimension checks for gecko verifiers -------===//

#include "ShapeBinder.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::gecko;

static std::optional<int64_t> parseLiteral(StringRef name) {
  int64_t value;
  if (name.getAsInteger(10, value))
    return std::nullopt;
  return value;
}

std::optional<int64_t> ShapeBinder::lookup(StringRef name) const {
  if (std::optional<int64_t> literal = parseLiteral(name))
    return literal;
  auto it = sizes.find(name);
  if (it == sizes.end() || ShapedType::isDynamic(it->second))
    return std::nullopt;
  return it->second;
}

static std::string formatActual(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "(";
  llvm::interleaveComma(shape, os, [&](int64_t size) {
    if (ShapedType::isDynamic(size))
      os << "?";
    else
      os << size;
  });
  os << ")";
  return text;
}

LogicalResult ShapeBinder::expect(Value value, StringRef what,
                                  ArrayRef<StringRef> dims, bool isActivation) {
  if (!value)
    return success();
  auto type = cast<ShapedType>(value.getType());
  if (isActivation && activationType && type.getElementType() != activationType)
    return op->emitOpError()
           << "'" << what << "' must have element type " << activationType
           << ", got " << type.getElementType();
  if (!type.hasRank())
    return success();

  std::string expected;
  llvm::raw_string_ostream os(expected);
  os << "(";
  llvm::interleaveComma(dims, os, [&](StringRef name) {
    os << name;
    if (parseLiteral(name))
      return;
    if (std::optional<int64_t> size = lookup(name))
      os << "=" << *size;
  });
  os << ")";

  if (type.getRank() != static_cast<int64_t>(dims.size()))
    return op->emitOpError()
           << "'" << what << "' must have rank " << dims.size() << " "
           << expected << ", got rank " << type.getRank();

  ArrayRef<int64_t> shape = type.getShape();
  for (auto [name, size] : llvm::zip_equal(dims, shape)) {
    std::optional<int64_t> known = lookup(name);
    if (known && !ShapedType::isDynamic(size) && *known != size)
      return op->emitOpError() << "'" << what << "' must have shape "
                               << expected << ", got " << formatActual(shape);
    if (!known && !parseLiteral(name))
      sizes[name] = size;
  }
  return success();
}

LogicalResult ShapeBinder::expectPresence(Value value, StringRef what,
                                          bool condition,
                                          StringRef conditionText) {
  if (static_cast<bool>(value) == condition)
    return success();
  return op->emitOpError() << "expected '" << what << "' exactly when "
                           << conditionText << ", but it is "
                           << (value ? "present" : "absent");
}

LogicalResult mlir::gecko::expectPositive(Operation *op, StringRef attr,
                                          int64_t value) {
  if (value > 0)
    return success();
  return op->emitOpError() << "expected " << attr << " to be positive, got "
                           << value;
}

LogicalResult mlir::gecko::expectPositive(Operation *op, StringRef attr,
                                          double value) {
  if (value > 0.0)
    return success();
  return op->emitOpError() << "expected " << attr << " to be positive, got "
                           << value;
}

LogicalResult mlir::gecko::expectUnitInterval(Operation *op, StringRef attr,
                                              double value) {
  if (value > 0.0 && value < 1.0)
    return success();
  return op->emitOpError() << "expected " << attr << " in (0, 1), got "
                           << value;
}

LogicalResult mlir::gecko::expectDivides(Operation *op, StringRef attr,
                                         int64_t divisor, StringRef sizeText,
                                         std::optional<int64_t> size) {
  if (!size || *size % divisor == 0)
    return success();
  return op->emitOpError() << "expected " << attr << " to divide " << sizeText
                           << " " << *size << ", got " << divisor;
}

LogicalResult mlir::gecko::expectTogether(Operation *op, Value a,
                                          StringRef aName, Value b,
                                          StringRef bName) {
  if (static_cast<bool>(a) == static_cast<bool>(b))
    return success();
  return op->emitOpError() << "expected '" << aName << "' and '" << bName
                           << "' to be given together, but only '"
                           << (a ? aName : bName) << "' is present";
}

LogicalResult mlir::gecko::expectRequires(Operation *op, Value value,
                                          StringRef name, Value required,
                                          StringRef requiredName) {
  if (!value || required)
    return success();
  return op->emitOpError() << "'" << name << "' requires '" << requiredName
                           << "'";
}
