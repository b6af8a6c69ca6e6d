//===- ChunkAttention.h - Sliding chunk attention (spec §5) -----*- C++ -*-===//

#ifndef GECKO_REFERENCE_CHUNKATTENTION_H
#define GECKO_REFERENCE_CHUNKATTENTION_H

#include "gecko/Reference/Tensor.h"

namespace gecko::ref {

/// Optional inputs shared by both paths: cache prevK (B,P,H,dk), prevV
/// (B,P,H,dv), segment ids seg (B,L) and prevSeg (B,P). Null = absent.
struct AttentionExtras {
  const Tensor *prevK = nullptr;
  const Tensor *prevV = nullptr;
  const Tensor *seg = nullptr;
  const Tensor *prevSeg = nullptr;
};

/// Chunked path (L % chunkSize == 0): q, k (B,L,H,dk), v (B,L,H,dv) ->
/// (B,L,H,dv). Scale 1.0.
Tensor chunkAttentionForward(const Tensor &q, const Tensor &k, const Tensor &v,
                             int64_t chunkSize, const AttentionExtras &extras);
/// Short path (L < chunk: tail prefill or decode).
Tensor shortAttentionForward(const Tensor &q, const Tensor &k, const Tensor &v,
                             const AttentionExtras &extras);

struct AttentionGrads {
  Tensor q, k, v, prevK, prevV; // prevK/prevV empty without a cache
};
AttentionGrads chunkAttentionBackward(const Tensor &q, const Tensor &k,
                                      const Tensor &v, int64_t chunkSize,
                                      const AttentionExtras &extras,
                                      const Tensor &dy);
AttentionGrads shortAttentionBackward(const Tensor &q, const Tensor &k,
                                      const Tensor &v,
                                      const AttentionExtras &extras,
                                      const Tensor &dy);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_CHUNKATTENTION_H
