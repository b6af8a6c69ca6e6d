//===- Session.cpp - Stream tokens through a compiled Gecko model ---------===//
//
// The contract's streaming semantics (docs/runtime/model-runtime.md):
// full chunks go through "first_chunk" (the first) or "chunk" (kv_count =
// tokens consumed) and their state results replace the carried (boundary)
// state. The tokens of a trailing partial chunk go one at a time through
// "decode" (kv_count = their position; the boundary state, zero before the
// first full chunk, and the partial-chunk state as arguments; the partial
// state results replace the partial state), or, without a decode entry or
// for a long prefill, are padded with id 0 and run from the boundary state
// through the chunk entry, its state results discarded (every op is causal
// within a chunk, so the logits of the real positions are exact). The
// library never writes into its arguments (docs/model/artifact.md), so the
// boundary state is passed as is.
//
// Memref descriptors (packed interface): {allocated, aligned, offset,
// sizes[R], strides[R]}, 8 bytes each; args[0] points at the result storage
// (the result descriptors back to back), args[1 + i] at argument i's value
// (a MemRef * for memrefs, the int64_t for kv_count). Result buffers are
// malloc'ed by the library; everything a call returns is freed here unless
// it is kept as state or is one of the call's own inputs.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Model.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace gecko::rt {

namespace {

int64_t ptrWord(const void *p) {
  return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
}

void *wordPtr(int64_t w) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(w));
}

void *allocBytes(size_t bytes) {
  return std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
}

/// A descriptor for a contiguous tensor of `shape` (pointers filled later).
std::vector<int64_t> makeDescriptor(const std::vector<int64_t> &shape) {
  size_t rank = shape.size();
  std::vector<int64_t> words(3 + 2 * rank, 0);
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return words;
}

bool isContiguous(const std::vector<int64_t> &sizes,
                  const std::vector<int64_t> &strides) {
  int64_t expect = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] != 1 && strides[i] != expect)
      return false;
    expect *= sizes[i];
  }
  return true;
}

/// Copies a strided tensor into contiguous `dst`.
void gather(uint8_t *dst, const uint8_t *src, const std::vector<int64_t> &sizes,
            const std::vector<int64_t> &strides, size_t elem) {
  size_t rank = sizes.size();
  int64_t total = 1;
  for (int64_t s : sizes)
    total *= s;
  std::vector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d)
      off += index[d] * strides[d];
    std::memcpy(dst + n * elem, src + off * static_cast<int64_t>(elem), elem);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
  }
}

} // namespace

Session::Session(const Model &model)
    : model(model), batch(model.batch()), chunk(model.chunkSize()),
      vocab(model.vocabSize()) {
  const Manifest &m = model.manifest();
  tokenBuf = static_cast<int64_t *>(allocBytes(batch * chunk * 8));
  std::memset(tokenBuf, 0, batch * chunk * 8);
  // "first_chunk" takes a prefix of the arguments of "chunk" and returns the
  // same results: one frame serves both.
  makeFrame(m.chunk, tokenBuf, &chunkFrame);
  useDecode = model.decodeFn() != nullptr;
  prefillLimit = chunk;
  if (useDecode) {
    decodeTok = static_cast<int64_t *>(allocBytes(batch * 8));
    std::memset(decodeTok, 0, batch * 8);
    makeFrame(m.decode, decodeTok, &decodeFrame);
  }
}

Session::~Session() {
  freeBuffers(&state);
  freeBuffers(&partial);
  std::free(tokenBuf);
  std::free(decodeTok);
}

