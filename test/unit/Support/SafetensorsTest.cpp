//===- SafetensorsTest.cpp - safetensors I/O and dtype conversions
//---------===//

#include "gecko/Support/Safetensors.h"
#include "gecko/Support/TensorIO.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace gecko;
using namespace gecko::safetensors;
using llvm::SmallString;

namespace {

/// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("gecko-st", dir));
  }
  void TearDown() override {
    ::chmod(dir.c_str(), 0700);
    llvm::sys::fs::remove_directories(dir);
  }
  std::string pathOf(llvm::StringRef name) const {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }
  std::string writeRaw(llvm::StringRef name, const std::string &bytes) {
    std::string path = pathOf(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  /// A file made of a header text (length prefixed) and `data`.
  std::string writeWithHeader(llvm::StringRef name, const std::string &header,
                              const std::string &data) {
    char length[8];
    llvm::support::endian::write64le(length, header.size());
    return writeRaw(name, std::string(length, 8) + header + data);
  }
  /// Expects reading `path` to fail with a message naming the file and
  /// containing `phrase`.
  void expectReadError(const std::string &path, llvm::StringRef phrase) {
    llvm::Expected<File> file = readFile(path);
    ASSERT_FALSE(static_cast<bool>(file)) << "read of " << path << " succeeded";
    std::string message = llvm::toString(file.takeError());
    EXPECT_NE(message.find(llvm::sys::path::filename(path).str()),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(phrase.str()), std::string::npos) << message;
  }
  static std::string readAll(const std::string &path) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    return buffer ? (*buffer)->getBuffer().str() : std::string("<unreadable>");
  }

  SmallString<256> dir;
};

std::vector<double> randomValues(size_t count, unsigned seed, double scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> values(count);
  for (double &v : values)
    v = dist(rng);
  return values;
}

/// Naive restatement of a binary float format's value set: the nearest
/// representable value by search over all 2^16 patterns (ties to even
/// mantissa), used to check the encoder independently.
uint16_t nearestBySearch(double value, double (*decode)(uint16_t)) {
  uint16_t best = 0;
  double bestErr = INFINITY;
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    double candidate = decode(static_cast<uint16_t>(bits));
    if (!std::isfinite(candidate) ||
        std::signbit(candidate) != std::signbit(value))
      continue;
    double err = std::fabs(candidate - value);
    if (err < bestErr || (err == bestErr && (bits & 1) == 0 && (best & 1))) {
      best = static_cast<uint16_t>(bits);
      bestErr = err;
    }
  }
  return best;
}

} // namespace

TEST(HalfConversion, KnownF16Values) {
  EXPECT_EQ(decodeF16(0x3C00), 1.0);
  EXPECT_EQ(decodeF16(0xC000), -2.0);
  EXPECT_EQ(decodeF16(0x7BFF), 65504.0);
  EXPECT_EQ(decodeF16(0x0001), std::ldexp(1.0, -24)); // smallest subnormal
  EXPECT_EQ(decodeF16(0x0400), std::ldexp(1.0, -14)); // smallest normal
  EXPECT_EQ(decodeF16(0x3555), 0.333251953125);
  EXPECT_TRUE(std::isinf(decodeF16(0x7C00)) && decodeF16(0x7C00) > 0);
  EXPECT_TRUE(std::isinf(decodeF16(0xFC00)) && decodeF16(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(decodeF16(0x7E00)));
  EXPECT_TRUE(std::signbit(decodeF16(0x8000)));

  EXPECT_EQ(encodeF16(1.0), 0x3C00);
  EXPECT_EQ(encodeF16(-2.0), 0xC000);
  EXPECT_EQ(encodeF16(65504.0), 0x7BFF);
  EXPECT_EQ(encodeF16(1.0 / 3.0), 0x3555);
  EXPECT_EQ(encodeF16(-0.0), 0x8000);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (down).
  EXPECT_EQ(encodeF16(1.0 + std::ldexp(1.0, -11)), 0x3C00);
  // 1 + 3*2^-11 is halfway between odd 0x3C01 and even 0x3C02: up.
  EXPECT_EQ(encodeF16(1.0 + 3 * std::ldexp(1.0, -11)), 0x3C02);
  // Just above the halfway point rounds up.
  EXPECT_EQ(encodeF16(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30)),
            0x3C01);
  // 65520 is halfway between 65504 and the overflow threshold: to infinity.
  EXPECT_EQ(encodeF16(65520.0), 0x7C00);
  EXPECT_EQ(encodeF16(65519.0), 0x7BFF);
  EXPECT_EQ(encodeF16(1e300), 0x7C00);
  EXPECT_EQ(encodeF16(-INFINITY), 0xFC00);
  // Half the smallest subnormal ties to even zero; just above gives 1 ulp.
  EXPECT_EQ(encodeF16(std::ldexp(1.0, -25)), 0x0000);
  EXPECT_EQ(encodeF16(std::ldexp(1.5, -25)), 0x0001);
  EXPECT_EQ(encodeF16(std::ldexp(1023.5, -24)), 0x0400); // rounds to normal
  EXPECT_TRUE(std::isnan(decodeF16(encodeF16(NAN))));
}

