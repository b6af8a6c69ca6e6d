//===- Model.cpp - The Gecko language model (spec §7, §9) -----------------===//
//
// Follows the oracle's gecko_model: embedding, blocks, output TSN and
// projection, plus the model-level segment cache rules of §9.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/Model.h"

#include "gecko/Reference/Linear.h"
#include "gecko/Reference/TimestepNorm.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace gecko::ref {

ParamShapes modelParamShapes(const GeckoConfig &config) {
  int64_t d = config.model_dim, v = config.vocab_size;
  ParamShapes shapes = {{"embed.weight", {v, d}}};
  for (int64_t i = 0; i < config.num_layers; ++i) {
    ParamShapes block =
        blockParamShapes(config, "layers." + std::to_string(i) + ".");
    shapes.insert(shapes.end(), block.begin(), block.end());
  }
  shapes.push_back({"output.final_norm.weight", {d}});
  shapes.push_back({"output.final_norm.bias", {d}});
  shapes.push_back({"output.output.weight", {v, d}});
  return shapes;
}

ParamMap randomParams(const ParamShapes &shapes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ParamMap params;
  for (const auto &[name, shape] : shapes) {
    size_t dot = name.rfind('.');
    std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    bool isCema = name.find(".cema.") != std::string::npos;
    double stddev = 0.1;
    if (leaf == "weight" && shape.size() == 2)
      stddev = name == "embed.weight" ? 1.0 : 1.0 / std::sqrt(shape[1]);
    else if (isCema && (leaf == "alpha" || leaf == "delta"))
      stddev = 0.5;
    else if (isCema && leaf == "theta")
      stddev = 1.0;
    else if (isCema && leaf == "gamma")
      stddev = 1.0 / std::sqrt(shape[1]);
    std::normal_distribution<double> dist(0.0, stddev);
    Tensor t(shape);
    for (double &v : t.data)
      v = dist(rng);
    params.emplace(name, std::move(t));
  }
  return params;
}

ModelCache emptyModelCache(const GeckoConfig &config) {
  ModelCache cache;
  cache.layers.resize(std::max<int64_t>(config.num_layers, 0));
  return cache;
}

SegmentInfo segmentInfo(const GeckoConfig &config, const Tensor &tokens,
                        const Tensor *prevSeg) {
  int64_t b = tokens.dim(0), l = tokens.dim(1);
  SegmentInfo info{Tensor({b, l}), Tensor({b, l})};
  for (int64_t i = 0; i < b; ++i) {
    double running = prevSeg ? prevSeg->at(i, prevSeg->dim(1) - 1) : 0.0;
    for (int64_t t = 0; t < l; ++t) {
      bool bos = tokens.at(i, t) == static_cast<double>(config.bos_id);
      info.bos.at(i, t) = bos ? 1.0 : 0.0;
      running += bos ? 1.0 : 0.0;
      info.seg.at(i, t) = running;
    }
  }
  return info;
}