void Session::makeFrame(const EntrySpec &entry, int64_t *tokens, Frame *frame) {
  const std::vector<TensorSpec> &args = entry.args;
  frame->descs.resize(args.size());
  frame->descPtrs.assign(args.size(), nullptr);
  frame->packed.assign(1 + args.size(), nullptr);
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].isScalar()) {
      frame->packed[1 + i] = &kvCount;
      continue;
    }
    frame->descs[i] = makeDescriptor(args[i].shape);
    frame->descPtrs[i] = frame->descs[i].data();
    frame->packed[1 + i] = &frame->descPtrs[i];
  }
  frame->descs[0][0] = frame->descs[0][1] = ptrWord(tokens);
  size_t words = 0;
  for (const TensorSpec &r : entry.results)
    words += 3 + 2 * r.shape.size();
  frame->resultWords.assign(words, 0);
  frame->packed[0] = frame->resultWords.data();
}

/// Arguments arg0, arg0 + 1, ... of `frame` point at `buffers`.
void Session::bind(Frame &frame, size_t arg0,
                   const std::vector<Buffer> &buffers) {
  for (size_t s = 0; s < buffers.size(); ++s) {
    std::vector<int64_t> &d = frame.descs[arg0 + s];
    d[0] = ptrWord(buffers[s].allocated);
    d[1] = ptrWord(buffers[s].aligned);
  }
}

void Session::zeroBuffers(const std::vector<TensorSpec> &specs, size_t first,
                          std::vector<Buffer> *out) {
  for (size_t s = first; s < specs.size(); ++s) {
    void *p = allocBytes(specs[s].bytes());
    std::memset(p, 0, specs[s].bytes());
    out->push_back({p, p});
  }
}

void Session::freeBuffers(std::vector<Buffer> *buffers) {
  for (Buffer &b : *buffers)
    std::free(b.allocated);
  buffers->clear();
}

void Session::reset() {
  freeBuffers(&state);
  freeBuffers(&partial);
  boundaryPos = pending = emitted = decoded = 0;
}

Status Session::feed(const std::vector<int64_t> &tokens,
                     std::vector<float> *logits) {
  if (tokens.size() % batch)
    return Status::error(std::to_string(tokens.size()) +
                         " tokens cannot be split into " +
                         std::to_string(batch) + " equal rows");
  int64_t length = static_cast<int64_t>(tokens.size()) / batch;
  if (logits)
    logits->assign(tokens.size() * vocab, 0.0f);
  return feed(tokens.data(), length, logits ? logits->data() : nullptr);
}

Status Session::feed(const int64_t *tokens, int64_t length, float *logits) {
  if (!model.hasWeights())
    return Status::error("the model has no weights (load a safetensors file "
                         "or initialise random weights first)");
  if (length < 0)
    return Status::error("negative token count");
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < length; ++i) {
      int64_t id = tokens[b * length + i];
      if (id < 0 || id >= vocab)
        return Status::error(
            "token " + std::to_string(i) +
            (batch > 1 ? " of row " + std::to_string(b) : std::string()) +
            " is " + std::to_string(id) + ", outside [0, " +
            std::to_string(vocab) + ")");
    }
  const Manifest &m = model.manifest();
  for (size_t p = 0; p < m.params.size(); ++p) {
    int64_t word = ptrWord(model.param(p));
    chunkFrame.descs[1 + p][0] = chunkFrame.descs[1 + p][1] = word;
    if (useDecode)
      decodeFrame.descs[1 + p][0] = decodeFrame.descs[1 + p][1] = word;
  }

  int64_t i = 0, outPos = 0;
  while (i < length) {
    int64_t take = std::min(chunk - pending, length - i);
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(tokenBuf + b * chunk + pending, tokens + b * length + i,
                  take * 8);
    pending += take;
    i += take;
    if (pending < chunk)
      break;
    if (Status s = run(true, emitted, chunk, logits, length, outPos); !s)
      return s;
    outPos += chunk - emitted;
    boundaryPos += chunk;
    pending = emitted = decoded = 0;
  }
  if (pending > emitted) {
    if (useDecode && pending - emitted <= prefillLimit) {
      // Catch the partial state up (tokens a padded call covered before),
      // then the new tokens.
      for (int64_t t = decoded; t < pending; ++t) {
        float *out = logits && t >= emitted
                         ? logits + (outPos + t - emitted) * vocab
                         : nullptr;
        if (Status s = decodeToken(t, out, length * vocab); !s)
          return s;
      }
      decoded = pending;
    } else {
      for (int64_t b = 0; b < batch; ++b)
        std::memset(tokenBuf + b * chunk + pending, 0, (chunk - pending) * 8);
      if (Status s = run(false, emitted, pending, logits, length, outPos); !s)
        return s;
    }
    emitted = pending;
  }
  return Status::success();
}

