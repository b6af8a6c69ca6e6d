//===- Compare.h - Golden comparison metric and key classes -----*- C++ -*-===//

#ifndef GECKO_CONFORM_COMPARE_H
#define GECKO_CONFORM_COMPARE_H

#include "gecko/Reference/Tensor.h"

#include "llvm/ADT/StringRef.h"

#include <string>

namespace gecko::conform {

struct Comparison {
  /// max |a-b| / max(1, |b|) over the finite entries; +inf when the shapes
  /// differ, when non-finite entries do not match exactly, or (for `exact`)
  /// when any entry differs.
  double error = 0;
  /// Why the error is infinite ("shape (2, 3) vs (2, 4)"), else empty.
  std::string reason;
};

/// Compares `actual` against `expected`; `exact` for integer / boolean
/// golden tensors (ids, counts, masks).
Comparison compareTensors(const ref::Tensor &actual,
                          const ref::Tensor &expected, bool exact);

/// Whether golden key `key` is a result a backend is expected to produce:
/// out.*, int.*, grad.*, cache.*, full.* (other than full.in.* / full.gout.*)
/// and their per-call forms call{i}.out.*, call{i}.cache_out.*.
bool isExpectedResultKey(llvm::StringRef key);

} // namespace gecko::conform

#endif // GECKO_CONFORM_COMPARE_H
