//===- Model.h - Load a compiled Gecko model and stream tokens --*- C++ -*-===//
//
// The model runtime (library GeckoModelRuntime; links neither MLIR nor
// LLVM). An artifact written by gecko-compile is a directory holding
// `manifest.json` and the host library `model.so` (docs/model/artifact.md).
// `Model` loads it: parses and checks the manifest, refuses an artifact this
// machine cannot run (another target, a CPU feature the host lacks),
// dlopens the library, resolves the packed entry points and owns the
// parameters (from a safetensors file or random demo weights).
// `Session` owns the carried state of one stream and feeds tokens in any
// split: full chunks advance the state at chunk boundaries; the tokens of a
// trailing partial chunk go one by one through the artifact's "decode"
// entry (carrying a partial-chunk state), or, without one, are padded to
// the chunk size and run with their state discarded. `feed(a); feed(b)`
// returns the same logits as `feed(a + b)`.
// No exceptions: every fallible call returns a Status.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_MODEL_H
#define GECKO_RUNTIME_MODEL_H

#include "gecko/Runtime/Device.h" // Status
#include "gecko/Runtime/Json.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace gecko::rt {

/// Element type of an entry argument / result ("f32", "i64", "i1", "c64").
enum class ElemType { F32, I64, I1, C64 };

const char *elemTypeName(ElemType type);
/// Bytes per element (c64: 8).
size_t elemTypeSize(ElemType type);

struct TensorSpec {
  std::string name;
  /// The MLIR shape (c64: without the trailing 2).
  std::vector<int64_t> shape;
  ElemType type = ElemType::F32;

  /// A shape-[] i64 is passed as a plain int64_t, everything else as a
  /// memref descriptor.
  bool isScalar() const { return shape.empty() && type == ElemType::I64; }
  int64_t numel() const;
  size_t bytes() const { return numel() * elemTypeSize(type); }
};

struct EntrySpec {
  std::string name, symbol;
  int64_t length = 0, start = 0;
  std::vector<TensorSpec> args, results;
};

/// manifest.json, checked for internal consistency (entry argument and
/// result lists against `params` and `state`, token and logits shapes).
struct Manifest {
  int64_t version = 0;
  std::string target; // "cpu", "nvptx", "amdgcn"
  std::string triple, cpu, features;
  std::string library;
  json::Value config;
  int64_t batch = 0, chunkSize = 0, vocabSize = 0, bosId = 0;
  bool multiDocument = false;
  std::vector<TensorSpec> params, state;
  EntrySpec firstChunk, chunk;
  /// The optional single-token "decode" entry and its partial-chunk state
  /// (`decode_state`; docs/model/artifact.md).
  bool hasDecode = false;
  EntrySpec decode;
  std::vector<TensorSpec> decodeState;
  /// Further entries (e.g. the training entries,
  /// include/gecko/Runtime/Train.h).
  std::vector<EntrySpec> otherEntries;
};

/// Parses the text of manifest.json; `name` names it in errors.
Status parseManifest(const std::string &text, const std::string &name,
                     Manifest *out);

/// The CPU flags of this machine (the `flags` line of /proc/cpuinfo), or
/// those in the environment variable GECKO_RUNTIME_CPU_FLAGS when it is set
/// (space separated; a testing hook).
std::set<std::string> hostCpuFlags();
/// The `+feature`s of an LLVM feature string ("+avx2,-avx512f,...") that
/// `flags` lack, for the x86 features with a known /proc/cpuinfo name;
/// features this runtime cannot check are ignored.
std::vector<std::string> missingCpuFeatures(const std::string &features,
                                            const std::set<std::string> &flags);
/// Whether this runtime build and machine can run `manifest`: the target,
/// the architecture of its triple, its CPU features.
Status checkRunnable(const Manifest &manifest);

class Model {
public:
  /// Loads the artifact directory `path` (no weights yet).
  static Status load(const std::string &path, std::unique_ptr<Model> *out);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const Manifest &manifest() const { return man; }
  const std::string &path() const { return dir; }
  int64_t batch() const { return man.batch; }
  int64_t chunkSize() const { return man.chunkSize; }
  int64_t vocabSize() const { return man.vocabSize; }
  /// Multi-document mode: the compiled code derives the bos mask from the
  /// tokens (token == bosId()); nothing else changes for the caller.
  bool multiDocument() const { return man.multiDocument; }
  int64_t bosId() const { return man.bosId; }

  /// Parameters from a safetensors file holding exactly the manifest's
  /// params as F32 with their shapes; every missing, extra, misshaped or
  /// wrongly typed tensor is listed in one error.
  Status loadWeights(const std::string &safetensorsPath);
  /// Deterministic random demo weights with the ranges of the reference
  /// library's randomParams (the same values for the same seed).
  Status initRandom(uint64_t seed);
  bool hasWeights() const { return !params.empty(); }
  /// The buffer of parameter i (manifest order), 64-byte aligned.
  const float *param(size_t i) const { return params[i]; }
  /// The same buffer, writable (training updates it in place).
  float *mutableParam(size_t i) { return params[i]; }