TEST(HalfConversion, KnownBF16Values) {
  EXPECT_EQ(decodeBF16(0x3F80), 1.0);
  EXPECT_EQ(decodeBF16(0xC040), -3.0);
  EXPECT_EQ(decodeBF16(0x7F7F), 0x1.FEp127); // largest finite
  EXPECT_EQ(decodeBF16(0x0001), std::ldexp(1.0, -133));
  EXPECT_EQ(decodeBF16(0x3EAB), 0.333984375);
  EXPECT_TRUE(std::isinf(decodeBF16(0x7F80)));
  EXPECT_TRUE(std::isnan(decodeBF16(0x7FC0)));

  EXPECT_EQ(encodeBF16(1.0), 0x3F80);
  EXPECT_EQ(encodeBF16(-3.0), 0xC040);
  EXPECT_EQ(encodeBF16(1.0 / 3.0), 0x3EAB);
  EXPECT_EQ(encodeBF16(1.0 + std::ldexp(1.0, -8)), 0x3F80); // tie -> even
  EXPECT_EQ(encodeBF16(1.0 + 3 * std::ldexp(1.0, -8)), 0x3F82);
  EXPECT_EQ(encodeBF16(0x1.FFp127), 0x7F80); // halfway to overflow: inf
  // Double rounding through float would turn this into a tie rounded down;
  // direct rounding from double sees it is above the tie.
  EXPECT_EQ(encodeBF16(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)),
            0x3F81);
}

TEST(HalfConversion, EncoderMatchesExhaustiveNearestSearch) {
  std::vector<double> values = randomValues(200, 11, 3.0);
  // Also tiny values (subnormal ranges) and large ones.
  for (double v : randomValues(50, 12, 1e-6))
    values.push_back(v);
  for (double v : randomValues(50, 13, 2e4))
    values.push_back(v);
  for (double v : values) {
    if (std::fabs(v) < 65504)
      EXPECT_EQ(encodeF16(v), nearestBySearch(v, decodeF16)) << v;
    EXPECT_EQ(encodeBF16(v), nearestBySearch(v, decodeBF16)) << v;
  }
  // Every finite half value survives a round trip exactly.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    double f16 = decodeF16(static_cast<uint16_t>(bits));
    if (!std::isnan(f16))
      ASSERT_EQ(encodeF16(f16), bits);
    double bf16 = decodeBF16(static_cast<uint16_t>(bits));
    if (!std::isnan(bf16))
      ASSERT_EQ(encodeBF16(bf16), bits);
  }
}

