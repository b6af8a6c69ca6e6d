//===- GoldenCase.h - One golden file and a backend's results ---*- C++ -*-===//
//
// A GoldenCase is one golden .safetensors file loaded into doubles: every
// tensor by its key ("in.x", "param.mega.wz.weight", "call3.in.start", ...)
// and the string metadata ("op", "variant", "num_groups", "config", ...).
// A backend reads inputs from it and records what it computed, under the same
// golden keys ("out.y", "grad.x", "call0.cache_out.hx", ...), in CaseResults.
// The driver then compares every recorded key that the file also holds.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONFORM_GOLDENCASE_H
#define GECKO_CONFORM_GOLDENCASE_H

#include "gecko/Reference/Tensor.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace gecko::conform {

struct GoldenCase {
  /// The file as named on the command line (used in messages).
  std::string path;
  /// Shortcuts for metadata "op" and "variant" (empty when absent).
  std::string op, variant;
  std::map<std::string, std::string> metadata;
  /// Every tensor of the file as doubles; I64 and BOOL values are exact
  /// (ids, counts, 0/1 masks). Scalars (shape []) have one element.
  std::map<std::string, ref::Tensor> tensors;

  /// The tensor `key`, or null when the file does not hold it.
  const ref::Tensor *find(llvm::StringRef key) const;
  /// The tensor `key`, or an error naming the missing key.
  llvm::Expected<const ref::Tensor *> require(llvm::StringRef key) const;

  /// Metadata string / integer / real; an error names a missing or
  /// unparsable key.
  llvm::Expected<std::string> meta(llvm::StringRef key) const;
  llvm::Expected<int64_t> metaInt(llvm::StringRef key) const;
  llvm::Expected<double> metaDouble(llvm::StringRef key) const;

  /// Upstream gradient for the output `outKey` ("out.y" -> "gout.y"):
  /// the golden gout with 0 where `out` is non-finite, or zeros of `out`'s
  /// shape when the file has no gout for it.
  ref::Tensor upstreamGrad(llvm::StringRef outKey,
                           const ref::Tensor &out) const;
};

/// What a backend computed, keyed by golden key.
struct CaseResults {
  std::map<std::string, ref::Tensor> tensors;

  /// Records (or replaces) the value of golden key `key`.
  void add(const std::string &key, ref::Tensor value) {
    tensors[key] = std::move(value);
  }
};

} // namespace gecko::conform

#endif // GECKO_CONFORM_GOLDENCASE_H
