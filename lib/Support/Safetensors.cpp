//===- Safetensors.cpp - Reading and writing .safetensors files
//------------===//

#include "gecko/Support/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <tuple>
#include <unistd.h>

using namespace llvm;

namespace gecko::safetensors {

namespace {

// A header this large is certainly corrupt; refusing it early avoids
// allocating whatever a corrupt length field claims.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::BOOL, "BOOL", 1},
};

Error fileError(StringRef fileName, const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           (fileName + ": " + message).str());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// Element count of `shape`, or nullopt when a dimension is negative or the
/// count (times `itemSize`) overflows.
std::optional<uint64_t> byteCount(ArrayRef<int64_t> shape, size_t itemSize) {
  uint64_t count = itemSize;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 && count > UINT64_MAX / static_cast<uint64_t>(dim))
      return std::nullopt;
    count *= static_cast<uint64_t>(dim);
  }
  if (count > static_cast<uint64_t>(INT64_MAX))
    return std::nullopt;
  return count;
}

/// llvm::json keeps only one value of a repeated key, so repeated top-level
/// names are found here, on text that llvm::json has already accepted: walk
/// the top-level object and decode each key with llvm::json.
std::optional<std::string> findDuplicateTopLevelKey(StringRef json) {
  StringSet<> seen;
  int depth = 0;
  bool expectKey = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') {
      size_t begin = i;
      for (++i; i < json.size() && json[i] != '"'; ++i)
        if (json[i] == '\\')
          ++i;
      if (depth == 1 && expectKey) {
        Expected<json::Value> key = json::parse(json.slice(begin, i + 1));
        if (!key) {
          consumeError(key.takeError());
          return std::nullopt;
        }
        std::string name = key->getAsString().value_or("").str();
        if (!seen.insert(name).second)
          return name;
        expectKey = false;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
      expectKey = depth == 1 && c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expectKey = true;
    }
  }
  return std::nullopt;
}

Expected<int64_t> integerField(const json::Value &value, StringRef fileName,
                               const Twine &what) {
  std::optional<int64_t> number = value.getAsInteger();
  if (!number)
    return fileError(fileName, what + " is not an integer");
  return *number;
}

/// Validates one tensor entry of the header; offsets are checked against the
/// data section later, together with the other tensors.
Expected<std::pair<TensorData, std::pair<uint64_t, uint64_t>>>
parseEntry(StringRef fileName, StringRef name, const json::Value &value) {
  std::string where = ("tensor '" + name + "'").str();
  const json::Object *entry = value.getAsObject();
  if (!entry)
    return fileError(fileName, where + ": header entry is not a JSON object");

  TensorData tensor;
  const json::Value *dtypeValue = entry->get("dtype");
  if (!dtypeValue)
    return fileError(fileName, where + ": missing 'dtype'");
  std::optional<StringRef> dtypeName = dtypeValue->getAsString();
  if (!dtypeName)
    return fileError(fileName, where + ": 'dtype' is not a string");
  std::optional<DType> dtype = parseDType(*dtypeName);
  if (!dtype)
    return fileError(fileName, where + ": unknown dtype '" + *dtypeName + "'");
  tensor.dtype = *dtype;

  const json::Value *shapeValue = entry->get("shape");
  if (!shapeValue)
    return fileError(fileName, where + ": missing 'shape'");
  const json::Array *shape = shapeValue->getAsArray();
  if (!shape)
    return fileError(fileName, where + ": 'shape' is not an array");
  for (const json::Value &dimValue : *shape) {
    Expected<int64_t> dim =
        integerField(dimValue, fileName, where + ": a 'shape' entry");
    if (!dim)
      return dim.takeError();
    if (*dim < 0)
      return fileError(fileName, where + ": negative dimension " + Twine(*dim) +
                                     " in shape");
    tensor.shape.push_back(*dim);
  }
  std::optional<uint64_t> bytes = byteCount(tensor.shape, dtypeSize(*dtype));
  if (!bytes)
    return fileError(fileName, where + ": shape " + shapeString(tensor.shape) +
                                   " overflows the element count");

  const json::Value *offsetsValue = entry->get("data_offsets");
  if (!offsetsValue)
    return fileError(fileName, where + ": missing 'data_offsets'");
  const json::Array *offsets = offsetsValue->getAsArray();
  if (!offsets || offsets->size() != 2)
    return fileError(
        fileName, where + ": 'data_offsets' is not an array of two integers");
  Expected<int64_t> begin =
      integerField((*offsets)[0], fileName, where + ": data_offsets[0]");
  if (!begin)
    return begin.takeError();
  Expected<int64_t> end =
      integerField((*offsets)[1], fileName, where + ": data_offsets[1]");
  if (!end)
    return end.takeError();
  if (*begin < 0 || *end < *begin)
    return fileError(fileName, where + ": invalid data_offsets [" +
                                   Twine(*begin) + ", " + Twine(*end) + "]");
  uint64_t span = static_cast<uint64_t>(*end - *begin);
  if (span != *bytes)
    return fileError(fileName, where + ": size mismatch: data_offsets span " +
                                   Twine(span) + " bytes but shape " +
                                   shapeString(tensor.shape) + " of " +
                                   *dtypeName + " needs " + Twine(*bytes));
  return std::make_pair(std::move(tensor),
                        std::make_pair(static_cast<uint64_t>(*begin),
                                       static_cast<uint64_t>(*end)));
}