TEST_F(SafetensorsTest, RoundTripEveryDTypeWithMetadata) {
  File file;
  file.metadata = {
      {"op", "tsnorm"}, {"eps", "1e-05"}, {"config", "{\"a\": 1}"}};
  std::vector<double> reals = randomValues(6, 5, 2.0);
  std::map<std::string, ref::Tensor> expected;
  const std::pair<const char *, DType> cases[] = {
      {"f64", DType::F64},   {"f32", DType::F32}, {"f16", DType::F16},
      {"bf16", DType::BF16}, {"i64", DType::I64}, {"i32", DType::I32},
      {"bool", DType::BOOL}};
  for (auto [name, dtype] : cases) {
    std::vector<double> values = reals;
    for (double &v : values) {
      if (dtype == DType::I64 || dtype == DType::I32)
        v = std::round(v * 1000);
      else if (dtype == DType::BOOL)
        v = v > 0;
    }
    ref::Tensor tensor({2, 3}, values);
    llvm::Expected<TensorData> data = fromTensor(tensor, dtype);
    ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
    file.tensors[name] = std::move(*data);
    expected[name] = tensor;
  }
  // A scalar and an empty tensor.
  file.tensors["scalar"] =
      *fromTensor(ref::Tensor({}, std::vector<double>{42.0}), DType::I64);
  file.tensors["empty"] = *fromTensor(ref::Tensor({0, 4}), DType::F32);

  std::string path = pathOf("round.safetensors");
  ASSERT_FALSE(static_cast<bool>(writeFile(path, file)));
  llvm::Expected<TensorFile> back = readTensorFile(path);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->metadata, file.metadata);
  ASSERT_EQ(back->tensors.size(), file.tensors.size());
  for (auto [name, dtype] : cases) {
    const ref::Tensor &got = back->tensors.at(name);
    const ref::Tensor &want = expected.at(name);
    ASSERT_EQ(got.shape, want.shape) << name;
    for (int64_t i = 0; i < want.numel(); ++i) {
      double rounded = want[i];
      if (dtype == DType::F32)
        rounded = static_cast<float>(want[i]);
      else if (dtype == DType::F16)
        rounded = decodeF16(encodeF16(want[i]));
      else if (dtype == DType::BF16)
        rounded = decodeBF16(encodeBF16(want[i]));
      EXPECT_EQ(got[i], rounded) << name << "[" << i << "]";
      // The rounding error is within half an ulp of the format.
      double relUlp = dtype == DType::BF16  ? std::ldexp(1.0, -8)
                      : dtype == DType::F16 ? std::ldexp(1.0, -11)
                      : dtype == DType::F32 ? std::ldexp(1.0, -24)
                                            : 0.0;
      EXPECT_LE(std::fabs(got[i] - want[i]), relUlp * std::fabs(want[i]))
          << name;
    }
  }
  EXPECT_EQ(back->tensors.at("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(back->tensors.at("scalar")[0], 42.0);
  EXPECT_EQ(back->tensors.at("empty").numel(), 0);

  // Deterministic: the same content gives the same bytes, the header is
  // padded to 8 bytes and the keys are sorted.
  std::string bytes = readAll(path);
  std::string again = pathOf("again.safetensors");
  ASSERT_FALSE(static_cast<bool>(writeFile(again, file)));
  EXPECT_EQ(readAll(again), bytes);
  uint64_t headerSize = llvm::support::endian::read64le(bytes.data());
  EXPECT_EQ(headerSize % 8, 0u);
  std::string header = bytes.substr(8, headerSize);
  EXPECT_LT(header.find("\"bf16\""), header.find("\"bool\""));
  EXPECT_LT(header.find("\"f16\""), header.find("\"f32\""));
}

TEST_F(SafetensorsTest, ReadsGoldenFile) {
  std::string path = std::string(GECKO_TEST_DATA_DIR) +
                     "/golden/awm__chunked_cache.safetensors";
  llvm::Expected<TensorFile> file = readTensorFile(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->metadata.at("op"), "awm");
  const ref::Tensor &lnt = file->tensors.at("in.lnt");
  EXPECT_EQ(lnt.shape, (std::vector<int64_t>{2, 2, 5}));
  // Re-encoding every tensor as F32 and writing it again reproduces values.
  for (const auto &[name, tensor] : file->tensors)
    for (double v : tensor.data)
      EXPECT_TRUE(std::isnan(v) || static_cast<float>(v) == v) << name;
}

TEST_F(SafetensorsTest, TruncatedFile) {
  expectReadError(writeRaw("short.safetensors", std::string("\x10\0\0", 3)),
                  "truncated");
}

TEST_F(SafetensorsTest, HeaderLengthPastEnd) {
  char length[8];
  llvm::support::endian::write64le(length, 1000);
  expectReadError(
      writeRaw("past.safetensors", std::string(length, 8) + "{\"a\":1}"),
      "runs past the end of the file");
  // A huge length must not be trusted either.
  llvm::support::endian::write64le(length, ~0ull);
  expectReadError(writeRaw("huge.safetensors", std::string(length, 8) + "{}"),
                  "runs past the end of the file");
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  expectReadError(writeWithHeader("nojson.safetensors", "{not json", ""),
                  "header is not valid JSON");
  expectReadError(writeWithHeader("array.safetensors", "[1, 2]", ""),
                  "header is not a JSON object");
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  expectReadError(
      writeWithHeader(
          "overlap.safetensors",
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          std::string(12, '\0')),
      "overlapping data_offsets");
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  expectReadError(
      writeWithHeader(
          "range.safetensors",
          R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
          std::string(16, '\0')),
      "out of range");
  expectReadError(
      writeWithHeader(
          "backwards.safetensors",
          R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
          std::string(16, '\0')),
      "invalid data_offsets");
}

TEST_F(SafetensorsTest, UnknownDType) {
  expectReadError(
      writeWithHeader(
          "dtype.safetensors",
          R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})",
          std::string(2, '\0')),
      "tensor 'a': unknown dtype 'Q4'");
}