namespace {

TimestepNormConfig outputNormConfig(const GeckoConfig &c) {
  TimestepNormConfig t;
  t.numGroups = c.timenorm_num_groups;
  t.beta1 = c.timenorm_beta1;
  t.beta2 = c.timenorm_beta2;
  t.eps = c.norm_eps;
  return t;
}

const Tensor *ptr(const std::optional<Tensor> &t) { return t ? &*t : nullptr; }

std::string layerPrefix(int64_t i) {
  return "layers." + std::to_string(i) + ".";
}

/// Config, parameters, token ids and the model-level cache pieces; the
/// blocks check their own caches.
std::optional<std::string> checkModelCall(const ParamMap &params,
                                          const GeckoConfig &config,
                                          const Tensor &tokens,
                                          const ModelCache *cache) {
  if (auto err = validateConfig(config))
    return err;
  if (config.vocab_size <= 0)
    return std::string("invalid config: vocab_size must be positive");
  if (auto err = checkParams(params, modelParamShapes(config)))
    return err;
  if (tokens.rank() != 2 || tokens.dim(1) < 1)
    return "tokens have shape " + tokens.shapeString() + ", expected (B, L)";
  for (double id : tokens.data)
    if (!(id >= 0 && id < config.vocab_size) || id != std::floor(id))
      return "token id " + std::to_string(id) + " is not an integer in [0, " +
             std::to_string(config.vocab_size) + ")";
  LayerCache position;
  if (cache) {
    position.kvCount = cache->pos;
    if (static_cast<int64_t>(cache->layers.size()) != config.num_layers)
      return "cache holds " + std::to_string(cache->layers.size()) +
             " layers, the config " + std::to_string(config.num_layers);
    for (const LayerCache &layer : cache->layers)
      if (layer.kvCount != cache->pos)
        return "layer cache kv_count " + std::to_string(layer.kvCount) +
               " differs from the model position " + std::to_string(cache->pos);
    if (cache->prevSeg.has_value() != cache->prevSegCount.has_value())
      return std::string(
          "cache holds only one of prev_seg and prev_segment_count");
    int64_t b = tokens.dim(0);
    if (cache->prevSeg &&
        (cache->prevSeg->rank() != 2 || cache->prevSeg->dim(0) != b ||
         cache->prevSeg->dim(1) < 1))
      return "cache prev_seg has shape " + cache->prevSeg->shapeString();
    if (cache->prevSegCount &&
        cache->prevSegCount->shape != std::vector<int64_t>{b})
      return "cache prev_segment_count has shape " +
             cache->prevSegCount->shapeString();
  }
  return checkCallConstraints(config, cache ? &position : nullptr,
                              tokens.dim(1));
}

/// Everything a forward pass computes that its caller may want.
struct ModelTrace {
  std::vector<Tensor> layerInputs;
  Tensor finalX, normed, logits;
  TimestepNormState outNorm;
  std::optional<SegmentInfo> segments;
};

Checked<ModelTrace> runModel(const ParamMap &params, const GeckoConfig &config,
                             const Tensor &tokens, bool multiSegments,
                             ModelCache *cache) {
  if (auto err = checkModelCall(params, config, tokens, cache))
    return Checked<ModelTrace>::failure(*err);
  ModelTrace trace;
  BlockSegments segs;
  const Tensor *prevSeg = cache ? ptr(cache->prevSeg) : nullptr;
  if (multiSegments) {
    trace.segments = segmentInfo(config, tokens, prevSeg);
    segs.bos = &trace.segments->bos;
    segs.seg = &trace.segments->seg;
    segs.prevSeg = prevSeg;
    segs.prevSegCount = prevSeg ? ptr(cache->prevSegCount) : nullptr;
  }
  Tensor x = embeddingForward(params.at("embed.weight"), tokens);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    trace.layerInputs.push_back(x);
    Checked<Tensor> y = blockForward(params, layerPrefix(i), config, x, segs,
                                     cache ? &cache->layers[i] : nullptr);
    if (!y)
      return Checked<ModelTrace>::failure("layer " + std::to_string(i) + ": " +
                                          y.error);
    x = std::move(*y);
  }
  TimestepNormResult norm = timestepNormForward(
      x, params.at("output.final_norm.weight"),
      params.at("output.final_norm.bias"), outputNormConfig(config),
      cache ? ptr(cache->outNormCount) : nullptr,
      cache ? ptr(cache->outNormMean) : nullptr,
      cache ? ptr(cache->outNormVar) : nullptr, segs.bos, nullptr);
  trace.logits =
      linearForward(norm.y, params.at("output.output.weight"), nullptr);
  trace.finalX = std::move(x);
  trace.normed = std::move(norm.y);
  trace.outNorm = std::move(norm.state);
  return trace;
}

