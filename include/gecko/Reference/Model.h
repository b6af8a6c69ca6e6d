//===- Model.h - The Gecko language model (spec §7, §9) ---------*- C++ -*-===//
//
// Embedding -> GeckoBlocks -> output TSN -> untied projection, in training
// (one call, no cache) or streaming form (a ModelCache carried across calls
// that obey the §9 call constraints). Multi-document mode derives bos masks
// and segment ids from the tokens.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_REFERENCE_MODEL_H
#define GECKO_REFERENCE_MODEL_H

#include "gecko/Reference/Block.h"

namespace gecko::ref {

/// Names and shapes of every model parameter, in the reference order
/// ("embed.weight", "layers.{i}.mega.*", "layers.{i}.nffn.*",
/// "output.final_norm.*", "output.output.weight").
ParamShapes modelParamShapes(const GeckoConfig &config);

/// Non-degenerate random parameters for tests, like the oracle's
/// random_params (not the training initialisation): matrices ~ N(0, 1/in)
/// (the embedding N(0, 1)), CEMA alpha/delta N(0, 0.25), theta N(0, 1),
/// gamma N(0, 1/N), every norm scale/bias, linear bias and z-split
/// gamma/beta N(0, 0.01). Deterministic for a seed.
ParamMap randomParams(const ParamShapes &shapes, uint64_t seed);

/// Streaming state of the whole model (spec §9).
struct ModelCache {
  int64_t pos = 0; // tokens processed
  std::vector<LayerCache> layers;
  std::optional<Tensor> outNormCount, outNormMean, outNormVar;
  std::optional<Tensor> prevSeg;      // (B,T) segment ids of the cached keys
  std::optional<Tensor> prevSegCount; // (B,) segment of the memory content
};

/// A fresh stream: one empty LayerCache per layer.
ModelCache emptyModelCache(const GeckoConfig &config);

/// Bos mask (B,L) and segment ids (B,L) of multi-document mode:
/// bos = tokens == bos_id, seg = cumsum(bos) + prevSeg[:, -1].
struct SegmentInfo {
  Tensor bos, seg;
};
SegmentInfo segmentInfo(const GeckoConfig &config, const Tensor &tokens,
                        const Tensor *prevSeg);

/// tokens (B,L) integral ids -> logits (B,L,vocab). With a cache the call
/// continues its stream and updates it in place (a failed call leaves it
/// unchanged); null = one call on a fresh stream.
Checked<Tensor> modelForward(const ParamMap &params, const GeckoConfig &config,
                             const Tensor &tokens, bool multiSegments,
                             ModelCache *cache);

/// Training backward (one call, no cache): the gradient of every parameter
/// (by name) for upstream dlogits (B,L,vocab).
Checked<ParamMap> modelBackward(const ParamMap &params,
                                const GeckoConfig &config, const Tensor &tokens,
                                bool multiSegments, const Tensor &dlogits);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_MODEL_H