TEST_F(SafetensorsTest, ShapeSizeMismatch) {
  expectReadError(
      writeWithHeader(
          "size.safetensors",
          R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})",
          std::string(24, '\0')),
      "tensor 'a': size mismatch");
}

TEST_F(SafetensorsTest, NegativeAndOverflowingDims) {
  expectReadError(
      writeWithHeader(
          "neg.safetensors",
          R"({"a":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}})", ""),
      "negative dimension -3");
  expectReadError(
      writeWithHeader(
          "overflow.safetensors",
          R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
          ""),
      "overflows");
}

TEST_F(SafetensorsTest, MissingOrIllTypedFields) {
  expectReadError(writeWithHeader("nodtype.safetensors",
                                  R"({"a":{"shape":[1],"data_offsets":[0,4]}})",
                                  std::string(4, '\0')),
                  "tensor 'a': missing 'dtype'");
  expectReadError(
      writeWithHeader(
          "shapetype.safetensors",
          R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})",
          std::string(4, '\0')),
      "'shape' is not an array");
  expectReadError(
      writeWithHeader("offsets.safetensors",
                      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
                      std::string(4, '\0')),
      "'data_offsets' is not an array of two integers");
  expectReadError(
      writeWithHeader("meta.safetensors", R"({"__metadata__":{"op":3}})", ""),
      "'__metadata__' value of 'op' is not a string");
}

TEST_F(SafetensorsTest, DuplicateNames) {
  expectReadError(
      writeWithHeader(
          "dup.safetensors",
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
          R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          std::string(8, '\0')),
      "duplicate tensor name 'a'");
}

TEST_F(SafetensorsTest, RefusesValuesTheDTypeCannotHold) {
  EXPECT_FALSE(
      static_cast<bool>(fromTensor(ref::Tensor({2}, {1.0, 2.5}), DType::I64)));
  EXPECT_FALSE(static_cast<bool>(
      fromTensor(ref::Tensor({1}, std::vector<double>{2.0}), DType::BOOL)));
  EXPECT_FALSE(static_cast<bool>(
      fromTensor(ref::Tensor({1}, std::vector<double>{0x1p40}), DType::I32)));
  // Errors are values; consume them.
  llvm::consumeError(
      fromTensor(ref::Tensor({1}, std::vector<double>{NAN}), DType::I64)
          .takeError());
}