Error parseMetadata(StringRef fileName, const json::Value &value,
                    std::map<std::string, std::string> &metadata) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return fileError(fileName, "'__metadata__' is not a JSON object");
  for (const auto &[key, item] : *object) {
    std::optional<StringRef> text = item.getAsString();
    if (!text)
      return fileError(fileName, "'__metadata__' value of '" + key.str() +
                                     "' is not a string");
    metadata[key.str()] = text->str();
  }
  return Error::success();
}

} // namespace

StringRef dtypeName(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.name;
  return "?";
}

std::optional<DType> parseDType(StringRef name) {
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

int64_t TensorData::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

Expected<File> parse(StringRef contents, StringRef fileName) {
  if (contents.size() < 8)
    return fileError(fileName, "file is truncated: " + Twine(contents.size()) +
                                   " bytes, need at least 8 for the header "
                                   "length");
  uint64_t headerSize = support::endian::read64le(
      reinterpret_cast<const uint8_t *>(contents.data()));
  uint64_t available = contents.size() - 8;
  if (headerSize > available)
    return fileError(fileName, "header length " + Twine(headerSize) +
                                   " runs past the end of the file (" +
                                   Twine(available) +
                                   " bytes after the length field)");
  if (headerSize > kMaxHeaderBytes)
    return fileError(fileName, "header length " + Twine(headerSize) +
                                   " exceeds the limit of " +
                                   Twine(kMaxHeaderBytes) + " bytes");
  StringRef headerText = contents.substr(8, headerSize);
  StringRef data = contents.substr(8 + headerSize);

  Expected<json::Value> header = json::parse(headerText);
  if (!header)
    return fileError(fileName, "header is not valid JSON: " +
                                   toString(header.takeError()));
  const json::Object *object = header->getAsObject();
  if (!object)
    return fileError(fileName, "header is not a JSON object");
  if (std::optional<std::string> duplicate =
          findDuplicateTopLevelKey(headerText))
    return fileError(fileName, "duplicate tensor name '" + *duplicate +
                                   "' in the header");

  File file;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto &[key, value] : *object) {
    if (key == "__metadata__") {
      if (Error error = parseMetadata(fileName, value, file.metadata))
        return std::move(error);
      continue;
    }
    auto entry = parseEntry(fileName, key, value);
    if (!entry)
      return entry.takeError();
    auto [begin, end] = entry->second;
    if (end > data.size())
      return fileError(fileName, "tensor '" + key.str() + "': data_offsets [" +
                                     Twine(begin) + ", " + Twine(end) +
                                     "] out of range: the data section has " +
                                     Twine(data.size()) + " bytes");
    spans.push_back({begin, end, key.str()});
    file.tensors[key.str()] = std::move(entry->first);
  }

  // Sorted by begin, each tensor must end before the next one starts
  // (empty tensors occupy nothing and cannot overlap).
  std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const Span *previous = nullptr;
  for (const Span &span : spans) {
    if (span.begin == span.end)
      continue;
    if (previous && span.begin < previous->end)
      return fileError(fileName, "tensors '" + previous->name + "' and '" +
                                     span.name +
                                     "' have overlapping data_offsets");
    previous = &span;
  }

  for (const Span &span : spans) {
    StringRef bytes = data.slice(span.begin, span.end);
    file.tensors[span.name].bytes.assign(bytes.begin(), bytes.end());
  }
  return std::move(file);
}