  /// Threads of the library's OpenMP loops (omp_set_num_threads of the
  /// OpenMP runtime model.so links; default: OMP_NUM_THREADS or all cores).
  /// Small models on busy machines often run faster with 1.
  Status setNumThreads(int threads);

  /// Entry point of the packed interface: void f(void **args).
  using PackedFn = void (*)(void **);
  PackedFn firstChunkFn() const { return firstFn; }
  PackedFn chunkFn() const { return chunkFnPtr; }
  /// The decode entry, or null when the artifact has none.
  PackedFn decodeFn() const { return decodeFnPtr; }

private:
  Model() = default;
  void freeParams();

  std::string dir;
  Manifest man;
  void *library = nullptr;
  PackedFn firstFn = nullptr, chunkFnPtr = nullptr, decodeFnPtr = nullptr;
  std::vector<float *> params;
};

/// One stream (per batch row: the same number of tokens in every row).
class Session {
public:
  /// `model` must outlive the session and have weights.
  explicit Session(const Model &model);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// Runs `length` more tokens of every row; `tokens` is [batch][length]
  /// row-major, ids in [0, vocab). When `logits` is not null it receives
  /// [batch][length][vocab] floats: the logits of exactly these positions.
  /// On error (bad id, no weights, a library that returns wrong shapes) the
  /// session is unchanged.
  Status feed(const int64_t *tokens, int64_t length, float *logits);
  Status feed(const std::vector<int64_t> &tokens, std::vector<float> *logits);

  /// Back to an empty stream (frees the carried state).
  void reset();

  /// Whether tokens after the last chunk boundary go through the decode
  /// entry (default: when the artifact has one) or through padded chunk
  /// calls (false, or an artifact without a decode entry).
  void setUseDecode(bool on) { useDecode = on && model.decodeFn(); }
  bool usesDecode() const { return useDecode; }
  /// Prefill: a feed that leaves more than `tokens` new tokens of a partial
  /// chunk gets their logits from one padded chunk call instead of one
  /// decode call each (the partial state then catches up on the next feed
  /// of at most `tokens` tokens). Default: chunk size (always decode).
  void setDecodePrefillLimit(int64_t tokens) { prefillLimit = tokens; }

  /// Tokens fed per row since the start / last reset.
  int64_t position() const { return boundaryPos + pending; }
  /// Tokens per row covered by the carried state (a multiple of the chunk).
  int64_t boundary() const { return boundaryPos; }
  /// Chunk calls made (full and padded chunks).
  uint64_t calls() const { return numCalls; }
  /// Decode calls made (one token per row each).
  uint64_t decodeCalls() const { return numDecodeCalls; }

private:
  struct Buffer {
    void *allocated = nullptr;
    void *aligned = nullptr;
  };
  struct Result {
    void *allocated, *aligned;
    int64_t offset;
    std::vector<int64_t> sizes, strides;
  };
  /// Argument descriptors and result storage of one entry.
  struct Frame {
    std::vector<std::vector<int64_t>> descs; // per argument
    std::vector<void *> descPtrs;
    std::vector<void *> packed;
    std::vector<int64_t> resultWords;
  };

  void makeFrame(const EntrySpec &entry, int64_t *tokens, Frame *frame);
  void bind(Frame &frame, size_t arg0, const std::vector<Buffer> &buffers);
  Status invoke(const EntrySpec &entry, Model::PackedFn fn, Frame &frame,
                std::vector<Result> *results);
  void adopt(const EntrySpec &entry, const std::vector<Result> &results,
             std::vector<Buffer> *target);
  std::vector<void *> inputs() const;
  void release(std::vector<void *> candidates,
               const std::vector<void *> &keep) const;
  Status run(bool commit, int64_t firstOut, int64_t endOut, float *logits,
             int64_t outLength, int64_t outPos);
  Status decodeToken(int64_t t, float *logits, int64_t rowStride);
  void zeroBuffers(const std::vector<TensorSpec> &specs, size_t first,
                   std::vector<Buffer> *out);
  void freeBuffers(std::vector<Buffer> *buffers);

  const Model &model;
  int64_t batch, chunk, vocab;
  int64_t boundaryPos = 0;
  int64_t pending = 0; // tokens after the boundary
  int64_t emitted = 0; // of those, how many had their logits returned
  int64_t decoded = 0; // of those, how many the partial state covers
  bool useDecode = false;
  int64_t prefillLimit = 0;
  uint64_t numCalls = 0, numDecodeCalls = 0;
  int64_t *tokenBuf = nullptr;  // [batch][chunk]
  int64_t *decodeTok = nullptr; // [batch][1]
  std::vector<Buffer> state;    // state[1..] of the manifest (no kv_count)
  std::vector<Buffer> partial;  // decode_state of the manifest
  Frame chunkFrame, decodeFrame;
  int64_t kvCount = 0;
};

} // namespace gecko::rt

#endif // GECKO_RUNTIME_MODEL_H