/// Calls `fn` with `frame` and decodes its result descriptors; on a shape
/// mismatch frees everything the call returned and fails.
Status Session::invoke(const EntrySpec &entry, Model::PackedFn fn, Frame &frame,
                       std::vector<Result> *results) {
  std::fill(frame.resultWords.begin(), frame.resultWords.end(), 0);
  fn(frame.packed.data());
  results->clear();
  size_t w = 0;
  for (const TensorSpec &spec : entry.results) {
    const std::vector<int64_t> &words = frame.resultWords;
    size_t rank = spec.shape.size();
    Result r{wordPtr(words[w]), wordPtr(words[w + 1]), words[w + 2],
             std::vector<int64_t>(words.begin() + w + 3,
                                  words.begin() + w + 3 + rank),
             std::vector<int64_t>(words.begin() + w + 3 + rank,
                                  words.begin() + w + 3 + 2 * rank)};
    results->push_back(std::move(r));
    w += 3 + 2 * rank;
  }
  std::string error;
  for (size_t j = 0; j < results->size() && error.empty(); ++j)
    if ((*results)[j].sizes != entry.results[j].shape || !(*results)[j].aligned)
      error = "entry '" + entry.name + "' returned result '" +
              entry.results[j].name + "' with an unexpected shape";
  if (error.empty())
    return Status::success();
  std::vector<void *> all;
  for (const Result &r : *results)
    all.push_back(r.allocated);
  release(all, inputs());
  return Status::error(error + "; the library does not match its manifest");
}

/// Every buffer a call may take as an argument (never freed by a call).
std::vector<void *> Session::inputs() const {
  std::vector<void *> in = {tokenBuf, decodeTok};
  for (size_t p = 0; p < model.manifest().params.size(); ++p)
    in.push_back(const_cast<float *>(model.param(p)));
  for (const Buffer &b : state)
    in.push_back(b.allocated);
  for (const Buffer &b : partial)
    in.push_back(b.allocated);
  return in;
}

/// Frees the distinct non-null `candidates` that are not in `keep`.
void Session::release(std::vector<void *> candidates,
                      const std::vector<void *> &keep) const {
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  for (void *p : candidates)
    if (p && std::find(keep.begin(), keep.end(), p) == keep.end())
      std::free(p);
}

/// Results 1.. replace `target` (each in its own contiguous buffer, owned
/// exactly once); the old target buffers and everything else the call
/// returned (logits, aliases) are freed unless they are still inputs.
void Session::adopt(const EntrySpec &entry, const std::vector<Result> &results,
                    std::vector<Buffer> *target) {
  std::vector<void *> in = inputs();
  std::vector<Buffer> next;
  std::vector<void *> taken;
  for (size_t j = 1; j < results.size(); ++j) {
    const Result &r = results[j];
    const TensorSpec &spec = entry.results[j];
    size_t elem = elemTypeSize(spec.type);
    bool fresh = std::find(in.begin(), in.end(), r.allocated) == in.end();
    bool shared =
        std::find(taken.begin(), taken.end(), r.allocated) != taken.end();
    // An old target buffer passed through is fine to keep (ownership
    // moves); any other input and a buffer already taken are copied.
    bool oldTarget = false;
    for (const Buffer &b : *target)
      oldTarget |= b.allocated == r.allocated;
    bool ownable = (fresh || oldTarget) && !shared && r.offset == 0 &&
                   isContiguous(r.sizes, r.strides);
    if (ownable) {
      next.push_back({r.allocated, r.aligned});
      taken.push_back(r.allocated);
      continue;
    }
    void *copy = allocBytes(spec.bytes());
    gather(static_cast<uint8_t *>(copy),
           static_cast<const uint8_t *>(r.aligned) +
               r.offset * static_cast<int64_t>(elem),
           r.sizes, r.strides, elem);
    next.push_back({copy, copy});
    taken.push_back(copy);
  }
  std::vector<void *> candidates;
  for (const Result &r : results)
    candidates.push_back(r.allocated);
  for (const Buffer &b : *target)
    candidates.push_back(b.allocated);
  *target = std::move(next);
  std::vector<void *> keep = inputs(); // includes the new target
  release(candidates, keep);
}