Expected<File> readFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fileError(path, "cannot read file: " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

Expected<std::string> serialize(const File &file) {
  std::string header;
  raw_string_ostream headerStream(header);
  json::OStream json(headerStream);
  uint64_t offset = 0;
  Error error = Error::success();
  json.object([&] {
    // "__metadata__" first, then the tensors in name order.
    if (!file.metadata.empty())
      json.attributeObject("__metadata__", [&] {
        for (const auto &[key, value] : file.metadata)
          json.attribute(key, value);
      });
    for (const auto &entry : file.tensors) {
      const std::string &name = entry.first;
      const TensorData &tensor = entry.second;
      std::optional<uint64_t> bytes =
          byteCount(tensor.shape, dtypeSize(tensor.dtype));
      if (!bytes || *bytes != tensor.bytes.size()) {
        if (!error)
          error = createStringError(
              inconvertibleErrorCode(),
              "tensor '%s': %zu bytes do not match shape %s of %s",
              name.c_str(), tensor.bytes.size(),
              shapeString(tensor.shape).c_str(),
              dtypeName(tensor.dtype).str().c_str());
        continue;
      }
      json.attributeObject(name, [&] {
        json.attribute("dtype", dtypeName(tensor.dtype));
        json.attributeArray("shape", [&] {
          for (int64_t dim : tensor.shape)
            json.value(dim);
        });
        json.attributeArray("data_offsets", [&] {
          json.value(static_cast<int64_t>(offset));
          json.value(static_cast<int64_t>(offset + *bytes));
        });
      });
      offset += *bytes;
    }
  });
  if (error)
    return std::move(error);
  headerStream.flush();
  // Pad so that the data section starts 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + offset);
  char length[8];
  support::endian::write64le(length, header.size());
  out.append(length, 8);
  out += header;
  for (const auto &[name, tensor] : file.tensors)
    out.append(reinterpret_cast<const char *>(tensor.bytes.data()),
               tensor.bytes.size());
  return std::move(out);
}

Error writeFile(StringRef path, const File &file) {
  Expected<std::string> bytes = serialize(file);
  if (!bytes)
    return fileError(path, toString(bytes.takeError()));

  SmallString<256> directory(path);
  sys::path::remove_filename(directory);
  if (directory.empty())
    directory = ".";
  SmallString<256> model(directory);
  sys::path::append(model, "." + sys::path::filename(path) + ".tmp-%%%%%%");
  int fd = -1;
  SmallString<256> tempPath;
  if (std::error_code ec = sys::fs::createUniqueFile(model, fd, tempPath))
    return fileError(path, "cannot create a temporary file in '" + directory +
                               "': " + ec.message());

  auto fail = [&](const Twine &what) {
    std::string message = strerror(errno);
    if (fd >= 0)
      ::close(fd);
    sys::fs::remove(tempPath);
    return fileError(path, what + ": " + message);
  };
  const char *cursor = bytes->data();
  size_t left = bytes->size();
  while (left > 0) {
    ssize_t written = ::write(fd, cursor, left);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return fail("cannot write the temporary file");
    }
    cursor += written;
    left -= static_cast<size_t>(written);
  }
  if (::fsync(fd) != 0)
    return fail("cannot sync the temporary file");
  int closing = fd;
  fd = -1;
  if (::close(closing) != 0)
    return fail("cannot close the temporary file");
  if (std::error_code ec = sys::fs::rename(tempPath, path)) {
    sys::fs::remove(tempPath);
    return fileError(path, "cannot rename the temporary file into place: " +
                               ec.message());
  }
  // Make the rename itself durable.
  int dirFd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return Error::success();
}

} // namespace gecko::safetensors