/// The model-level part of the §9 update: position, output-norm state and
/// the segment cache.
void updateModelCache(ModelCache &cache, const GeckoConfig &config,
                      ModelTrace &trace, int64_t length) {
  cache.pos += length;
  cache.outNormCount = trace.outNorm.count;
  cache.outNormMean = trace.outNorm.mean;
  cache.outNormVar = trace.outNorm.var;
  if (!trace.segments)
    return;
  const Tensor &seg = trace.segments->seg;
  Tensor ps, pc;
  if (!cache.prevSeg) {
    ps = seg;
    pc = slice(seg, 1, 0, 1).reshaped({seg.dim(0)});
  } else {
    ps = concat(*cache.prevSeg, seg, 1);
    pc = *cache.prevSegCount;
  }
  int64_t c = config.chunk_size;
  if (cache.pos % c == 0) {
    int64_t n = ps.dim(1);
    int64_t keep = std::max<int64_t>(n - c - 1, 0);
    pc = slice(ps, 1, keep, keep + 1).reshaped({ps.dim(0)});
    ps = slice(ps, 1, n - c, n);
  }
  cache.prevSeg = std::move(ps);
  cache.prevSegCount = std::move(pc);
}

} // namespace

Checked<Tensor> modelForward(const ParamMap &params, const GeckoConfig &config,
                             const Tensor &tokens, bool multiSegments,
                             ModelCache *cache) {
  if (!cache) {
    Checked<ModelTrace> trace =
        runModel(params, config, tokens, multiSegments, nullptr);
    if (!trace)
      return Checked<Tensor>::failure(trace.error);
    return std::move(trace->logits);
  }
  // Work on a copy so that a rejected call leaves the stream intact.
  ModelCache next = *cache;
  Checked<ModelTrace> trace =
      runModel(params, config, tokens, multiSegments, &next);
  if (!trace)
    return Checked<Tensor>::failure(trace.error);
  updateModelCache(next, config, *trace, tokens.dim(1));
  *cache = std::move(next);
  return std::move(trace->logits);
}

Checked<ParamMap> modelBackward(const ParamMap &params,
                                const GeckoConfig &config, const Tensor &tokens,
                                bool multiSegments, const Tensor &dlogits) {
  Checked<ModelTrace> trace =
      runModel(params, config, tokens, multiSegments, nullptr);
  if (!trace)
    return Checked<ParamMap>::failure(trace.error);
  if (dlogits.shape != trace->logits.shape)
    return Checked<ParamMap>::failure("logits gradient has shape " +
                                      dlogits.shapeString() + ", expected " +
                                      trace->logits.shapeString());
  const Tensor *bos = trace->segments ? &trace->segments->bos : nullptr;
  const Tensor *seg = trace->segments ? &trace->segments->seg : nullptr;

  ParamMap grads;
  LinearGrads gout = linearBackward(
      trace->normed, params.at("output.output.weight"), false, dlogits);
  grads["output.output.weight"] = std::move(gout.weight);
  TimestepNormGrads gnorm = timestepNormBackward(
      trace->finalX, params.at("output.final_norm.weight"),
      params.at("output.final_norm.bias"), outputNormConfig(config), nullptr,
      nullptr, nullptr, bos, nullptr, gout.x, nullptr, nullptr);
  grads["output.final_norm.weight"] = std::move(gnorm.weight);
  grads["output.final_norm.bias"] = std::move(gnorm.bias);
  Tensor dx = std::move(gnorm.x);
  for (int64_t i = config.num_layers - 1; i >= 0; --i) {
    Checked<BlockGrads> g = blockBackward(params, layerPrefix(i), config,
                                          trace->layerInputs[i], bos, seg, dx);
    if (!g)
      return Checked<ParamMap>::failure("layer " + std::to_string(i) + ": " +
                                        g.error);
    dx = std::move(g->x);
    grads.insert(g->params.begin(), g->params.end());
  }
  grads["embed.weight"] = embeddingBackward(config.vocab_size, tokens, dx);
  return grads;
}

} // namespace gecko::ref
