//===- Safetensors.h - safetensors I/O for the runtime ----------*- C++ -*-===//
//
// The runtime's own safetensors reader and writer (it cannot use
// lib/Support's, which is built on llvm::json). Format: an 8-byte
// little-endian header length N, N bytes of JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]},
//  "__metadata__": {string: string}}, then the raw little-endian row-major
// data; offsets are relative to the start of the data section.
//
// The reader maps the file read-only and checks every header field before
// any data is touched: the header length against the file size, each
// tensor's dtype, shape (non-negative, no overflow), offsets (in bounds,
// size = numel * dtype size, no two tensors overlapping) and the metadata
// (strings only). Errors name the file, the tensor and the problem.
// The writer is deterministic (sorted names, header padded with spaces to a
// multiple of 8) and atomic (temporary file + fsync + rename).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_SAFETENSORS_H
#define GECKO_RUNTIME_SAFETENSORS_H

#include "gecko/Runtime/Device.h" // Status

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gecko::rt::st {

enum class DType { F32, F64, F16, BF16, I64, I32, BOOL };

/// "F32", "BF16", ...
const char *dtypeName(DType dtype);
std::optional<DType> parseDType(std::string_view name);
size_t dtypeSize(DType dtype);

/// "[2, 3]".
std::string shapeString(const std::vector<int64_t> &shape);

/// One tensor of a file; `data` points into the mapping of its File.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t bytes = 0;

  int64_t numel() const;
};

class File {
public:
  /// Maps and validates `path`.
  static Status open(const std::string &path, std::unique_ptr<File> *out);
  /// Validates an in-memory file (copied); `name` names it in errors.
  static Status fromBytes(std::string bytes, const std::string &name,
                          std::unique_ptr<File> *out);
  ~File();
  File(const File &) = delete;
  File &operator=(const File &) = delete;

  /// The tensors, sorted by name.
  const std::vector<TensorView> &tensors() const { return views; }
  const TensorView *find(std::string_view name) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }

private:
  File() = default;
  Status parse(const std::string &name);

  void *mapping = nullptr;
  size_t mappingSize = 0;
  std::string owned; // fromBytes
  const uint8_t *base = nullptr;
  size_t size = 0;
  std::vector<TensorView> views;
  std::map<std::string, std::string> meta;
};

/// Converts a floating tensor (F32, F64, F16, BF16) to float, `out` holding
/// numel() values; false for other dtypes.
bool toFloat(const TensorView &tensor, float *out);
/// Converts an integer tensor (I64, I32, BOOL) to int64; false otherwise.
bool toInt64(const TensorView &tensor, int64_t *out);

/// A tensor to write: `data` holds numel * dtypeSize(dtype) bytes.
struct TensorOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// Writes a safetensors file atomically (sorted names, padded header).
Status write(const std::string &path, const std::vector<TensorOut> &tensors,
             const std::map<std::string, std::string> &metadata = {});

/// Writes `contents` to `path` atomically: `<path>.tmp-<pid>` in the same
/// directory, fsync, rename, fsync of the directory. On failure `path` is
/// untouched and the temporary file removed.
Status writeFileAtomic(const std::string &path, std::string_view contents);

} // namespace gecko::rt::st

#endif // GECKO_RUNTIME_SAFETENSORS_H
