//===- Session.cpp - Stream tokens through a compiled Gecko model ---------===//
//
// The contract's streaming semantics (docs/runtime/model-runtime.md):
// full chunks go through "first_chunk" (the first) or "chunk" (kv_count =
// tokens consumed) and their state results replace the carried state; a
// trailing partial chunk is padded with id 0 and run from the boundary state,
// its state results discarded (every op is causal within a chunk, so the
// logits of the real positions are exact).
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
  const std::vector<TensorSpec> &args = m.chunk.args;
  descs.resize(args.size());
  descPtrs.assign(args.size(), nullptr);
  packed.assign(1 + args.size(), nullptr);
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].isScalar()) {
      packed[1 + i] = &kvCount;
      continue;
    }
    descs[i] = makeDescriptor(args[i].shape);
    descPtrs[i] = descs[i].data();
    packed[1 + i] = &descPtrs[i];
  }
  descs[0][0] = descs[0][1] = ptrWord(tokenBuf);
  size_t words = 0;
  for (const TensorSpec &r : m.chunk.results)
    words += 3 + 2 * r.shape.size();
  resultWords.assign(words, 0);
  packed[0] = resultWords.data();
}

Session::~Session() {
  freeState();
  for (void *p : scratch)
    std::free(p);
  std::free(tokenBuf);
}

void Session::freeState() {
  for (Buffer &b : state)
    std::free(b.allocated);
  state.clear();
}

void Session::reset() {
  freeState();
  boundaryPos = pending = emitted = 0;
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
  for (size_t p = 0; p < m.params.size(); ++p)
    descs[1 + p][0] = descs[1 + p][1] = ptrWord(model.param(p));

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
    pending = emitted = 0;
  }
  if (pending > emitted) {
    for (int64_t b = 0; b < batch; ++b)
      std::memset(tokenBuf + b * chunk + pending, 0, (chunk - pending) * 8);
    if (Status s = run(false, emitted, pending, logits, length, outPos); !s)
      return s;
    emitted = pending;
  }
  return Status::success();
}

Status Session::run(bool commit, int64_t firstOut, int64_t endOut,
                    float *logits, int64_t outLength, int64_t outPos) {
  const Manifest &m = model.manifest();
  bool first = boundaryPos == 0;
  const EntrySpec &entry = first ? m.firstChunk : m.chunk;
  size_t stateArg0 = 1 + m.params.size() + 1; // after tokens, params, kv
  // A padded call must leave the boundary state as it was, but the library
  // may update state arguments in place (see the class comment): it gets a
  // scratch copy.
  bool useScratch = !first && !commit;
  if (useScratch && scratch.size() != state.size()) {
    for (size_t s = 0; s < state.size(); ++s)
      scratch.push_back(allocBytes(m.state[s + 1].bytes()));
  }
  if (!first)
    for (size_t s = 0; s < state.size(); ++s) {
      std::vector<int64_t> &d = descs[stateArg0 + s];
      if (useScratch) {
        std::memcpy(scratch[s], state[s].aligned, m.state[s + 1].bytes());
        d[0] = d[1] = ptrWord(scratch[s]);
      } else {
        d[0] = ptrWord(state[s].allocated);
        d[1] = ptrWord(state[s].aligned);
      }
    }
  kvCount = boundaryPos;
  std::fill(resultWords.begin(), resultWords.end(), 0);
  (first ? model.firstChunkFn() : model.chunkFn())(packed.data());
  ++numCalls;

  // Decode the result descriptors.
  std::vector<Result> results;
  size_t w = 0;
  for (const TensorSpec &spec : entry.results) {
    size_t rank = spec.shape.size();
    Result r{wordPtr(resultWords[w]), wordPtr(resultWords[w + 1]),
             resultWords[w + 2],
             std::vector<int64_t>(resultWords.begin() + w + 3,
                                  resultWords.begin() + w + 3 + rank),
             std::vector<int64_t>(resultWords.begin() + w + 3 + rank,
                                  resultWords.begin() + w + 3 + 2 * rank)};
    results.push_back(std::move(r));
    w += 3 + 2 * rank;
  }

  // Buffers this call must not free: its inputs.
  std::vector<void *> inputs;
  inputs.push_back(tokenBuf);
  for (size_t p = 0; p < m.params.size(); ++p)
    inputs.push_back(const_cast<float *>(model.param(p)));
  for (const Buffer &b : state)
    inputs.push_back(b.allocated);
  inputs.insert(inputs.end(), scratch.begin(), scratch.end());
  auto isInput = [&](void *p) {
    return std::find(inputs.begin(), inputs.end(), p) != inputs.end();
  };
  auto release = [&](std::vector<void *> candidates,
                     const std::vector<void *> &keep) {
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()),
                     candidates.end());
    for (void *p : candidates)
      if (p && std::find(keep.begin(), keep.end(), p) == keep.end())
        std::free(p);
  };

  std::string error;
  for (size_t j = 0; j < results.size() && error.empty(); ++j)
    if (results[j].sizes != entry.results[j].shape || !results[j].aligned)
      error = "entry '" + entry.name + "' returned result '" +
              entry.results[j].name + "' with an unexpected shape";
  if (!error.empty()) {
    std::vector<void *> all;
    for (const Result &r : results)
      all.push_back(r.allocated);
    release(all, inputs);
    return Status::error(error + "; the library does not match its manifest");
  }

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

  std::vector<void *> candidates;
  for (const Result &r : results)
    candidates.push_back(r.allocated);
  if (!commit) {
    release(candidates, inputs);
    return Status::success();
  }

  // New state: results 1.., each in its own contiguous buffer.
  std::vector<Buffer> next;
  std::vector<void *> taken;
  for (size_t j = 1; j < results.size(); ++j) {
    const Result &r = results[j];
    const TensorSpec &spec = entry.results[j];
    size_t elem = elemTypeSize(spec.type);
    bool fresh = !isInput(r.allocated);
    bool shared =
        std::find(taken.begin(), taken.end(), r.allocated) != taken.end();
    // An old state buffer passed through is fine to keep (ownership moves);
    // parameters, tokens and a buffer already taken by another result are
    // copied.
    bool oldState = false;
    for (const Buffer &b : state)
      oldState |= b.allocated == r.allocated;
    bool ownable = (fresh || oldState) && !shared && r.offset == 0 &&
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
  for (const Buffer &b : state)
    candidates.push_back(b.allocated);
  std::vector<void *> keep = taken;
  keep.push_back(tokenBuf);
  keep.insert(keep.end(), scratch.begin(), scratch.end());
  for (size_t p = 0; p < m.params.size(); ++p)
    keep.push_back(const_cast<float *>(model.param(p)));
  state = std::move(next);
  release(candidates, keep);
  return Status::success();
}

} // namespace gecko::rt
