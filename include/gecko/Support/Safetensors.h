//===- Safetensors.h - Reading and writing .safetensors files ---*- C++ -*-===//
//
// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian row-major
// data; offsets are relative to the start of the data section.
//
// The reader validates every header field before touching the data, so a
// malformed file gives an error naming the file, the tensor and the problem
// instead of a crash or an out-of-bounds read. The writer is deterministic
// (sorted keys, header padded with spaces to a multiple of 8) and replaces
// the target atomically.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_SUPPORT_SAFETENSORS_H
#define GECKO_SUPPORT_SAFETENSORS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gecko::safetensors {

enum class DType { F64, F32, F16, BF16, I64, I32, BOOL };

/// "F32", "BF16", ...
llvm::StringRef dtypeName(DType dtype);
/// The dtype spelled `name`, or nullopt for an unknown spelling.
std::optional<DType> parseDType(llvm::StringRef name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// One tensor: its dtype, shape and raw little-endian bytes
/// (bytes.size() == numel * dtypeSize(dtype)).
struct TensorData {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
};

/// A whole file. std::map keeps the names sorted, which makes writing
/// deterministic.
struct File {
  std::map<std::string, TensorData> tensors;
  std::map<std::string, std::string> metadata;
};

/// Reads and validates `path`.
llvm::Expected<File> readFile(llvm::StringRef path);
/// Parses the bytes of a file; `fileName` only names it in errors.
llvm::Expected<File> parse(llvm::StringRef contents, llvm::StringRef fileName);

/// The exact bytes writeFile would write. Fails on an inconsistent tensor
/// (bytes.size() not matching its shape, negative dimension).
llvm::Expected<std::string> serialize(const File &file);

/// Writes `file` to `path` atomically: a temporary file in the same directory
/// is written, fsync'ed and renamed over `path`. On any error `path` is left
/// untouched and the temporary file is removed.
llvm::Error writeFile(llvm::StringRef path, const File &file);

} // namespace gecko::safetensors

#endif // GECKO_SUPPORT_SAFETENSORS_H
