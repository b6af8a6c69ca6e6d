//===- Block.cpp - NFFN, MEGA and the GeckoBlock (spec §7-§9) -------------===//
//
// Follows the oracle's mega_block / nffn / gecko_block line by line; the
// backward pass recomputes the forward trace and chains the op-level
// backward functions in reverse.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/Block.h"

#include "gecko/Reference/ChunkAttention.h"
#include "gecko/Reference/ComplexEma.h"
#include "gecko/Reference/Linear.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/Rope.h"
#include "gecko/Reference/TimestepNorm.h"
#include "gecko/Reference/WorkingMemory.h"

#include <cmath>
#include <sstream>

namespace gecko::ref {

std::optional<std::string> validateConfig(const GeckoConfig &c) {
  std::ostringstream os;
  if (c.num_layers < 0 || c.model_dim <= 0 || c.z_dim <= 0 ||
      c.value_dim <= 0 || c.num_heads <= 0 || c.ffn_hidden_dim <= 0 ||
      c.cema_ndim <= 0 || c.chunk_size <= 0 || c.timenorm_num_groups <= 0 ||
      c.layernorm_num_groups <= 0)
    os << "sizes must be positive (num_layers non-negative); ";
  else {
    if (c.model_dim % c.timenorm_num_groups)
      os << "model_dim " << c.model_dim << " is not a multiple of "
         << "timenorm_num_groups " << c.timenorm_num_groups << "; ";
    if (c.model_dim % c.layernorm_num_groups)
      os << "model_dim " << c.model_dim << " is not a multiple of "
         << "layernorm_num_groups " << c.layernorm_num_groups << "; ";
    if (c.z_dim % c.num_heads || c.value_dim % c.num_heads)
      os << "z_dim " << c.z_dim << " and value_dim " << c.value_dim
         << " must be multiples of num_heads " << c.num_heads << "; ";
    if (c.ropeHeads() < 0 || c.ropeHeads() > c.num_heads)
      os << "num_rope_heads " << c.ropeHeads() << " outside [0, num_heads]; ";
    else if (c.ropeHeads() > 0 && c.zHeadDim() % 2)
      os << "rotary embedding needs an even z head dim, got " << c.zHeadDim()
         << "; ";
  }
  if (!(c.norm_eps > 0) || !(c.timenorm_beta1 > 0 && c.timenorm_beta1 < 1) ||
      !(c.timenorm_beta2 > 0 && c.timenorm_beta2 < 1) || !(c.rope_base > 0))
    os << "need eps > 0, 0 < beta < 1, rope_base > 0; ";
  std::string s = os.str();
  if (s.empty())
    return std::nullopt;
  return "invalid config: " + s.substr(0, s.size() - 2);
}

ParamShapes blockParamShapes(const GeckoConfig &c, const std::string &prefix) {
  int64_t d = c.model_dim, z = c.z_dim, e = c.value_dim, n = c.cema_ndim,
          f = c.ffn_hidden_dim;
  std::string m = prefix + "mega.", ff = prefix + "nffn.";
  return {
      {m + "timenorm.weight", {d}}, {m + "timenorm.bias", {d}},
      {m + "cema.alpha", {d, n}},   {m + "cema.delta", {d, n}},
      {m + "cema.theta", {d}},      {m + "cema.gamma", {d, n, 2}},
      {m + "rmsnorm.weight", {d}},  {m + "wv.weight", {e, d}},
      {m + "wv.bias", {e}},         {m + "wz.weight", {z, d}},
      {m + "wz.bias", {z}},         {m + "wr.weight", {e, d}},
      {m + "wr.bias", {e}},         {m + "wh1.weight", {d, d}},
      {m + "wh1.bias", {d}},        {m + "wh2.weight", {d, e}},
      {m + "gamma", {4, z}},        {m + "beta", {4, z}},
      {ff + "norm.weight", {d}},    {ff + "norm.bias", {d}},
      {ff + "fc1.weight", {f, d}},  {ff + "fc2.weight", {d, f}},
      {ff + "fc3.weight", {f, d}},
  };
}

static std::string shapeString(const std::vector<int64_t> &shape) {
  return Tensor(shape).shapeString();
}

std::optional<std::string> checkParams(const ParamMap &params,
                                       const ParamShapes &shapes) {
  for (const auto &[name, shape] : shapes) {
    auto it = params.find(name);
    if (it == params.end())
      return "missing parameter '" + name + "'";
    if (it->second.shape != shape)
      return "parameter '" + name + "' has shape " + it->second.shapeString() +
             ", expected " + shapeString(shape);
  }
  return std::nullopt;
}

std::optional<std::string> checkCallConstraints(const GeckoConfig &config,
                                                const LayerCache *cache,
                                                int64_t length) {
  int64_t c = config.chunk_size;
  std::ostringstream os;
  if (length < 1) {
    os << "a call needs at least one token, got " << length;
    return os.str();
  }
  if (!cache) {
    if (length >= c && length % c) {
      os << "a call of " << length << " tokens without cache must be shorter "
         << "than the chunk size " << c << " or a multiple of it";
      return os.str();
    }
    return std::nullopt;
  }
  int64_t start = cache->kvCount;
  if (length >= c && (start % c || length % c)) {
    os << "a call of " << length << " >= chunk size " << c << " tokens at "
       << "position " << start << " needs start and length multiples of " << c;
    return os.str();
  }
  if (length > 1 && length < c && start % c) {
    os << "a call of " << length << " tokens (1 < L < chunk size " << c
       << ") must start at a chunk boundary, not at position " << start;
    return os.str();
  }
  return std::nullopt;
}

namespace {

/// Shape checks of one (optional) tensor.
struct ShapeChecker {
  std::ostringstream os;
  void expect(const char *what, const Tensor *t, std::vector<int64_t> shape) {
    if (t && t->shape != shape)
      os << what << " has shape " << t->shapeString() << ", expected "
         << shapeString(shape) << "; ";
  }
  void expect(const char *what, const std::optional<Tensor> &t,
              std::vector<int64_t> shape) {
    expect(what, t ? &*t : nullptr, std::move(shape));
  }
  std::optional<std::string> result() const {
    std::string s = os.str();
    if (s.empty())
      return std::nullopt;
    return s.substr(0, s.size() - 2);
  }
};

/// Number of cached key/value tokens a consistent cache holds after
/// `kvCount` tokens: the last chunk plus the current partial one.
int64_t expectedCacheLength(int64_t kvCount, int64_t chunk) {
  if (kvCount == 0)
    return 0;
  if (kvCount % chunk == 0)
    return chunk;
  return kvCount > chunk ? chunk + kvCount % chunk : kvCount;
}

std::optional<std::string>
checkMegaCall(const ParamMap &params, const std::string &prefix,
              const GeckoConfig &config, const Tensor &x,
              const BlockSegments &segs, const LayerCache *cache) {
  if (auto err = validateConfig(config))
    return err;
  if (auto err = checkParams(params, blockParamShapes(config, prefix)))
    return err;
  if (x.rank() != 3 || x.dim(2) != config.model_dim)
    return "block input has shape " + x.shapeString() + ", expected (B, L, " +
           std::to_string(config.model_dim) + ")";
  int64_t b = x.dim(0), l = x.dim(1), h = config.num_heads,
          dz = config.zHeadDim(), dv = config.vHeadDim(), c = config.chunk_size;
  if (auto err = checkCallConstraints(config, cache, l))
    return err;
  ShapeChecker check;
  check.expect("bos mask", segs.bos, {b, l});
  check.expect("segment ids", segs.seg, {b, l});
  if (segs.bos)
    for (double v : segs.bos->data)
      if (v != 0.0 && v != 1.0) {
        check.os << "bos mask holds a value other than 0/1; ";
        break;
      }
  if (cache) {
    int64_t t = expectedCacheLength(cache->kvCount, c);
    if (cache->kvCount < 0)
      check.os << "negative kv_count; ";
    bool hasKv = cache->scaK || cache->v || cache->awmK;
    if (t > 0 && !(cache->scaK && cache->v && cache->awmK))
      check.os << "cache after " << cache->kvCount
               << " tokens lacks sca_k, v or awm_k; ";
    if (t == 0 && hasKv)
      check.os << "empty cache (kv_count 0) holds keys/values; ";
    check.expect("cache sca_k", cache->scaK, {b, t, h, dz});
    check.expect("cache v", cache->v, {b, t, h, dv});
    check.expect("cache awm_k", cache->awmK, {b, h, t, dz});
    bool wantMemory = cache->kvCount >= c;
    if (wantMemory != cache->memory.has_value() ||
        wantMemory != cache->lnt.has_value())
      check.os << "cache after " << cache->kvCount << " tokens must "
               << (wantMemory ? "" : "not ") << "hold memory and lnt; ";
    check.expect("cache memory", cache->memory, {b, h, dz, dv});
    check.expect("cache lnt", cache->lnt, {b, h, dz});
    int64_t g = config.timenorm_num_groups;
    check.expect("cache norm_count", cache->normCount, {b});
    check.expect("cache norm_mean", cache->normMean, {b, g});
    check.expect("cache norm_var", cache->normVar, {b, g});
    check.expect("cache hx", cache->hx,
                 {b, config.model_dim, config.cema_ndim, 2});
    if (segs.seg && t > 0 && (!segs.prevSeg || !segs.prevSegCount))
      check.os << "segment ids with a non-empty cache need prev_seg and "
               << "prev_segment_count; ";
    if (segs.seg && t > 0)
      check.expect("prev_seg", segs.prevSeg, {b, t});
  } else if (segs.prevSeg || segs.prevSegCount) {
    check.os << "prev_seg / prev_segment_count given without a cache; ";
  }
  check.expect("prev_segment_count", segs.prevSegCount, {b});
  return check.result();
}

const Tensor &param(const ParamMap &params, const std::string &name) {
  auto it = params.find(name);
  assert(it != params.end() && "parameters are checked before use");
  return it->second;
}

const Tensor *ptr(const std::optional<Tensor> &t) { return t ? &*t : nullptr; }

TimestepNormConfig tsnConfig(const GeckoConfig &c) {
  TimestepNormConfig t;
  t.numGroups = c.timenorm_num_groups;
  t.beta1 = c.timenorm_beta1;
  t.beta2 = c.timenorm_beta2;
  t.eps = c.norm_eps;
  return t;
}

/// Every intermediate of one MEGA call that the backward pass needs.
struct MegaTrace {
  Tensor tsn, ce, mx, zLin, vLin, v, rLin, r;
  ZSplitResult z;
  Tensor qh, kh, vh;    // (B,L,H,·); q, k rotated
  Tensor aqh, akh, vth; // (B,H,L,·)
  Tensor sca, awm, attn, out;
  RopeTable rope;
  CemaCoefficients coeffs;
  TimestepNormState tsnState;
  Tensor hx;
  std::optional<Tensor> memory, lnt;
  bool chunked = false;
};

MegaTrace runMega(const ParamMap &params, const std::string &pre,
                  const GeckoConfig &cfg, const Tensor &x,
                  const BlockSegments &segs, const LayerCache *cache) {
  int64_t b = x.dim(0), l = x.dim(1), h = cfg.num_heads, dz = cfg.zHeadDim(),
          dv = cfg.vHeadDim(), c = cfg.chunk_size;
  auto p = [&](const char *name) -> const Tensor & {
    return param(params, pre + name);
  };
  MegaTrace t;
  t.chunked = l >= c;
  TimestepNormResult tsn = timestepNormForward(
      x, p("timenorm.weight"), p("timenorm.bias"), tsnConfig(cfg),
      cache ? ptr(cache->normCount) : nullptr,
      cache ? ptr(cache->normMean) : nullptr,
      cache ? ptr(cache->normVar) : nullptr, segs.bos, nullptr);
  t.tsn = std::move(tsn.y);
  t.tsnState = std::move(tsn.state);

  t.coeffs = cemaCoefficients(p("cema.alpha"), p("cema.delta"), p("cema.theta"),
                              p("cema.gamma"));
  CemaResult ce = cemaForward(t.tsn.transposed(1, 2), t.coeffs,
                              cache ? ptr(cache->hx) : nullptr, segs.bos);
  t.ce = ce.y.transposed(1, 2);
  t.hx = std::move(ce.h);
  const Tensor &rmsWeight = p("rmsnorm.weight");
  t.mx = groupRmsNorm(t.ce, cfg.layernorm_num_groups, &rmsWeight, cfg.norm_eps);

  t.zLin = linearForward(t.mx, p("wz.weight"), &p("wz.bias"));
  t.z = zSplitForward(t.zLin, p("gamma"), p("beta"), h, cfg.norm_eps);
  t.vLin = linearForward(t.tsn, p("wv.weight"), &p("wv.bias"));
  t.v = siluForward(t.vLin);
  t.rLin = linearForward(t.mx, p("wr.weight"), &p("wr.bias"));
  t.r = siluForward(t.rLin);

  // Sliding chunk attention on rotated q, k.
  t.qh = t.z.q.reshaped({b, l, h, dz});
  t.kh = t.z.k.reshaped({b, l, h, dz});
  t.vh = t.v.reshaped({b, l, h, dv});
  if (cfg.ropeHeads() > 0) {
    int64_t start = cache ? cache->kvCount : 0;
    t.rope = ropeTable(dz, cfg.rope_base, start, start + l);
    t.qh = ropeForward(t.qh, t.rope, cfg.ropeHeads());
    t.kh = ropeForward(t.kh, t.rope, cfg.ropeHeads());
  }
  AttentionExtras ax;
  if (cache && cache->scaK) {
    ax.prevK = &*cache->scaK;
    ax.prevV = &*cache->v;
    ax.prevSeg = segs.prevSeg;
  }
  ax.seg = segs.seg;
  Tensor sca = t.chunked ? chunkAttentionForward(t.qh, t.kh, t.vh, c, ax)
                         : shortAttentionForward(t.qh, t.kh, t.vh, ax);
  t.sca = sca.reshaped({b, l, h * dv});

  // Adaptive working memory, sharing the value cache with attention.
  t.aqh = t.z.aq.reshaped({b, l, h, dz}).transposed(1, 2);
  t.akh = t.z.ak.reshaped({b, l, h, dz}).transposed(1, 2);
  t.vth = t.vh.transposed(1, 2);
  std::optional<Tensor> prevAwmV;
  if (cache && cache->v)
    prevAwmV = cache->v->transposed(1, 2);
  MemoryExtras mx;
  if (cache) {
    mx.memory = ptr(cache->memory);
    mx.lnt = ptr(cache->lnt);
    mx.prevK = ptr(cache->awmK);
    mx.prevV = ptr(prevAwmV);
  }
  mx.seg = segs.seg;
  mx.prevSeg = segs.prevSeg;
  mx.prevSegCount = segs.prevSegCount;
  MemoryResult awm = t.chunked
                         ? memoryChunkedForward(t.aqh, t.akh, t.vth, c, mx)
                         : memoryShortForward(t.aqh, t.akh, t.vth, c, mx);
  t.awm = awm.y.transposed(1, 2).reshaped({b, l, h * dv});
  t.memory = std::move(awm.memory);
  t.lnt = std::move(awm.lnt);

  t.attn = add(multiply(t.sca, t.r), t.awm);
  t.out = add(add(linearForward(t.mx, p("wh1.weight"), &p("wh1.bias")),
                  linearForward(t.attn, p("wh2.weight"), nullptr)),
              x);
  return t;
}

/// The §9 cache update after a call of L tokens (trace `t`).
void updateCache(LayerCache &cache, MegaTrace &t, int64_t chunk) {
  int64_t l = t.qh.dim(1);
  Tensor sk, v, ak;
  if (t.chunked) {
    sk = slice(t.kh, 1, l - chunk, l);
    v = slice(t.vh, 1, l - chunk, l);
    ak = slice(t.akh, 2, l - chunk, l);
  } else {
    sk = cache.scaK ? concat(*cache.scaK, t.kh, 1) : t.kh;
    v = cache.v ? concat(*cache.v, t.vh, 1) : t.vh;
    ak = cache.awmK ? concat(*cache.awmK, t.akh, 2) : t.akh;
  }
  cache.kvCount += l;
  if (cache.kvCount % chunk == 0) {
    int64_t n = sk.dim(1);
    sk = slice(sk, 1, n - chunk, n);
    v = slice(v, 1, n - chunk, n);
    ak = slice(ak, 2, n - chunk, n);
  }
  cache.scaK = std::move(sk);
  cache.v = std::move(v);
  cache.awmK = std::move(ak);
  cache.memory = t.memory;
  cache.lnt = t.lnt;
  cache.normCount = t.tsnState.count;
  cache.normMean = t.tsnState.mean;
  cache.normVar = t.tsnState.var;
  cache.hx = t.hx;
}

} // namespace

Checked<Tensor> megaForward(const ParamMap &params, const std::string &prefix,
                            const GeckoConfig &config, const Tensor &x,
                            const BlockSegments &segments, LayerCache *cache) {
  if (auto err = checkMegaCall(params, prefix, config, x, segments, cache))
    return Checked<Tensor>::failure(*err);
  MegaTrace t = runMega(params, prefix + "mega.", config, x, segments, cache);
  if (cache)
    updateCache(*cache, t, config.chunk_size);
  return std::move(t.out);
}

Tensor nffnForward(const ParamMap &params, const std::string &prefix,
                   const GeckoConfig &config, const Tensor &x,
                   const Tensor &residual) {
  const Tensor &w = param(params, prefix + "norm.weight");
  const Tensor &b = param(params, prefix + "norm.bias");
  Tensor n =
      groupLayerNorm(x, config.layernorm_num_groups, &w, &b, config.norm_eps);
  Tensor h1 = linearForward(n, param(params, prefix + "fc1.weight"), nullptr);
  Tensor h3 = linearForward(n, param(params, prefix + "fc3.weight"), nullptr);
  Tensor hid = multiply(siluForward(h1), h3);
  return add(linearForward(hid, param(params, prefix + "fc2.weight"), nullptr),
             residual);
}

NffnGrads nffnBackward(const ParamMap &params, const std::string &prefix,
                       const GeckoConfig &config, const Tensor &x,
                       const Tensor &dy) {
  const Tensor &w = param(params, prefix + "norm.weight");
  const Tensor &b = param(params, prefix + "norm.bias");
  const Tensor &fc1 = param(params, prefix + "fc1.weight");
  const Tensor &fc2 = param(params, prefix + "fc2.weight");
  const Tensor &fc3 = param(params, prefix + "fc3.weight");
  int64_t groups = config.layernorm_num_groups;
  Tensor n = groupLayerNorm(x, groups, &w, &b, config.norm_eps);
  Tensor h1 = linearForward(n, fc1, nullptr);
  Tensor h3 = linearForward(n, fc3, nullptr);
  Tensor s1 = siluForward(h1);
  Tensor hid = multiply(s1, h3);

  NffnGrads g;
  LinearGrads g2 = linearBackward(hid, fc2, false, dy);
  LinearGrads g1 =
      linearBackward(n, fc1, false, siluBackward(h1, multiply(g2.x, h3)));
  LinearGrads g3 = linearBackward(n, fc3, false, multiply(g2.x, s1));
  NormGrads gn = groupLayerNormBackward(x, groups, &w, &b, config.norm_eps,
                                        add(g1.x, g3.x));
  g.x = std::move(gn.x);
  g.params[prefix + "norm.weight"] = std::move(gn.weight);
  g.params[prefix + "norm.bias"] = std::move(gn.bias);
  g.params[prefix + "fc1.weight"] = std::move(g1.weight);
  g.params[prefix + "fc2.weight"] = std::move(g2.weight);
  g.params[prefix + "fc3.weight"] = std::move(g3.weight);
  return g;
}

Checked<Tensor> blockForward(const ParamMap &params, const std::string &prefix,
                             const GeckoConfig &config, const Tensor &x,
                             const BlockSegments &segments, LayerCache *cache) {
  Checked<Tensor> mega =
      megaForward(params, prefix, config, x, segments, cache);
  if (!mega)
    return mega;
  return nffnForward(params, prefix + "nffn.", config, *mega, *mega);
}

Checked<BlockGrads> blockBackward(const ParamMap &params,
                                  const std::string &prefix,
                                  const GeckoConfig &config, const Tensor &x,
                                  const Tensor *bos, const Tensor *seg,
                                  const Tensor &dy) {
  BlockSegments segs;
  segs.bos = bos;
  segs.seg = seg;
  if (auto err = checkMegaCall(params, prefix, config, x, segs, nullptr))
    return Checked<BlockGrads>::failure(*err);
  if (dy.shape != x.shape)
    return Checked<BlockGrads>::failure("block output gradient has shape " +
                                        dy.shapeString() + ", expected " +
                                        x.shapeString());
  const GeckoConfig &cfg = config;
  std::string pre = prefix + "mega.";
  auto p = [&](const char *name) -> const Tensor & {
    return param(params, pre + name);
  };
  int64_t b = x.dim(0), l = x.dim(1), h = cfg.num_heads, dz = cfg.zHeadDim(),
          dv = cfg.vHeadDim(), c = cfg.chunk_size;
  MegaTrace t = runMega(params, pre, cfg, x, segs, nullptr);

  BlockGrads grads;
  ParamMap &gp = grads.params;
  // NFFN with residual = its input.
  NffnGrads gf = nffnBackward(params, prefix + "nffn.", cfg, t.out, dy);
  gp.insert(gf.params.begin(), gf.params.end());
  Tensor dOut = add(gf.x, dy);

  // out = wh1(mx) + wh2(attn) + x.
  Tensor dx = dOut;
  LinearGrads gh1 = linearBackward(t.mx, p("wh1.weight"), true, dOut);
  LinearGrads gh2 = linearBackward(t.attn, p("wh2.weight"), false, dOut);
  gp[pre + "wh1.weight"] = std::move(gh1.weight);
  gp[pre + "wh1.bias"] = std::move(gh1.bias);
  gp[pre + "wh2.weight"] = std::move(gh2.weight);
  Tensor dMx = std::move(gh1.x);
  const Tensor &dAttn = gh2.x;

  // attn = sca * r + awm.
  Tensor dSca = multiply(dAttn, t.r);
  Tensor dR = multiply(dAttn, t.sca);

  // AWM.
  Tensor dAwm = dAttn.reshaped({b, l, h, dv}).transposed(1, 2);
  MemoryExtras mx;
  mx.seg = seg;
  MemoryGrads gm = t.chunked ? memoryChunkedBackward(t.aqh, t.akh, t.vth, c, mx,
                                                     dAwm, nullptr, nullptr)
                             : memoryShortBackward(t.aqh, t.akh, t.vth, c, mx,
                                                   dAwm, nullptr, nullptr);
  Tensor dAq = gm.q.transposed(1, 2).reshaped({b, l, h * dz});
  Tensor dAk = gm.k.transposed(1, 2).reshaped({b, l, h * dz});
  Tensor dV = gm.v.transposed(1, 2).reshaped({b, l, h * dv});

  // SCA on rotated q, k.
  AttentionExtras ax;
  ax.seg = seg;
  Tensor dScaH = dSca.reshaped({b, l, h, dv});
  AttentionGrads ga =
      t.chunked ? chunkAttentionBackward(t.qh, t.kh, t.vh, c, ax, dScaH)
                : shortAttentionBackward(t.qh, t.kh, t.vh, ax, dScaH);
  Tensor dQh = std::move(ga.q), dKh = std::move(ga.k);
  if (cfg.ropeHeads() > 0) {
    dQh = ropeBackward(dQh, t.rope, cfg.ropeHeads());
    dKh = ropeBackward(dKh, t.rope, cfg.ropeHeads());
  }
  addInPlace(dV, ga.v.reshaped({b, l, h * dv}));
  Tensor dQ = dQh.reshaped({b, l, h * dz});
  Tensor dK = dKh.reshaped({b, l, h * dz});

  // v = silu(wv(tsn)), r = silu(wr(mx)).
  LinearGrads gv =
      linearBackward(t.tsn, p("wv.weight"), true, siluBackward(t.vLin, dV));
  LinearGrads gr =
      linearBackward(t.mx, p("wr.weight"), true, siluBackward(t.rLin, dR));
  gp[pre + "wv.weight"] = std::move(gv.weight);
  gp[pre + "wv.bias"] = std::move(gv.bias);
  gp[pre + "wr.weight"] = std::move(gr.weight);
  gp[pre + "wr.bias"] = std::move(gr.bias);
  addInPlace(dMx, gr.x);
  Tensor dTsn = std::move(gv.x);

  // z split of wz(mx).
  ZSplitGrads gz = zSplitBackward(t.zLin, p("gamma"), p("beta"), h,
                                  cfg.norm_eps, &dQ, &dK, &dAq, &dAk);
  gp[pre + "gamma"] = std::move(gz.gamma);
  gp[pre + "beta"] = std::move(gz.beta);
  LinearGrads gzl = linearBackward(t.mx, p("wz.weight"), true, gz.z);
  gp[pre + "wz.weight"] = std::move(gzl.weight);
  gp[pre + "wz.bias"] = std::move(gzl.bias);
  addInPlace(dMx, gzl.x);

  // mx = RMS(ce).
  const Tensor &rmsWeight = p("rmsnorm.weight");
  NormGrads grms = groupRmsNormBackward(t.ce, cfg.layernorm_num_groups,
                                        &rmsWeight, cfg.norm_eps, dMx);
  gp[pre + "rmsnorm.weight"] = std::move(grms.weight);

  // ce = CEMA(tsn^T)^T (residual included).
  CemaScanGrads gc = cemaBackward(t.tsn.transposed(1, 2), t.coeffs, nullptr,
                                  bos, grms.x.transposed(1, 2), nullptr);
  addInPlace(dTsn, gc.x.transposed(1, 2));
  CemaParamGrads gcp = cemaCoefficientsBackward(
      p("cema.alpha"), p("cema.delta"), p("cema.theta"), p("cema.gamma"), gc);
  gp[pre + "cema.alpha"] = std::move(gcp.alpha);
  gp[pre + "cema.delta"] = std::move(gcp.delta);
  gp[pre + "cema.theta"] = std::move(gcp.theta);
  gp[pre + "cema.gamma"] = std::move(gcp.gamma);

  // tsn = TSN(x).
  TimestepNormGrads gt = timestepNormBackward(
      x, p("timenorm.weight"), p("timenorm.bias"), tsnConfig(cfg), nullptr,
      nullptr, nullptr, bos, nullptr, dTsn, nullptr, nullptr);
  gp[pre + "timenorm.weight"] = std::move(gt.weight);
  gp[pre + "timenorm.bias"] = std::move(gt.bias);
  addInPlace(dx, gt.x);
  grads.x = std::move(dx);
  return grads;
}

} // namespace gecko::ref
