//===- WorkingMemory.h - Adaptive working memory (spec §6) ------*- C++ -*-===//

#ifndef GECKO_REFERENCE_WORKINGMEMORY_H
#define GECKO_REFERENCE_WORKINGMEMORY_H

#include "gecko/Reference/Tensor.h"

#include <optional>

namespace gecko::ref {

/// Optional state and segment inputs (null = absent): memory (B,H,S,V), lnt
/// (B,H,S) (may hold -inf), pending chunk prevK (B,H,P,S) / prevV (B,H,P,V),
/// seg (B,L), prevSeg (B,P), prevSegCount (B,).
struct MemoryExtras {
  const Tensor *memory = nullptr;
  const Tensor *lnt = nullptr;
  const Tensor *prevK = nullptr;
  const Tensor *prevV = nullptr;
  const Tensor *seg = nullptr;
  const Tensor *prevSeg = nullptr;
  const Tensor *prevSegCount = nullptr;
};

struct MemoryResult {
  Tensor y;                     // (B,H,L,V)
  std::optional<Tensor> memory; // absent while the memory is absent
  std::optional<Tensor> lnt;
};

/// q, k (B,H,L,S), v (B,H,L,V). Chunked path: L % chunkSize == 0.
MemoryResult memoryChunkedForward(const Tensor &q, const Tensor &k,
                                  const Tensor &v, int64_t chunkSize,
                                  const MemoryExtras &extras);
/// Short path: L < chunkSize (decode / tail).
MemoryResult memoryShortForward(const Tensor &q, const Tensor &k,
                                const Tensor &v, int64_t chunkSize,
                                const MemoryExtras &extras);

struct MemoryGrads {
  Tensor q, k, v, memory, lnt, prevK, prevV; // empty where the input is absent
};
/// Upstream dy (B,H,L,V) and optional grads of the output memory / lnt.
MemoryGrads memoryChunkedBackward(const Tensor &q, const Tensor &k,
                                  const Tensor &v, int64_t chunkSize,
                                  const MemoryExtras &extras, const Tensor &dy,
                                  const Tensor *dMemory, const Tensor *dLnt);
MemoryGrads memoryShortBackward(const Tensor &q, const Tensor &k,
                                const Tensor &v, int64_t chunkSize,
                                const MemoryExtras &extras, const Tensor &dy,
                                const Tensor *dMemory, const Tensor *dLnt);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_WORKINGMEMORY_H