TEST_F(SafetensorsTest, AtomicWriteKeepsOldFileWhenDirectoryNotWritable) {
  File original;
  original.metadata["version"] = "1";
  original.tensors["x"] =
      *fromTensor(ref::Tensor({3}, randomValues(3, 21, 1.0)), DType::F32);
  std::string path = pathOf("keep.safetensors");
  ASSERT_FALSE(static_cast<bool>(writeFile(path, original)));
  std::string before = readAll(path);

  File replacement = original;
  replacement.metadata["version"] = "2";
  ASSERT_EQ(::chmod(dir.c_str(), 0500), 0);
  bool privileged = ::access(dir.c_str(), W_OK) == 0; // e.g. running as root
  llvm::Error error = writeFile(path, replacement);
  ::chmod(dir.c_str(), 0700);
  if (!privileged) {
    ASSERT_TRUE(static_cast<bool>(error));
    std::string message = llvm::toString(std::move(error));
    EXPECT_NE(message.find("keep.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find("temporary file"), std::string::npos) << message;
    EXPECT_EQ(readAll(path), before);
  } else {
    llvm::consumeError(std::move(error));
  }
  // Whatever happened, no temporary file is left behind.
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(SafetensorsTest, AtomicWriteKeepsOldFileOnInconsistentTensor) {
  File original;
  original.tensors["x"] =
      *fromTensor(ref::Tensor({2}, randomValues(2, 22, 1.0)), DType::F32);
  std::string path = pathOf("keep2.safetensors");
  ASSERT_FALSE(static_cast<bool>(writeFile(path, original)));
  std::string before = readAll(path);

  File broken = original;
  broken.tensors["x"].shape = {5}; // bytes no longer match the shape
  llvm::Error error = writeFile(path, broken);
  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_NE(message.find("keep2.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("do not match shape"), std::string::npos) << message;
  EXPECT_EQ(readAll(path), before);

  // Writing onto a path whose directory does not exist fails cleanly.
  llvm::Error missing =
      writeFile(pathOf("no/such/dir/x.safetensors"), original);
  ASSERT_TRUE(static_cast<bool>(missing));
  llvm::consumeError(std::move(missing));
}

TEST_F(SafetensorsTest, AtomicWriteKeepsOldFileWhenWritingFails) {
  // A file-size limit makes write() fail with EFBIG even for root, which the
  // permission test above cannot rely on.
  File original;
  original.tensors["x"] =
      *fromTensor(ref::Tensor({4}, randomValues(4, 23, 1.0)), DType::F32);
  std::string path = pathOf("limited.safetensors");
  ASSERT_FALSE(static_cast<bool>(writeFile(path, original)));
  std::string before = readAll(path);

  File large;
  large.tensors["x"] =
      *fromTensor(ref::Tensor({4096}, randomValues(4096, 24, 1.0)), DType::F32);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*savedHandler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  llvm::Error error = writeFile(path, large);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, savedHandler);

  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_NE(message.find("limited.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot write the temporary file"), std::string::npos)
      << message;
  EXPECT_EQ(readAll(path), before);
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1) << "the temporary file was not removed";
}

TEST_F(SafetensorsTest, AtomicWriteKeepsTargetWhenRenameFails) {
  // The target is a non-empty directory: rename() must fail and leave it.
  std::string path = pathOf("target.safetensors");
  ASSERT_FALSE(llvm::sys::fs::create_directory(path));
  writeRaw("target.safetensors/inside", "keep");
  File file;
  file.tensors["x"] =
      *fromTensor(ref::Tensor({2}, randomValues(2, 25, 1.0)), DType::F32);
  llvm::Error error = writeFile(path, file);
  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_NE(message.find("target.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot rename"), std::string::npos) << message;
  EXPECT_EQ(readAll(pathOf("target.safetensors/inside")), "keep");
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1) << "the temporary file was not removed";
}
