//===- SafetensorsTest.cpp - The runtime's safetensors reader/writer ------===//

#include "gecko/Runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace gecko::rt;

namespace {

std::string tempDir() {
  std::string dir = ::testing::TempDir() + "gecko-st-XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A file from a header text and a data section.
std::string fileBytes(const std::string &header, size_t dataBytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(n >> (8 * i));
  return out + header + std::string(dataBytes, '\0');
}

std::string openError(const std::string &bytes) {
  std::unique_ptr<st::File> file;
  Status s = st::File::fromBytes(bytes, "f.safetensors", &file);
  EXPECT_FALSE(s.ok());
  return s.message();
}

TEST(RuntimeSafetensors, WriteReadRoundTrip) {
  std::string dir = tempDir();
  std::string path = dir + "/t.safetensors";
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  std::vector<int64_t> ids = {5, -1, 1LL << 40};
  uint8_t mask[2] = {1, 0};
  // bf16 1.0, -2.0 and f16 1.0, -2.0, 65504 (max), 2^-24 (min subnormal)
  uint16_t bf16[2] = {0x3F80, 0xC000};
  uint16_t f16[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001};
  Status s = st::write(path,
                       {{"w", st::DType::F32, {2, 3}, f.data()},
                        {"ids", st::DType::I64, {3}, ids.data()},
                        {"mask", st::DType::BOOL, {2}, mask},
                        {"b", st::DType::BF16, {2}, bf16},
                        {"h", st::DType::F16, {4}, f16},
                        {"empty", st::DType::F32, {0, 4}, nullptr}},
                       {{"format", "pt"}, {"note", "x\"y"}});
  ASSERT_TRUE(s.ok()) << s.message();
  std::string bytes = readAll(path);
  EXPECT_EQ((bytes.size() - 8 - (6 * 4 + 3 * 8 + 2 + 4 + 8)) % 8, 0u);

  std::unique_ptr<st::File> file;
  s = st::File::open(path, &file);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(file->tensors().size(), 6u);
  EXPECT_EQ(file->tensors()[0].name, "b"); // sorted
  const st::TensorView *w = file->find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> back(6);
  ASSERT_TRUE(st::toFloat(*w, back.data()));
  EXPECT_EQ(back, f);
  std::vector<int64_t> idsBack(3);
  ASSERT_TRUE(st::toInt64(*file->find("ids"), idsBack.data()));
  EXPECT_EQ(idsBack, ids);
  int64_t maskBack[2];
  ASSERT_TRUE(st::toInt64(*file->find("mask"), maskBack));
  EXPECT_EQ(maskBack[0], 1);
  EXPECT_EQ(maskBack[1], 0);
  float b[2], h[4];
  ASSERT_TRUE(st::toFloat(*file->find("b"), b));
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.0f);
  ASSERT_TRUE(st::toFloat(*file->find("h"), h));
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));
  EXPECT_FALSE(st::toFloat(*file->find("ids"), back.data()));
  EXPECT_EQ(file->find("empty")->numel(), 0);
  EXPECT_EQ(file->metadata().at("note"), "x\"y");

  // Deterministic: the same tensors in another order give the same bytes.
  std::string path2 = dir + "/t2.safetensors";
  ASSERT_TRUE(st::write(path2,
                        {{"empty", st::DType::F32, {0, 4}, nullptr},
                         {"h", st::DType::F16, {4}, f16},
                         {"b", st::DType::BF16, {2}, bf16},
                         {"mask", st::DType::BOOL, {2}, mask},
                         {"ids", st::DType::I64, {3}, ids.data()},
                         {"w", st::DType::F32, {2, 3}, f.data()}},
                        {{"note", "x\"y"}, {"format", "pt"}})
                  .ok());
  EXPECT_EQ(readAll(path2), bytes);
}

