//===- BlockModelCases.cpp - Reference backend: block and model -----------===//
//
// Runs the "block" and "model" golden cases through the reference library's
// GeckoBlock / model, exactly as shared/oracle/verify_golden.py consumes
// them: training cases record outputs and every gradient, streaming cases
// record each call's outputs and caches (continuing from the *stored* cache
// of the previous call) or the final cache of the whole schedule.
//
//===----------------------------------------------------------------------===//

#include "BlockModelCases.h"

#include "gecko/Reference/Block.h"
#include "gecko/Reference/Model.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace llvm;
using gecko::ref::Tensor;

namespace gecko::conform {
namespace {

Error failure(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

Tensor scalar(double value) {
  return Tensor(std::vector<int64_t>{}, std::vector<double>{value});
}

/// The tiny model config of metadata "config" (JSON of the oracle's
/// GeckoConfig).
Expected<ref::GeckoConfig> parseConfig(const GoldenCase &c) {
  Expected<std::string> text = c.meta("config");
  if (!text)
    return text.takeError();
  Expected<json::Value> value = json::parse(*text);
  if (!value)
    return value.takeError();
  const json::Object *obj = value->getAsObject();
  if (!obj)
    return failure("metadata 'config' is not a JSON object");
  ref::GeckoConfig cfg;
  std::string missing;
  auto readInt = [&](const char *key, int64_t &field) {
    if (std::optional<int64_t> v = obj->getInteger(key))
      field = *v;
    else
      missing += std::string(missing.empty() ? "" : ", ") + key;
  };
  auto readReal = [&](const char *key, double &field) {
    if (std::optional<double> v = obj->getNumber(key))
      field = *v;
    else
      missing += std::string(missing.empty() ? "" : ", ") + key;
  };
  readInt("num_layers", cfg.num_layers);
  readInt("model_dim", cfg.model_dim);
  readInt("z_dim", cfg.z_dim);
  readInt("value_dim", cfg.value_dim);
  readInt("num_heads", cfg.num_heads);
  readInt("ffn_hidden_dim", cfg.ffn_hidden_dim);
  readInt("cema_ndim", cfg.cema_ndim);
  readInt("chunk_size", cfg.chunk_size);
  readInt("vocab_size", cfg.vocab_size);
  readInt("timenorm_num_groups", cfg.timenorm_num_groups);
  readReal("timenorm_beta1", cfg.timenorm_beta1);
  readReal("timenorm_beta2", cfg.timenorm_beta2);
  readInt("layernorm_num_groups", cfg.layernorm_num_groups);
  readReal("norm_eps", cfg.norm_eps);
  readReal("rope_base", cfg.rope_base);
  readInt("bos_id", cfg.bos_id);
  if (!missing.empty())
    return failure("metadata 'config' lacks or mistypes: " + missing);
  if (const json::Value *rope = obj->get("num_rope_heads")) {
    if (std::optional<int64_t> v = rope->getAsInteger())
      cfg.num_rope_heads = *v;
    else if (!rope->getAsNull())
      return failure("metadata 'config': num_rope_heads is neither an "
                     "integer nor null");
  }
  if (std::optional<std::string> err = ref::validateConfig(cfg))
    return failure(*err);
  return cfg;
}

/// The call lengths of metadata "schedule".
Expected<std::vector<int64_t>> parseSchedule(const GoldenCase &c) {
  Expected<std::string> text = c.meta("schedule");
  if (!text)
    return text.takeError();
  Expected<json::Value> value = json::parse(*text);
  if (!value)
    return value.takeError();
  std::vector<int64_t> lengths;
  const json::Array *arr = value->getAsArray();
  if (!arr)
    return failure("metadata 'schedule' is not a JSON list");
  for (const json::Value &v : *arr) {
    std::optional<int64_t> n = v.getAsInteger();
    if (!n || *n < 1)
      return failure("metadata 'schedule' holds a non-positive length");
    lengths.push_back(*n);
  }
  return lengths;
}

/// Every "param.<name>" tensor of the case, keyed by <name>.
ref::ParamMap parameters(const GoldenCase &c) {
  ref::ParamMap params;
  for (const auto &[key, t] : c.tensors)
    if (StringRef(key).starts_with("param."))
      params[key.substr(6)] = t;
  return params;
}

/// Records the tensors a layer cache holds under `prefix` + golden name.
void recordLayerCache(CaseResults &r, const std::string &prefix,
                      const ref::LayerCache &cache) {
  auto put = [&](const char *name, const std::optional<Tensor> &t) {
    if (t)
      r.add(prefix + name, *t);
  };
  put("sca_k", cache.scaK);
  put("v", cache.v);
  r.add(prefix + "kv_count", scalar(static_cast<double>(cache.kvCount)));
  put("awm_k", cache.awmK);
  put("memory", cache.memory);
  put("lnt", cache.lnt);
  put("norm_count", cache.normCount);
  put("norm_mean", cache.normMean);
  put("norm_var", cache.normVar);
  put("hx", cache.hx);
}

/// The layer cache stored in the file under `prefix` (absent keys = absent).
Expected<ref::LayerCache> storedLayerCache(const GoldenCase &c,
                                           const std::string &prefix) {
  auto get = [&](const char *name) -> std::optional<Tensor> {
    if (const Tensor *t = c.find(prefix + name))
      return *t;
    return std::nullopt;
  };
  Expected<const Tensor *> kv = c.require(prefix + "kv_count");
  if (!kv)
    return kv.takeError();
  ref::LayerCache cache;
  cache.kvCount = static_cast<int64_t>((**kv)[0]);
  cache.scaK = get("sca_k");
  cache.v = get("v");
  cache.awmK = get("awm_k");
  cache.memory = get("memory");
  cache.lnt = get("lnt");
  cache.normCount = get("norm_count");
  cache.normMean = get("norm_mean");
  cache.normVar = get("norm_var");
  cache.hx = get("hx");
  return cache;
}

/// Segment ids of one training call: cumsum of the bos mask.
Tensor cumsumRows(const Tensor &bos) {
  Tensor seg(bos.shape);
  for (int64_t b = 0; b < bos.dim(0); ++b) {
    double running = 0.0;
    for (int64_t t = 0; t < bos.dim(1); ++t)
      seg.at(b, t) = running += bos.at(b, t);
  }
  return seg;
}

Error runBlockTrain(const GoldenCase &c, CaseResults &r,
                    const ref::GeckoConfig &cfg, const ref::ParamMap &params) {
  Expected<const Tensor *> x = c.require("in.x");
  if (!x)
    return x.takeError();
  ref::BlockSegments segs;
  segs.bos = c.find("in.bos_mask");
  segs.seg = c.find("in.segment_idx");
  ref::Checked<Tensor> y = ref::blockForward(params, "", cfg, **x, segs,
                                             /*cache=*/nullptr);
  if (!y)
    return failure("block forward: " + y.error);
  Tensor dy = c.upstreamGrad("out.y", *y);
  r.add("out.y", *y);
  ref::Checked<ref::BlockGrads> g =
      ref::blockBackward(params, "", cfg, **x, segs.bos, segs.seg, dy);
  if (!g)
    return failure("block backward: " + g.error);
  r.add("grad.x", g->x);
  for (auto &[name, grad] : g->params)
    r.add("grad." + name, grad);
  return Error::success();
}

Error runBlockStream(const GoldenCase &c, CaseResults &r,
                     const ref::GeckoConfig &cfg, const ref::ParamMap &params) {
  Expected<std::vector<int64_t>> schedule = parseSchedule(c);
  if (!schedule)
    return schedule.takeError();
  ref::LayerCache cache;
  for (size_t i = 0; i < schedule->size(); ++i) {
    std::string pre = formatv("call{0}.", i).str();
    Expected<const Tensor *> x = c.require(pre + "in.x");
    if (!x)
      return x.takeError();
    if ((*x)->rank() != 3 || (*x)->dim(1) != (*schedule)[i])
      return failure(pre + "in.x does not hold the scheduled length");
    if (const Tensor *start = c.find(pre + "in.start"))
      if (static_cast<int64_t>((*start)[0]) != cache.kvCount)
        return failure(pre + "in.start disagrees with the cache's kv_count");
    ref::BlockSegments segs;
    segs.bos = c.find(pre + "in.bos_mask");
    segs.seg = c.find(pre + "in.segment_idx");
    segs.prevSeg = c.find(pre + "in.prev_segment_idx");
    segs.prevSegCount = c.find(pre + "in.prev_segment_count");
    ref::Checked<Tensor> y =
        ref::blockForward(params, "", cfg, **x, segs, &cache);
    if (!y)
      return failure(pre + " block forward: " + y.error);
    r.add(pre + "out.y", *y);
    recordLayerCache(r, pre + "cache_out.", cache);
    // Continue from the stored cache: tests the stored state, not only ours.
    Expected<ref::LayerCache> stored = storedLayerCache(c, pre + "cache_out.");
    if (!stored)
      return stored.takeError();
    cache = std::move(*stored);
  }
  Expected<const Tensor *> fullX = c.require("full.in.x");
  if (!fullX)
    return fullX.takeError();
  Expected<const Tensor *> fullBos = c.require("full.in.bos_mask");
  if (!fullBos)
    return fullBos.takeError();
  Tensor seg = cumsumRows(**fullBos);
  ref::BlockSegments segs;
  segs.bos = *fullBos;
  segs.seg = &seg;
  ref::Checked<Tensor> y = ref::blockForward(params, "", cfg, **fullX, segs,
                                             /*cache=*/nullptr);
  if (!y)
    return failure("full block forward: " + y.error);
  r.add("full.out.y", *y);
  return Error::success();
}

Expected<bool> parseMultiSegments(const GoldenCase &c) {
  Expected<std::string> text = c.meta("multi_segments");
  if (!text)
    return text.takeError();
  StringRef s = StringRef(*text).trim();
  if (s == "true" || s == "True" || s == "1")
    return true;
  if (s == "false" || s == "False" || s == "0")
    return false;
  return failure("metadata 'multi_segments' is not a boolean: " + s);
}

} // namespace

Error runReferenceBlockCase(const GoldenCase &c, CaseResults &r) {
  Expected<ref::GeckoConfig> cfg = parseConfig(c);
  if (!cfg)
    return cfg.takeError();
  ref::ParamMap params = parameters(c);
  if (StringRef(c.variant).starts_with("train"))
    return runBlockTrain(c, r, *cfg, params);
  return runBlockStream(c, r, *cfg, params);
}

Error runReferenceModelCase(const GoldenCase &c, CaseResults &r) {
  Expected<ref::GeckoConfig> cfg = parseConfig(c);
  if (!cfg)
    return cfg.takeError();
  Expected<bool> multi = parseMultiSegments(c);
  if (!multi)
    return multi.takeError();
  Expected<const Tensor *> tokens = c.require("in.tokens");
  if (!tokens)
    return tokens.takeError();
  ref::ParamMap params = parameters(c);

  if (StringRef(c.variant).starts_with("train")) {
    ref::Checked<Tensor> logits =
        ref::modelForward(params, *cfg, **tokens, *multi, nullptr);
    if (!logits)
      return failure("model forward: " + logits.error);
    Tensor dlogits = c.upstreamGrad("out.logits", *logits);
    r.add("out.logits", *logits);
    ref::Checked<ref::ParamMap> grads =
        ref::modelBackward(params, *cfg, **tokens, *multi, dlogits);
    if (!grads)
      return failure("model backward: " + grads.error);
    for (auto &[name, g] : *grads)
      r.add("grad." + name, g);
    return Error::success();
  }

  Expected<std::vector<int64_t>> schedule = parseSchedule(c);
  if (!schedule)
    return schedule.takeError();
  const Tensor &all = **tokens;
  if (all.rank() != 2)
    return failure("in.tokens is not (B, L)");
  ref::ModelCache cache = ref::emptyModelCache(*cfg);
  std::optional<Tensor> logits;
  int64_t pos = 0;
  for (int64_t n : *schedule) {
    if (pos + n > all.dim(1))
      return failure("metadata 'schedule' runs past the tokens");
    ref::Checked<Tensor> part = ref::modelForward(
        params, *cfg, ref::slice(all, 1, pos, pos + n), *multi, &cache);
    if (!part)
      return failure(formatv("model call at position {0}: ", pos) + part.error);
    logits = logits ? ref::concat(*logits, *part, 1) : *part;
    pos += n;
  }
  if (!logits)
    return failure("metadata 'schedule' is empty");
  r.add("out.logits", *logits);
  for (size_t i = 0; i < cache.layers.size(); ++i)
    recordLayerCache(r, formatv("cache.layers.{0}.", i).str(), cache.layers[i]);
  if (cache.outNormCount) {
    r.add("cache.out_norm_count", *cache.outNormCount);
    r.add("cache.out_norm_mean", *cache.outNormMean);
    r.add("cache.out_norm_var", *cache.outNormVar);
  }
  if (cache.prevSeg) {
    r.add("cache.prev_segment_idx", *cache.prevSeg);
    r.add("cache.prev_segment_count", *cache.prevSegCount);
  }
  r.add("cache.pos", scalar(static_cast<double>(cache.pos)));
  return Error::success();
}

} // namespace gecko::conform
