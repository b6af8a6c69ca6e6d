//===- TensorIO.cpp - safetensors <-> reference tensors
//--------------------===//

#include "gecko/Support/TensorIO.h"

#include "llvm/Support/Endian.h"

#include <cmath>
#include <cstring>

using namespace llvm;

namespace gecko::safetensors {

namespace {

/// Value of an IEEE-style binary format with `expBits` exponent and
/// `manBits` mantissa bits.
double decodeSmallFloat(uint32_t bits, int expBits, int manBits) {
  uint32_t manMask = (1u << manBits) - 1;
  uint32_t expMask = (1u << expBits) - 1;
  bool negative = (bits >> (expBits + manBits)) & 1;
  uint32_t exponent = (bits >> manBits) & expMask;
  uint32_t mantissa = bits & manMask;
  int bias = (1 << (expBits - 1)) - 1;
  double magnitude;
  if (exponent == expMask)
    magnitude = mantissa ? NAN : INFINITY;
  else if (exponent == 0)
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - bias - manBits);
  else
    magnitude = std::ldexp(static_cast<double>(mantissa | (manMask + 1)),
                           static_cast<int>(exponent) - bias - manBits);
  return negative ? -magnitude : magnitude;
}

/// Rounds `value` to the format (nearest, ties to even). Scaling by powers of
/// two is exact in double, so std::nearbyint (default rounding mode: to
/// nearest even) does the only rounding.
uint32_t encodeSmallFloat(double value, int expBits, int manBits) {
  uint32_t sign = std::signbit(value) ? 1u << (expBits + manBits) : 0;
  uint32_t expMask = (1u << expBits) - 1;
  if (std::isnan(value))
    return sign | (expMask << manBits) | (1u << (manBits - 1));
  double magnitude = std::fabs(value);
  if (std::isinf(magnitude))
    return sign | (expMask << manBits);
  if (magnitude == 0)
    return sign;
  int bias = (1 << (expBits - 1)) - 1;
  int minExponent = 1 - bias;
  int exponent;
  std::frexp(magnitude, &exponent);
  --exponent; // magnitude in [2^exponent, 2^(exponent+1))
  if (exponent < minExponent) {
    // Subnormal; rounding up to 2^manBits lands exactly on the smallest
    // normal, whose encoding is that same integer.
    double units =
        std::nearbyint(std::ldexp(magnitude, -(minExponent - manBits)));
    return sign | static_cast<uint32_t>(units);
  }
  double units = std::nearbyint(std::ldexp(magnitude, manBits - exponent));
  if (units == std::ldexp(1.0, manBits + 1)) {
    units /= 2;
    ++exponent;
  }
  if (exponent > bias)
    return sign | (expMask << manBits);
  uint32_t mantissa = static_cast<uint32_t>(units) - (1u << manBits);
  return sign | (static_cast<uint32_t>(exponent + bias) << manBits) | mantissa;
}

} // namespace

double decodeF16(uint16_t bits) { return decodeSmallFloat(bits, 5, 10); }
double decodeBF16(uint16_t bits) { return decodeSmallFloat(bits, 8, 7); }
uint16_t encodeF16(double value) {
  return static_cast<uint16_t>(encodeSmallFloat(value, 5, 10));
}
uint16_t encodeBF16(double value) {
  return static_cast<uint16_t>(encodeSmallFloat(value, 8, 7));
}

ref::Tensor toTensor(const TensorData &tensor) {
  using namespace support::endian;
  int64_t count = tensor.numel();
  std::vector<double> values(count);
  const uint8_t *bytes = tensor.bytes.data();
  for (int64_t i = 0; i < count; ++i) {
    switch (tensor.dtype) {
    case DType::F64: {
      uint64_t bits = read64le(bytes + 8 * i);
      std::memcpy(&values[i], &bits, 8);
      break;
    }
    case DType::F32: {
      uint32_t bits = read32le(bytes + 4 * i);
      float value;
      std::memcpy(&value, &bits, 4);
      values[i] = value;
      break;
    }
    case DType::F16:
      values[i] = decodeF16(read16le(bytes + 2 * i));
      break;
    case DType::BF16:
      values[i] = decodeBF16(read16le(bytes + 2 * i));
      break;
    case DType::I64:
      values[i] =
          static_cast<double>(static_cast<int64_t>(read64le(bytes + 8 * i)));
      break;
    case DType::I32:
      values[i] = static_cast<int32_t>(read32le(bytes + 4 * i));
      break;
    case DType::BOOL:
      values[i] = bytes[i] ? 1.0 : 0.0;
      break;
    }
  }
  return ref::Tensor(tensor.shape, std::move(values));
}

Expected<TensorData> fromTensor(const ref::Tensor &tensor, DType dtype) {
  using namespace support::endian;
  TensorData out;
  out.dtype = dtype;
  out.shape = tensor.shape;
  size_t size = dtypeSize(dtype);
  out.bytes.resize(tensor.data.size() * size);
  uint8_t *bytes = out.bytes.data();
  auto refuse = [&](int64_t i, const char *why) {
    return createStringError(inconvertibleErrorCode(),
                             "element %lld = %g cannot be stored as %s: %s",
                             static_cast<long long>(i), tensor.data[i],
                             dtypeName(dtype).str().c_str(), why);
  };
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    double value = tensor.data[i];
    switch (dtype) {
    case DType::F64: {
      uint64_t bits;
      std::memcpy(&bits, &value, 8);
      write64le(bytes + 8 * i, bits);
      break;
    }
    case DType::F32: {
      float narrow = static_cast<float>(value); // rounds to nearest even
      uint32_t bits;
      std::memcpy(&bits, &narrow, 4);
      write32le(bytes + 4 * i, bits);
      break;
    }
    case DType::F16:
      write16le(bytes + 2 * i, encodeF16(value));
      break;
    case DType::BF16:
      write16le(bytes + 2 * i, encodeBF16(value));
      break;
    case DType::I64:
      // 2^63 itself is not representable, hence the strict bound.
      if (std::trunc(value) != value || value < -0x1p63 || value >= 0x1p63)
        return refuse(i, "not an integer in range");
      write64le(bytes + 8 * i,
                static_cast<uint64_t>(static_cast<int64_t>(value)));
      break;
    case DType::I32:
      if (std::trunc(value) != value || value < -0x1p31 || value >= 0x1p31)
        return refuse(i, "not an integer in range");
      write32le(bytes + 4 * i,
                static_cast<uint32_t>(static_cast<int32_t>(value)));
      break;
    case DType::BOOL:
      if (value != 0.0 && value != 1.0)
        return refuse(i, "not 0 or 1");
      bytes[i] = value != 0.0;
      break;
    }
  }
  return std::move(out);
}

Expected<TensorFile> readTensorFile(StringRef path) {
  Expected<File> file = readFile(path);
  if (!file)
    return file.takeError();
  TensorFile out;
  out.metadata = std::move(file->metadata);
  for (const auto &entry : file->tensors)
    out.tensors[entry.first] = toTensor(entry.second);
  return std::move(out);
}

} // namespace gecko::safetensors
