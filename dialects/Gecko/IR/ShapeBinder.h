//===- ShapeBinder.h - Named-dimension checks for gecko verifiers -*- C++
//-*-===//
//
// The gecko verifiers state each operand's shape as a list of symbolic
// dimension names, e.g. prev_k : (B, C, H, dk). A ShapeBinder binds each name
// to the first static size it sees and reports the first operand that
// disagrees, naming it and printing the expected and actual shapes. Dynamic
// sizes are compatible with anything, so every relation whose dims are
// static is checked.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DIALECT_GECKO_IR_SHAPEBINDER_H
#define GECKO_DIALECT_GECKO_IR_SHAPEBINDER_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

namespace mlir::gecko {

class ShapeBinder {
public:
  explicit ShapeBinder(Operation *op) : op(op) {}

  /// Fixes `name` to a size known from an attribute.
  void bind(StringRef name, int64_t size) { sizes[name] = size; }
  /// The static size bound to `name`, if any.
  std::optional<int64_t> lookup(StringRef name) const;

  /// Element type every activation-typed value must have (set from the
  /// op's primary operand).
  void setActivationType(Type type) { activationType = type; }

  /// Checks `value` (operand or result `what`) against `dims`; entries that
  /// are integers ("4") are literal sizes. With `isActivation`, the element
  /// type must also be the activation type. Unranked values are accepted.
  LogicalResult expect(Value value, StringRef what, ArrayRef<StringRef> dims,
                       bool isActivation = false);

  /// Checks that `value` is present exactly when `condition` holds.
  LogicalResult expectPresence(Value value, StringRef what, bool condition,
                               StringRef conditionText);

private:
  Operation *op;
  llvm::StringMap<int64_t> sizes;
  Type activationType;
};

/// Shared attribute and grouping checks; each names the attribute or operand.
LogicalResult expectPositive(Operation *op, StringRef attr, int64_t value);
LogicalResult expectPositive(Operation *op, StringRef attr, double value);
LogicalResult expectUnitInterval(Operation *op, StringRef attr, double value);
/// `divisor` (attribute `attr`) must divide `size` (described by `sizeText`)
/// when the size is static.
LogicalResult expectDivides(Operation *op, StringRef attr, int64_t divisor,
                            StringRef sizeText, std::optional<int64_t> size);
LogicalResult expectTogether(Operation *op, Value a, StringRef aName, Value b,
                             StringRef bName);
/// `value` may only be given when `required` is given.
LogicalResult expectRequires(Operation *op, Value value, StringRef name,
                             Value required, StringRef requiredName);

} // namespace mlir::gecko

#endif // GECKO_DIALECT_GECKO_IR_SHAPEBINDER_H
