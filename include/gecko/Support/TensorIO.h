//===- TensorIO.h - safetensors <-> reference tensors ------------*- C++
//-*-===//
//
// Bridges safetensors data and gecko::ref::Tensor (doubles). Decoding is exact
// for every dtype (I64 up to 2^53). Encoding rounds to nearest, ties to even,
// straight from double (no double rounding through float); integer and BOOL
// encodings refuse values they cannot hold exactly.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_SUPPORT_TENSORIO_H
#define GECKO_SUPPORT_TENSORIO_H

#include "gecko/Reference/Tensor.h"
#include "gecko/Support/Safetensors.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>

namespace gecko::safetensors {

double decodeF16(uint16_t bits);
double decodeBF16(uint16_t bits);
/// Round to nearest even; overflow gives +-inf, NaN stays a (quiet) NaN.
uint16_t encodeF16(double value);
uint16_t encodeBF16(double value);

/// The values of `tensor` as doubles.
ref::Tensor toTensor(const TensorData &tensor);
/// Encodes `tensor` as `dtype`; fails (naming the first offending element)
/// when an I64/I32/BOOL target cannot hold a value exactly.
llvm::Expected<TensorData> fromTensor(const ref::Tensor &tensor, DType dtype);

/// All tensors of the safetensors file `path` as doubles, plus its metadata.
struct TensorFile {
  std::map<std::string, ref::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};
llvm::Expected<TensorFile> readTensorFile(llvm::StringRef path);

} // namespace gecko::safetensors

#endif // GECKO_SUPPORT_TENSORIO_H