Status Session::run(bool commit, int64_t firstOut, int64_t endOut,
                    float *logits, int64_t outLength, int64_t outPos) {
  const Manifest &m = model.manifest();
  bool first = boundaryPos == 0;
  const EntrySpec &entry = first ? m.firstChunk : m.chunk;
  if (!first)
    bind(chunkFrame, 1 + m.params.size() + 1, state); // after kv_count
  kvCount = boundaryPos;
  std::vector<Result> results;
  if (Status s = invoke(entry, first ? model.firstChunkFn() : model.chunkFn(),
                        chunkFrame, &results);
      !s)
    return s;
  ++numCalls;

  // Logits of positions [firstOut, endOut) of every row.
  if (logits) {
    const Result &r = results[0];
    const float *src = static_cast<const float *>(r.aligned) + r.offset;
    bool contiguousRows = r.strides[2] == 1;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = firstOut; t < endOut; ++t) {
        float *dst =
            logits + ((b * outLength) + outPos + (t - firstOut)) * vocab;
        const float *row = src + b * r.strides[0] + t * r.strides[1];
        if (contiguousRows)
          std::memcpy(dst, row, vocab * sizeof(float));
        else
          for (int64_t v = 0; v < vocab; ++v)
            dst[v] = row[v * r.strides[2]];
      }
  }

  if (!commit) {
    std::vector<void *> candidates;
    for (const Result &r : results)
      candidates.push_back(r.allocated);
    release(candidates, inputs());
    return Status::success();
  }
  // The boundary moved: the partial state restarts (the decode entry takes
  // the TSN / CEMA state from the boundary state at r = 0 and masks the
  // stale partial slots).
  adopt(entry, results, &state);
  return Status::success();
}

/// Runs pending token `t` (position boundaryPos + t) through the decode
/// entry; `logits` (may be null) receives its [batch] rows of `vocab`
/// floats, `rowStride` floats apart.
Status Session::decodeToken(int64_t t, float *logits, int64_t rowStride) {
  const Manifest &m = model.manifest();
  // Before the first full chunk the boundary state is zero (the entry
  // masks its caches; zero memory reads as 0).
  if (state.empty())
    zeroBuffers(m.state, 1, &state);
  if (partial.empty())
    zeroBuffers(m.decodeState, 0, &partial);
  size_t stateArg0 = 1 + m.params.size() + 1;
  bind(decodeFrame, stateArg0, state);
  bind(decodeFrame, stateArg0 + state.size(), partial);
  for (int64_t b = 0; b < batch; ++b)
    decodeTok[b] = tokenBuf[b * chunk + t];
  kvCount = boundaryPos + t;
  std::vector<Result> results;
  if (Status s = invoke(m.decode, model.decodeFn(), decodeFrame, &results); !s)
    return s;
  ++numDecodeCalls;
  if (logits) {
    const Result &r = results[0];
    const float *src = static_cast<const float *>(r.aligned) + r.offset;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t v = 0; v < vocab; ++v)
        logits[b * rowStride + v] = src[b * r.strides[0] + v * r.strides[2]];
  }
  adopt(m.decode, results, &partial);
  return Status::success();
}

} // namespace gecko::rt
