//===- TensorFile.cpp - safetensors files for the run driver --------------===//

#include "TensorFile.h"
#include "gecko/Runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <unistd.h>

namespace gecko::devcheck {

namespace json = gecko::rt::json;

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

double decodeF16(uint16_t bits) {
  int sign = bits >> 15, exponent = (bits >> 10) & 0x1F,
      mantissa = bits & 0x3FF;
  double value;
  if (exponent == 0)
    value = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(mantissa + 1024, exponent - 25);
  return sign ? -value : value;
}

double decodeBF16(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}

double StoredTensor::at(int64_t i) const {
  const uint8_t *p = bytes.data() + i * dtypeSize(dtype);
  if (dtype == "F32") {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (dtype == "F64") {
    double d;
    std::memcpy(&d, p, 8);
    return d;
  }
  if (dtype == "I64") {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  if (dtype == "I32") {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  if (dtype == "BOOL")
    return *p ? 1.0 : 0.0;
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return dtype == "F16" ? decodeF16(bits) : decodeBF16(bits);
}

size_t dtypeSize(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64")
    return 8;
  if (dtype == "F32" || dtype == "I32")
    return 4;
  if (dtype == "F16" || dtype == "BF16")
    return 2;
  if (dtype == "BOOL")
    return 1;
  return 0;
}

namespace {

bool readAll(const std::string &path, std::vector<uint8_t> &out,
             std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = path + ": cannot open (" + std::strerror(errno) + ")";
    return false;
  }
  out.clear();
  uint8_t buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    out.insert(out.end(), buffer, buffer + n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) {
    error = path + ": read error";
    return false;
  }
  return true;
}

bool isInteger(const json::Value &v) {
  double d = v.asNumber();
  return v.isNumber() && d >= 0 && d <= 9007199254740992.0 &&
         d == std::floor(d);
}

/// The member indices of object `v` in key order.
std::vector<size_t> sortedMembers(const json::Value &v) {
  std::vector<size_t> order(v.keys().size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return v.keys()[a] < v.keys()[b]; });
  return order;
}

} // namespace

bool readTensorFile(const std::string &path, TensorFile &out,
                    std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readAll(path, bytes, error))
    return false;
  auto fail = [&](const std::string &why) {
    error = path + ": " + why;
    return false;
  };
  if (bytes.size() < 8)
    return fail("shorter than the 8-byte header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = headerLength << 8 | bytes[i];
  if (headerLength > bytes.size() - 8)
    return fail("header length " + std::to_string(headerLength) +
                " runs past the end of the file");
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + headerLength);
  std::string why;
  std::optional<json::Value> parsed = json::parse(header, &why);
  if (!parsed)
    return fail("header is not JSON: " + why);
  const json::Value &root = *parsed;
  if (!root.isObject())
    return fail("header is not a JSON object");
  size_t dataStart = 8 + headerLength;
  uint64_t dataSize = bytes.size() - dataStart;
  out = TensorFile();
  // Members in key order, so that the first error reported does not depend
  // on the header's order.
  for (size_t i : sortedMembers(root)) {
    const std::string &name = root.keys()[i];
    const json::Value &entry = root.values()[i];
    if (name == "__metadata__") {
      if (!entry.isObject())
        return fail("__metadata__ is not an object");
      for (size_t j : sortedMembers(entry)) {
        const std::string &key = entry.keys()[j];
        if (!entry.values()[j].isString())
          return fail("metadata '" + key + "' is not a string");
        out.metadata[key] = entry.values()[j].asString();
      }
      continue;
    }
    const json::Value *dtype = entry.get("dtype");
    const json::Value *shape = entry.get("shape");
    const json::Value *offsets = entry.get("data_offsets");
    if (!dtype || !dtype->isString() || !dtypeSize(dtype->asString()))
      return fail("tensor '" + name + "': missing or unknown dtype");
    if (!shape || !shape->isArray())
      return fail("tensor '" + name + "': missing shape");
    if (!offsets || !offsets->isArray() || offsets->items().size() != 2 ||
        !isInteger(offsets->items()[0]) || !isInteger(offsets->items()[1]))
      return fail("tensor '" + name + "': bad data_offsets");
    StoredTensor t;
    t.dtype = dtype->asString();
    double count = 1;
    for (const json::Value &d : shape->items()) {
      if (!isInteger(d))
        return fail("tensor '" + name + "': bad shape");
      t.shape.push_back(static_cast<int64_t>(d.asNumber()));
      count *= d.asNumber();
    }
    uint64_t begin = static_cast<uint64_t>(offsets->items()[0].asNumber());
    uint64_t end = static_cast<uint64_t>(offsets->items()[1].asNumber());
    if (begin > end || end > dataSize)
      return fail("tensor '" + name + "': data_offsets [" +
                  std::to_string(begin) + ", " + std::to_string(end) +
                  "] outside the " + std::to_string(dataSize) +
                  "-byte data section");
    if (count * dtypeSize(t.dtype) != static_cast<double>(end - begin))
      return fail("tensor '" + name + "': size mismatch (" +
                  std::to_string(end - begin) + " bytes for its shape)");
    t.bytes.assign(bytes.begin() + dataStart + begin,
                   bytes.begin() + dataStart + end);
    out.tensors[name] = std::move(t);
  }
  return true;
}

bool writeTensorFile(const std::string &path, const TensorFile &file,
                     std::string &error) {
  std::string header = "{";
  bool first = true;
  if (!file.metadata.empty()) {
    header += "\"__metadata__\":{";
    bool firstMeta = true;
    for (const auto &[key, value] : file.metadata) {
      header +=
          (firstMeta ? "" : ",") + json::quote(key) + ":" + json::quote(value);
      firstMeta = false;
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const auto &[name, t] : file.tensors) {
    if (static_cast<uint64_t>(t.numel()) * dtypeSize(t.dtype) !=
        t.bytes.size()) {
      error = path + ": tensor '" + name + "' has inconsistent bytes";
      return false;
    }
    header += (first ? "" : ",") + json::quote(name) + ":{\"dtype\":\"" +
              t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
    first = false;
  }
  header += "}";
  while (header.size() % 8)
    header += ' ';
  std::string temporary = path + ".tmp-" + std::to_string(getpid());
  FILE *f = std::fopen(temporary.c_str(), "wb");
  if (!f) {
    error = temporary + ": cannot create (" + std::strerror(errno) + ")";
    return false;
  }
  uint8_t length[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(n >> (8 * i));
  bool ok = std::fwrite(length, 1, 8, f) == 8 &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size();
  for (const auto &entry : file.tensors)
    ok = ok &&
         std::fwrite(entry.second.bytes.data(), 1, entry.second.bytes.size(),
                     f) == entry.second.bytes.size();
  ok = std::fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": write failed (" + std::strerror(errno) + ")";
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

} // namespace gecko::devcheck
