//===- Block.h - NFFN, MEGA and the GeckoBlock (spec §7-§9) -----*- C++ -*-===//
//
// One Gecko layer: the MEGA block (TSN -> CEMA -> RMS -> z split / v / r ->
// rotary SCA + AWM -> output projections) followed by the normalized
// feed-forward network, with the per-layer streaming cache of spec §9.
// Parameters live in a name -> Tensor map with the reference state-dict names
// ("layers.0.mega.cema.alpha"); block functions take the name prefix.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_REFERENCE_BLOCK_H
#define GECKO_REFERENCE_BLOCK_H

#include "gecko/Reference/Tensor.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gecko::ref {

/// Model hyper-parameters, named as the reference ModelConf fields.
struct GeckoConfig {
  int64_t num_layers = 2;
  int64_t model_dim = 32;
  int64_t z_dim = 16;
  int64_t value_dim = 32;
  int64_t num_heads = 2;
  int64_t ffn_hidden_dim = 64;
  int64_t cema_ndim = 4;
  int64_t chunk_size = 8;
  int64_t vocab_size = 64;
  int64_t timenorm_num_groups = 4;
  double timenorm_beta1 = 0.999;
  double timenorm_beta2 = 0.9999;
  int64_t layernorm_num_groups = 1;
  double norm_eps = 1e-5;
  double rope_base = 500000.0;
  std::optional<int64_t> num_rope_heads; // absent = all heads
  int64_t bos_id = 1;

  int64_t zHeadDim() const { return z_dim / num_heads; }
  int64_t vHeadDim() const { return value_dim / num_heads; }
  int64_t ropeHeads() const { return num_rope_heads.value_or(num_heads); }
};

/// Why a config cannot describe a model (divisibility, ranges), or nullopt.
std::optional<std::string> validateConfig(const GeckoConfig &config);

/// A value or the message of why it could not be computed. The reference
/// library has no LLVM dependency, hence no llvm::Expected here.
template <typename T> struct Checked {
  std::optional<T> value;
  std::string error;

  Checked(T v) : value(std::move(v)) {}
  static Checked failure(std::string message) {
    Checked c;
    c.error = std::move(message);
    return c;
  }
  explicit operator bool() const { return value.has_value(); }
  T &operator*() { return *value; }
  const T &operator*() const { return *value; }
  T *operator->() { return &*value; }

private:
  Checked() = default;
};

using ParamMap = std::map<std::string, Tensor>;
using ParamShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

/// Names (prefix + "mega.*" / "nffn.*") and shapes of one block's parameters,
/// in the reference order.
ParamShapes blockParamShapes(const GeckoConfig &config,
                             const std::string &prefix);
/// Every shape in `shapes` must be present in `params` with that shape.
std::optional<std::string> checkParams(const ParamMap &params,
                                       const ParamShapes &shapes);

/// Streaming state of one layer (spec §9); absent members are absent in the
/// reference too (fresh stream, no memory before the first full chunk).
struct LayerCache {
  std::optional<Tensor> scaK;   // (B,T,H,dz) rotated keys
  std::optional<Tensor> v;      // (B,T,H,dv) values shared by SCA and AWM
  int64_t kvCount = 0;          // tokens processed = next rope position
  std::optional<Tensor> awmK;   // (B,H,T,dz)
  std::optional<Tensor> memory; // (B,H,dz,dv)
  std::optional<Tensor> lnt;    // (B,H,dz), may hold -inf
  std::optional<Tensor> normCount, normMean, normVar; // (B,), (B,G), (B,G)
  std::optional<Tensor> hx;                           // (B,D,N,2)
};

/// Segment inputs of one call (null = absent): bos (B,L) 0/1, seg (B,L) ids,
/// and the model-level segment cache prevSeg (B,T), prevSegCount (B,).
struct BlockSegments {
  const Tensor *bos = nullptr;
  const Tensor *seg = nullptr;
  const Tensor *prevSeg = nullptr;
  const Tensor *prevSegCount = nullptr;
};

/// Why a call of `length` tokens may not follow `cache` (the §9 call
/// constraints; null cache = a single call on a fresh stream), or nullopt.
std::optional<std::string> checkCallConstraints(const GeckoConfig &config,
                                                const LayerCache *cache,
                                                int64_t length);

/// MEGA block, x (B,L,D) -> (B,L,D), reading prefix + "mega.*" (the whole
/// block's parameters are checked). With a cache, the call continues the
/// stream it holds (rope positions from cache->kvCount) and the cache is
/// updated in place; null = fresh stream, no cache kept. Bad inputs and §9
/// call-constraint violations are reported, not asserted.
Checked<Tensor> megaForward(const ParamMap &params, const std::string &prefix,
                            const GeckoConfig &config, const Tensor &x,
                            const BlockSegments &segments, LayerCache *cache);

/// NFFN: fc2(silu(fc1 n) * fc3 n) + residual, n = LayerNorm(x).
Tensor nffnForward(const ParamMap &params, const std::string &prefix,
                   const GeckoConfig &config, const Tensor &x,
                   const Tensor &residual);

struct NffnGrads {
  Tensor x;        // through the layer norm (the residual's grad is dy)
  ParamMap params; // prefix + "norm.weight", ...
};
NffnGrads nffnBackward(const ParamMap &params, const std::string &prefix,
                       const GeckoConfig &config, const Tensor &x,
                       const Tensor &dy);

/// GeckoBlock = NFFN(MEGA(x)) with residual; prefix e.g. "layers.0.".
Checked<Tensor> blockForward(const ParamMap &params, const std::string &prefix,
                             const GeckoConfig &config, const Tensor &x,
                             const BlockSegments &segments, LayerCache *cache);

struct BlockGrads {
  Tensor x;
  ParamMap params; // every block parameter, by its full name
};
/// Training backward (fresh stream, no cache; bos/seg optional) for the
/// upstream gradient dy of the block output.
Checked<BlockGrads> blockBackward(const ParamMap &params,
                                  const std::string &prefix,
                                  const GeckoConfig &config, const Tensor &x,
                                  const Tensor *bos, const Tensor *seg,
                                  const Tensor &dy);

} // namespace gecko::ref

#endif // GECKO_REFERENCE_BLOCK_H