TEST(RuntimeSafetensors, AtomicWrites) {
  std::string dir = tempDir();
  std::string path = dir + "/out.safetensors";
  ASSERT_TRUE(st::writeFileAtomic(path, "old").ok());
  float x = 1;
  // A failing write (duplicate names) leaves the old file and no temporary.
  Status s = st::write(
      path, {{"a", st::DType::F32, {1}, &x}, {"a", st::DType::F32, {1}, &x}});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensor 'a' given twice"), std::string::npos);
  EXPECT_EQ(readAll(path), "old");
  // Into a missing directory: an error naming the path.
  s = st::writeFileAtomic(dir + "/no/such/file", "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create"), std::string::npos);
  // Success replaces and leaves no temporary file behind.
  ASSERT_TRUE(st::write(path, {{"a", st::DType::F32, {1}, &x}}).ok());
  EXPECT_NE(readAll(path), "old");
  struct stat info;
  EXPECT_NE(stat((path + ".tmp-" + std::to_string(getpid())).c_str(), &info),
            0);
}

TEST(RuntimeSafetensors, MalformedFilesGiveNamedErrors) {
  EXPECT_EQ(openError("abc"), "f.safetensors: file of 3 bytes is too short "
                              "for the 8-byte header length");
  std::string huge(8, '\xff');
  EXPECT_NE(openError(huge).find("exceeds the limit"), std::string::npos);
  std::string past = fileBytes("{}", 0);
  past[0] = 100;
  EXPECT_EQ(openError(past), "f.safetensors: header length 100 runs past "
                             "the end of the file (10 bytes)");
  EXPECT_EQ(openError(fileBytes("{\"a\": ", 0)),
            "f.safetensors: invalid JSON header: at byte 6: unexpected end "
            "of input");
  EXPECT_EQ(openError(fileBytes("[]", 0)),
            "f.safetensors: the header is a JSON array, expected an object");
  EXPECT_EQ(
      openError(fileBytes(
          R"({"t": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}})",
          1)),
      "f.safetensors: tensor 't': unsupported dtype 'Q8'");
  EXPECT_EQ(
      openError(fileBytes(
          R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
          4)),
      "f.safetensors: tensor 't': shape entries must be non-negative "
      "integers");
  EXPECT_EQ(
      openError(fileBytes(
          R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
          4)),
      "f.safetensors: tensor 't': data_offsets [0, 8] run past the data "
      "section (4 bytes)");
  EXPECT_EQ(
      openError(fileBytes(
          R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
          8)),
      "f.safetensors: tensor 't': data_offsets [0, 4] hold 4 bytes, but F32 "
      "[2] needs 8");
  EXPECT_EQ(
      openError(fileBytes(
          R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 0]}})",
          8)),
      "f.safetensors: tensor 't': 'data_offsets' must be integers 0 <= "
      "begin <= end");
  EXPECT_EQ(
      openError(fileBytes(R"({"a": {"dtype": "F32", "shape": [2], )"
                          R"("data_offsets": [0, 8]}, "b": {"dtype": "F32", )"
                          R"("shape": [1], "data_offsets": [4, 8]}})",
                          8)),
      "f.safetensors: tensors 'a' and 'b' overlap");
  EXPECT_EQ(openError(fileBytes(R"({"__metadata__": {"k": 1}})", 0)),
            "f.safetensors: metadata 'k' is not a string");
  EXPECT_EQ(openError(fileBytes(R"({"t": {"dtype": "F32", "shape": [1], )"
                                R"("data_offsets": [0, 4], "x": 1}})",
                                4)),
            "f.safetensors: tensor 't': unknown field 'x'");
  EXPECT_EQ(openError(fileBytes(R"({"t": {"shape": [1]}})", 4)),
            "f.safetensors: tensor 't': missing or non-string 'dtype'");
  EXPECT_EQ(openError(fileBytes(
                R"({"t": {"dtype": "F32", "shape": )"
                R"([4611686018427387904, 4], "data_offsets": [0, 4]}})",
                4)),
            "f.safetensors: tensor 't': shape is too large (over 2^62 bytes)");
  std::unique_ptr<st::File> file;
  Status s = st::File::open("/nonexistent/x.safetensors", &file);
  EXPECT_EQ(s.message(),
            "/nonexistent/x.safetensors: cannot open: No such file or "
            "directory");
}

} // namespace
