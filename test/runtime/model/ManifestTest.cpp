//===- ManifestTest.cpp - Artifact manifests and host checks --------------===//

#include "gecko/Runtime/Model.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace gecko::rt;

namespace {

/// A consistent manifest of a 1-layer toy (one param, one state tensor).
std::string manifestText(const std::string &target = "cpu",
                         const std::string &features = "+avx2,-avx512f",
                         const std::string &chunkResults = "") {
  std::string tensors = R"({"name": "w", "shape": [4, 2], "dtype": "f32"})";
  std::string stateT =
      R"({"name": "cache.h", "shape": [1, 2], "dtype": "c64"})";
  std::string kv = R"({"name": "kv_count", "shape": [], "dtype": "i64"})";
  std::string tok = R"({"name": "tokens", "shape": [1, 8], "dtype": "i64"})";
  std::string logits =
      R"({"name": "logits", "shape": [1, 8, 4], "dtype": "f32"})";
  std::string results =
      chunkResults.empty() ? logits + ", " + stateT : chunkResults;
  return R"({"format": "gecko-artifact", "version": 1, "target": ")" + target +
         R"(", "host": {"triple": "x86_64-unknown-linux-gnu", "cpu": "znver4",)"
         R"( "features": ")" +
         features +
         R"("}, "library": "model.so",)"
         R"( "config": {"vocab_size": 4, "chunk_size": 8, "bos_id": 1},)"
         R"( "batch": 1, "chunk_size": 8, "multi_document": true,)"
         R"( "params": [)" +
         tensors + R"(], "state": [)" + kv + ", " + stateT +
         R"(], "entries": [)"
         R"({"name": "first_chunk", "symbol": "_gecko_packed_first_chunk",)"
         R"( "length": 8, "start": 0, "args": [)" +
         tok + ", " + tensors + R"(], "results": [)" + logits + ", " + stateT +
         R"(]}, {"name": "chunk", "symbol": "_gecko_packed_chunk", "length": 8,)"
         R"( "start": 8, "args": [)" +
         tok + ", " + tensors + ", " + kv + ", " + stateT +
         R"(], "results": [)" + results + "]}]}";
}

std::string manifestError(const std::string &text) {
  Manifest m;
  Status s = parseManifest(text, "manifest.json", &m);
  EXPECT_FALSE(s.ok());
  return s.message();
}

TEST(RuntimeManifest, ParsesAConsistentManifest) {
  Manifest m;
  Status s = parseManifest(manifestText(), "manifest.json", &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.target, "cpu");
  EXPECT_EQ(m.batch, 1);
  EXPECT_EQ(m.chunkSize, 8);
  EXPECT_EQ(m.vocabSize, 4);
  EXPECT_EQ(m.bosId, 1);
  EXPECT_TRUE(m.multiDocument);
  ASSERT_EQ(m.state.size(), 2u);
  EXPECT_TRUE(m.state[0].isScalar());
  EXPECT_EQ(m.state[1].type, ElemType::C64);
  EXPECT_EQ(m.state[1].bytes(), 16u);
  EXPECT_EQ(m.chunk.args.size(), 4u);
  EXPECT_EQ(m.firstChunk.symbol, "_gecko_packed_first_chunk");
}

TEST(RuntimeManifest, InconsistentManifestsAreRefused) {
  EXPECT_EQ(manifestError("{"),
            "manifest.json: invalid JSON: at byte 1: expected a string key");
  std::string text = manifestText();
  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string t = text;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_EQ(manifestError(replaced("\"version\": 1", "\"version\": 2")),
            "manifest.json: artifact version 2 is not supported (this "
            "runtime reads version 1)");
  EXPECT_EQ(manifestError(replaced("\"batch\": 1", "\"batch\": \"1\"")),
            "manifest.json: 'batch' must be a number, found a string");
  EXPECT_EQ(manifestError(replaced("\"library\": \"model.so\"",
                                   "\"library\": \"../x.so\"")),
            "manifest.json: library '../x.so' must be a file name inside "
            "the artifact");
  EXPECT_EQ(manifestError(replaced("\"dtype\": \"c64\"", "\"dtype\": \"c32\"")),
            "manifest.json: 'state[1].dtype' 'c32' of tensor 'cache.h' is not "
            "one of f32, i64, i1, c64");
  EXPECT_EQ(
      manifestError(manifestText(
          "cpu", "",
          R"({"name": "logits", "shape": [1, 8, 5], "dtype": "f32"}, )"
          R"({"name": "cache.h", "shape": [1, 2], "dtype": "c64"})")),
      "manifest.json: entry 'chunk' results entry 0 is 'logits' [1, 8, 5] "
      "f32, expected 'logits' [1, 8, 4] f32");
  EXPECT_EQ(manifestError(replaced("\"start\": 8", "\"start\": 16")),
            "manifest.json: entry 'chunk' has length 8 and start 16, "
            "expected 8 and 8");
  EXPECT_EQ(manifestError(replaced("\"name\": \"chunk\"", "\"name\": \"x\"")),
            "manifest.json: entries must include 'first_chunk' and 'chunk'");
  EXPECT_EQ(manifestError(replaced("\"host\": {", "\"hos\": {")),
            "manifest.json: 'host' is missing");
}

