//===- Compare.cpp - Golden comparison metric and key classes
//--------------===//

#include "Compare.h"

#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cmath>

using namespace llvm;

namespace gecko::conform {

Comparison compareTensors(const ref::Tensor &actual,
                          const ref::Tensor &expected, bool exact) {
  Comparison result;
  if (actual.shape != expected.shape ||
      actual.data.size() != expected.data.size()) {
    result.error = INFINITY;
    result.reason = "shape " + actual.shapeString() + " vs golden " +
                    expected.shapeString();
    return result;
  }
  for (size_t i = 0; i < expected.data.size(); ++i) {
    double a = actual.data[i], b = expected.data[i];
    bool finiteA = std::isfinite(a), finiteB = std::isfinite(b);
    if (!finiteA || !finiteB) {
      // Non-finite entries (-inf in an empty memory's lnt) must match
      // exactly; NaN never matches.
      if (finiteA != finiteB || !(a == b)) {
        result.error = INFINITY;
        result.reason = "element " + std::to_string(i) + " is " +
                        std::to_string(a) + ", golden " + std::to_string(b);
        return result;
      }
      continue;
    }
    if (exact && a != b) {
      result.error = INFINITY;
      result.reason = "integer element " + std::to_string(i) + " is " +
                      std::to_string(a) + ", golden " + std::to_string(b);
      return result;
    }
    result.error =
        std::max(result.error, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
  }
  return result;
}

bool isExpectedResultKey(StringRef key) {
  SmallVector<StringRef, 4> parts;
  key.split(parts, '.');
  if (parts.size() < 2)
    return false;
  size_t first = 0;
  // Streaming files prefix per-call keys with "call{i}".
  StringRef head = parts[0];
  if (head.consume_front("call") && !head.empty() &&
      std::all_of(head.begin(), head.end(),
                  [](char c) { return c >= '0' && c <= '9'; }))
    first = 1;
  if (first >= parts.size() - 1)
    return false;
  StringRef kind = parts[first];
  if (first == 1)
    return kind == "out" || kind == "cache_out";
  if (kind == "full")
    return parts[1] != "in" && parts[1] != "gout";
  return kind == "out" || kind == "int" || kind == "grad" || kind == "cache" ||
         kind == "cache_out";
}

} // namespace gecko::conform
