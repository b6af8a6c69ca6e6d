//===- TinyModel.h - Small Gecko configs and inputs for tests ---*- C++ -*-===//
//
// Shared by the block and model reference tests: a tiny configuration whose
// sizes are not powers of two, random token ids and segment ids of a bos
// mask.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TEST_UNIT_REFERENCE_TINYMODEL_H
#define GECKO_TEST_UNIT_REFERENCE_TINYMODEL_H

#include "gecko/Reference/Block.h"
#include "gecko/Reference/Tensor.h"

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace gecko::ref::testutil {

/// A tiny config with sizes that are not powers of two: D 12 in 3 TSN
/// groups, 2 heads of dz 6 / dv 5, ffn 14, CEMA order 3, chunk 4, rope on
/// one head only; betas that make the decay visible over a few steps.
inline GeckoConfig tinyConfig() {
  GeckoConfig c;
  c.num_layers = 2;
  c.model_dim = 12;
  c.z_dim = 12;
  c.value_dim = 10;
  c.num_heads = 2;
  c.ffn_hidden_dim = 14;
  c.cema_ndim = 3;
  c.chunk_size = 4;
  c.vocab_size = 11;
  c.timenorm_num_groups = 3;
  c.timenorm_beta1 = 0.9;
  c.timenorm_beta2 = 0.99;
  c.layernorm_num_groups = 1;
  c.num_rope_heads = 1;
  c.bos_id = 1;
  return c;
}

/// Random non-bos tokens of shape (batch, length) with bos tokens at the
/// given (batch, position) pairs.
inline Tensor randomTokens(const GeckoConfig &cfg, int64_t batch,
                           int64_t length,
                           const std::vector<std::pair<int64_t, int64_t>> &bos,
                           std::mt19937_64 &rng) {
  std::uniform_int_distribution<int64_t> pick(0, cfg.vocab_size - 1);
  Tensor t({batch, length});
  for (double &v : t.data) {
    int64_t id;
    do
      id = pick(rng);
    while (id == cfg.bos_id);
    v = static_cast<double>(id);
  }
  for (auto [b, pos] : bos)
    t.at(b, pos) = static_cast<double>(cfg.bos_id);
  return t;
}

/// Segment ids of a (B, L) bos mask: its cumulative sum along each row.
inline Tensor segmentIdsOfBos(const Tensor &bos) {
  Tensor seg(bos.shape);
  for (int64_t b = 0; b < bos.dim(0); ++b) {
    double running = 0.0;
    for (int64_t t = 0; t < bos.dim(1); ++t)
      seg.at(b, t) = running += bos.at(b, t);
  }
  return seg;
}

} // namespace gecko::ref::testutil

#endif // GECKO_TEST_UNIT_REFERENCE_TINYMODEL_H
