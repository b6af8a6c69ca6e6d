//===- Safetensors.cpp - safetensors I/O for the runtime ------------------===//

#include "gecko/Runtime/Safetensors.h"

#include "AtomicFile.h"
#include "gecko/Runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gecko::rt::st {

namespace {

// A header this large is certainly corrupt (the safetensors limit).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4},   {DType::F64, "F64", 8}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::BOOL, "BOOL", 1},
};

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 |
             (mant & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace

const char *dtypeName(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.name;
  return "?";
}

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

size_t dtypeSize(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.size;
  return 0;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

File::~File() {
  if (mapping)
    munmap(mapping, mappingSize);
}

const TensorView *File::find(std::string_view name) const {
  auto it = std::lower_bound(
      views.begin(), views.end(), name,
      [](const TensorView &v, std::string_view n) { return v.name < n; });
  return it != views.end() && it->name == name ? &*it : nullptr;
}

Status File::open(const std::string &path, std::unique_ptr<File> *out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return Status::error(path + ": not a regular file");
  }
  std::unique_ptr<File> file(new File());
  file->size = static_cast<size_t>(info.st_size);
  if (file->size > 0) {
    void *m = mmap(nullptr, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      close(fd);
      return Status::error(path + ": cannot map: " + std::strerror(err));
    }
    file->mapping = m;
    file->mappingSize = file->size;
    file->base = static_cast<const uint8_t *>(m);
  }
  close(fd);
  if (Status s = file->parse(path); !s)
    return s;
  *out = std::move(file);
  return Status::success();
}

Status File::fromBytes(std::string bytes, const std::string &name,
                       std::unique_ptr<File> *out) {
  std::unique_ptr<File> file(new File());
  file->owned = std::move(bytes);
  file->base = reinterpret_cast<const uint8_t *>(file->owned.data());
  file->size = file->owned.size();
  if (Status s = file->parse(name); !s)
    return s;
  *out = std::move(file);
  return Status::success();
}

Status File::parse(const std::string &name) {
  auto error = [&](const std::string &what) {
    return Status::error(name + ": " + what);
  };
  if (size < 8)
    return error("file of " + std::to_string(size) +
                 " bytes is too short for the 8-byte header length");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = headerLen << 8 | base[i];
  if (headerLen > kMaxHeaderBytes)
    return error("header length " + std::to_string(headerLen) +
                 " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                 " bytes");
  if (headerLen > size - 8)
    return error("header length " + std::to_string(headerLen) +
                 " runs past the end of the file (" + std::to_string(size) +
                 " bytes)");
  std::string_view headerText(reinterpret_cast<const char *>(base + 8),
                              headerLen);
  std::string jsonError;
  std::optional<json::Value> header = json::parse(headerText, &jsonError);
  if (!header)
    return error("invalid JSON header: " + jsonError);
  if (!header->isObject())
    return error("the header is a JSON " +
                 std::string(json::Value::kindName(header->kind())) +
                 ", expected an object");
  const uint8_t *data = base + 8 + headerLen;
  uint64_t dataSize = size - 8 - headerLen;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (size_t i = 0; i < header->keys().size(); ++i) {
    const std::string &key = header->keys()[i];
    const json::Value &entry = header->values()[i];
    if (key == "__metadata__") {
      if (!entry.isObject())
        return error("__metadata__ is not an object");
      for (size_t m = 0; m < entry.keys().size(); ++m) {
        if (!entry.values()[m].isString())
          return error("metadata '" + entry.keys()[m] + "' is not a string");
        meta[entry.keys()[m]] = entry.values()[m].asString();
      }
      continue;
    }
    auto tensorError = [&](const std::string &what) {
      return error("tensor '" + key + "': " + what);
    };
    if (!entry.isObject())
      return tensorError("header entry is not an object");
    for (const std::string &field : entry.keys())
      if (field != "dtype" && field != "shape" && field != "data_offsets")
        return tensorError("unknown field '" + field + "'");
    const json::Value *dtype = entry.get("dtype");
    const json::Value *shape = entry.get("shape");
    const json::Value *offsets = entry.get("data_offsets");
    if (!dtype || !dtype->isString())
      return tensorError("missing or non-string 'dtype'");
    if (!shape || !shape->isArray())
      return tensorError("missing or non-array 'shape'");
    if (!offsets || !offsets->isArray() || offsets->items().size() != 2)
      return tensorError("'data_offsets' must be an array [begin, end]");
    TensorView view;
    view.name = key;
    std::optional<DType> dt = parseDType(dtype->asString());
    if (!dt)
      return tensorError("unsupported dtype '" + dtype->asString() + "'");
    view.dtype = *dt;
    uint64_t bytes = dtypeSize(*dt);
    for (const json::Value &d : shape->items()) {
      std::optional<int64_t> dim = d.asInt();
      if (!dim || *dim < 0)
        return tensorError("shape entries must be non-negative integers");
      if (*dim != 0 &&
          bytes > (uint64_t(1) << 62) / static_cast<uint64_t>(*dim))
        return tensorError("shape is too large (over 2^62 bytes)");
      bytes *= static_cast<uint64_t>(*dim);
      view.shape.push_back(*dim);
    }
    std::optional<int64_t> begin = offsets->items()[0].asInt();
    std::optional<int64_t> end = offsets->items()[1].asInt();
    if (!begin || !end || *begin < 0 || *end < *begin)
      return tensorError("'data_offsets' must be integers 0 <= begin <= end");
    if (static_cast<uint64_t>(*end) > dataSize)
      return tensorError("data_offsets [" + std::to_string(*begin) + ", " +
                         std::to_string(*end) +
                         "] run past the data section (" +
                         std::to_string(dataSize) + " bytes)");
    if (static_cast<uint64_t>(*end - *begin) != bytes)
      return tensorError("data_offsets [" + std::to_string(*begin) + ", " +
                         std::to_string(*end) + "] hold " +
                         std::to_string(*end - *begin) + " bytes, but " +
                         dtype->asString() + " " + shapeString(view.shape) +
                         " needs " + std::to_string(bytes));
    view.data = data + *begin;
    view.bytes = static_cast<size_t>(bytes);
    ranges.push_back({static_cast<uint64_t>(*begin),
                      static_cast<uint64_t>(*end), views.size()});
    views.push_back(std::move(view));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      return error("tensors '" + views[ranges[i - 1].index].name + "' and '" +
                   views[ranges[i].index].name + "' overlap");
  std::sort(
      views.begin(), views.end(),
      [](const TensorView &a, const TensorView &b) { return a.name < b.name; });
  return Status::success();
}

bool toFloat(const TensorView &t, float *out) {
  int64_t n = t.numel();
  const uint8_t *p = t.data;
  switch (t.dtype) {
  case DType::F32:
    std::memcpy(out, p, static_cast<size_t>(n) * 4);
    return true;
  case DType::F64:
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
    return true;
  case DType::F16:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = halfToFloat(h);
    }
    return true;
  case DType::BF16:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      uint32_t bits = static_cast<uint32_t>(h) << 16;
      std::memcpy(&out[i], &bits, 4);
    }
    return true;
  default:
    return false;
  }
}

bool toInt64(const TensorView &t, int64_t *out) {
  int64_t n = t.numel();
  const uint8_t *p = t.data;
  switch (t.dtype) {
  case DType::I64:
    std::memcpy(out, p, static_cast<size_t>(n) * 8);
    return true;
  case DType::I32:
    for (int64_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
    }
    return true;
  case DType::BOOL:
    for (int64_t i = 0; i < n; ++i)
      out[i] = p[i] != 0;
    return true;
  default:
    return false;
  }
}

Status write(const std::string &path, const std::vector<TensorOut> &tensors,
             const std::map<std::string, std::string> &metadata) {
  std::vector<const TensorOut *> sorted;
  for (const TensorOut &t : tensors)
    sorted.push_back(&t);
  std::sort(
      sorted.begin(), sorted.end(),
      [](const TensorOut *a, const TensorOut *b) { return a->name < b->name; });
  json::Value header = json::Value::object();
  if (!metadata.empty()) {
    json::Value meta = json::Value::object();
    for (const auto &[key, value] : metadata)
      meta.set(key, json::Value::string(value));
    header.set("__metadata__", std::move(meta));
  }
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorOut &t = *sorted[i];
    if (i && sorted[i - 1]->name == t.name)
      return Status::error(path + ": tensor '" + t.name + "' given twice");
    if (t.name == "__metadata__")
      return Status::error(path + ": '__metadata__' is not a tensor name");
    uint64_t bytes = dtypeSize(t.dtype);
    std::vector<json::Value> shape;
    for (int64_t d : t.shape) {
      if (d < 0)
        return Status::error(path + ": tensor '" + t.name +
                             "' has a negative dimension");
      bytes *= static_cast<uint64_t>(d);
      shape.push_back(json::Value::integer(d));
    }
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string(dtypeName(t.dtype)));
    entry.set("shape", json::Value::array(std::move(shape)));
    entry.set(
        "data_offsets",
        json::Value::array(
            {json::Value::integer(static_cast<int64_t>(offset)),
             json::Value::integer(static_cast<int64_t>(offset + bytes))}));
    header.set(t.name, std::move(entry));
    offset += bytes;
    sizes.push_back(bytes);
  }
  std::string headerText = json::write(header, -1, true);
  while (headerText.size() % 8)
    headerText += ' ';
  uint8_t len[8];
  uint64_t n = headerText.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(n >> (8 * i));

  AtomicFile file;
  if (Status s = file.open(path); !s)
    return s;
  file.append(len, 8);
  file.append(headerText.data(), headerText.size());
  for (size_t i = 0; i < sorted.size(); ++i)
    file.append(sorted[i]->data, sizes[i]);
  return file.commit();
}

Status writeFileAtomic(const std::string &path, std::string_view contents) {
  AtomicFile file;
  if (Status s = file.open(path); !s)
    return s;
  file.append(contents.data(), contents.size());
  return file.commit();
}

} // namespace gecko::rt::st
