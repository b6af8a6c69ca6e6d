//===- TensorFile.h - safetensors files for the run driver -------*- C++
//-*-===//
//
// Reading (every header field checked against the file before any data is
// used) and atomic writing (temporary file + rename) of .safetensors files,
// in plain C++ for the run driver. Dtypes: F64, F32, F16, BF16, I64, I32,
// BOOL.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_TENSORFILE_H
#define GECKO_DEVICECHECK_TENSORFILE_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gecko::devcheck {

struct StoredTensor {
  /// "F32", "I64", ...
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  /// Element `i` as a double (exact for every dtype but I64 beyond 2^53).
  double at(int64_t i) const;
};

struct TensorFile {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Bytes per element of `dtype`, 0 when unknown.
size_t dtypeSize(const std::string &dtype);

/// Reads and validates `path`; errors name the file and the problem.
bool readTensorFile(const std::string &path, TensorFile &out,
                    std::string &error);

/// Writes `file` to `path` atomically (sorted keys, header padded to 8).
bool writeTensorFile(const std::string &path, const TensorFile &file,
                     std::string &error);

/// Half-precision decoding (for f16/bf16 results).
double decodeF16(uint16_t bits);
double decodeBF16(uint16_t bits);

} // namespace gecko::devcheck

#endif // GECKO_DEVICECHECK_TENSORFILE_H
