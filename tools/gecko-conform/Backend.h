//===- Backend.h - What gecko-conform runs golden cases on -------*- C++
//-*-===//
//
// A backend computes, for one golden case, every output / intermediate /
// gradient it can and records it under the golden key. Later backends
// (compiled kernels, a JIT) implement the same interface and register in
// createBackend().
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONFORM_BACKEND_H
#define GECKO_CONFORM_BACKEND_H

#include "GoldenCase.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace gecko::conform {

class Backend {
public:
  virtual ~Backend() = default;
  virtual llvm::StringRef name() const = 0;
  /// Runs `golden` and records results; an error (e.g. an op the backend
  /// cannot run, inconsistent inputs) makes the file FAIL with its message.
  virtual llvm::Error run(const GoldenCase &golden, CaseResults &results) = 0;
};

/// The float64 reference library (gecko::ref).
std::unique_ptr<Backend> createReferenceBackend();

/// Names accepted by --backend.
std::vector<llvm::StringRef> backendNames();
/// The backend called `name`, or null when there is none.
std::unique_ptr<Backend> createBackend(llvm::StringRef name);

} // namespace gecko::conform

#endif // GECKO_CONFORM_BACKEND_H