/// manifestText() with a "decode" entry and its decode_state appended.
std::string withDecode(const std::string &decodeState,
                       const std::string &decodeArgsTail,
                       const std::string &tokens = "[1, 1]") {
  std::string text = manifestText();
  std::string entry =
      R"(, {"name": "decode", "symbol": "_gecko_packed_decode", "length": 1,)"
      R"( "start": 0, "args": [{"name": "tokens", "shape": )" +
      tokens +
      R"(, "dtype": "i64"}, {"name": "w", "shape": [4, 2], "dtype": "f32"},)"
      R"( {"name": "kv_count", "shape": [], "dtype": "i64"},)"
      R"( {"name": "cache.h", "shape": [1, 2], "dtype": "c64"})" +
      decodeArgsTail +
      R"(], "results": [{"name": "logits", "shape": [1, 1, 4], "dtype": "f32"},)"
      R"( {"name": "partial.k", "shape": [1, 7, 2], "dtype": "f32"}]})";
  text.insert(text.size() - 2, entry); // before "]}"
  if (!decodeState.empty())
    text.insert(text.size() - 1, R"(, "decode_state": [)" + decodeState + "]");
  return text;
}

TEST(RuntimeManifest, DecodeEntry) {
  std::string partial =
      R"({"name": "partial.k", "shape": [1, 7, 2], "dtype": "f32"})";
  Manifest m;
  Status s =
      parseManifest(withDecode(partial, ", " + partial), "manifest.json", &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(m.hasDecode);
  EXPECT_EQ(m.decode.symbol, "_gecko_packed_decode");
  ASSERT_EQ(m.decodeState.size(), 1u);
  EXPECT_EQ(m.decode.args.size(), 5u);
  EXPECT_TRUE(m.otherEntries.empty());
  // Without a decode entry the runtime pads partial chunks.
  ASSERT_TRUE(parseManifest(manifestText(), "manifest.json", &m).ok());
  EXPECT_FALSE(m.hasDecode);

  EXPECT_EQ(manifestError(withDecode("", ", " + partial)),
            "manifest.json: a 'decode' entry needs 'decode_state'");
  EXPECT_NE(manifestError(withDecode(partial, ""))
                .find("entry 'decode' args "
                      "has 4 entries, "
                      "expected 5"),
            std::string::npos);
  EXPECT_NE(manifestError(withDecode(partial, ", " + partial, "[1, 8]"))
                .find("entry 'decode' args entry 0 is 'tokens' [1, 8] i64, "
                      "expected 'tokens' [1, 1] i64"),
            std::string::npos);
}

TEST(RuntimeManifest, TargetsThisRuntimeCannotRun) {
  Manifest m;
  ASSERT_TRUE(parseManifest(manifestText("nvptx"), "m", &m).ok());
  Status s = checkRunnable(m);
  EXPECT_EQ(s.message(), "artifact compiled for nvptx; this runtime "
                         "build/machine runs cpu artifacts only");
}

TEST(RuntimeManifest, MissingCpuFeatures) {
  std::set<std::string> flags = {"sse2", "avx", "avx2", "fma", "sse4_2"};
  EXPECT_EQ(missingCpuFeatures("+avx2,+fma,-avx512f,+sse4.2,+cx8", flags),
            std::vector<std::string>{});
  EXPECT_EQ(missingCpuFeatures("+avx512f,+avx512vnni,+avx2,+madeup", flags),
            (std::vector<std::string>{"avx512f", "avx512vnni"}));
#if defined(__x86_64__)
  Manifest m;
  ASSERT_TRUE(
      parseManifest(manifestText("cpu", "+avx2,+avx512bw"), "m", &m).ok());
  setenv("GECKO_RUNTIME_CPU_FLAGS", "sse2 avx avx2", 1);
  Status s = checkRunnable(m);
  unsetenv("GECKO_RUNTIME_CPU_FLAGS");
  EXPECT_EQ(s.message(), "artifact compiled for CPU znver4 uses CPU features "
                         "this machine lacks: avx512bw (recompile it on this "
                         "machine or for a common CPU)");
#endif
}

} // namespace
