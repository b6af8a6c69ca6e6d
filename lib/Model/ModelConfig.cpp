//===- ModelConfig.cpp - Gecko config from JSON ---------------------------===//
//
// The reference ModelConf field names (spec §7-§9). Sizes default to the 7B
// configuration of spec §8 except vocab_size, which has no default (the
// reference takes it from the tokenizer). Keys of ModelConf that select
// behaviour this compiler does not implement are accepted only with the
// value the model uses (swiglu true; dropouts 0; scale_emb, share_emb,
// two_hop_residual, rescale_nffn, memory_efficient_norm false).
//
//===----------------------------------------------------------------------===//

#include "gecko/Model/ModelBuilder.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace gecko::model {

namespace {

Error configError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           "invalid config: " + message);
}

} // namespace

Expected<ref::GeckoConfig> parseConfig(StringRef text) {
  Expected<json::Value> value = json::parse(text);
  if (!value)
    return configError("not JSON: " + toString(value.takeError()));
  const json::Object *obj = value->getAsObject();
  if (!obj)
    return configError("the top level is not a JSON object");

  // 7B defaults (spec §8).
  ref::GeckoConfig c;
  c.num_layers = 32, c.model_dim = 4096, c.z_dim = 1024, c.value_dim = 8192;
  c.num_heads = 4, c.ffn_hidden_dim = 8192, c.cema_ndim = 16;
  c.chunk_size = 2048, c.timenorm_num_groups = 64;
  c.timenorm_beta1 = 0.999, c.timenorm_beta2 = 0.9999;
  c.layernorm_num_groups = 1, c.norm_eps = 1e-5, c.rope_base = 500000.0;
  c.num_rope_heads.reset(), c.bos_id = 1, c.vocab_size = 0;

  StringMap<int64_t *> ints = {
      {"num_layers", &c.num_layers},
      {"model_dim", &c.model_dim},
      {"z_dim", &c.z_dim},
      {"value_dim", &c.value_dim},
      {"num_heads", &c.num_heads},
      {"ffn_hidden_dim", &c.ffn_hidden_dim},
      {"cema_ndim", &c.cema_ndim},
      {"chunk_size", &c.chunk_size},
      {"vocab_size", &c.vocab_size},
      {"timenorm_num_groups", &c.timenorm_num_groups},
      {"layernorm_num_groups", &c.layernorm_num_groups},
      {"bos_id", &c.bos_id}};
  StringMap<double *> reals = {{"timenorm_beta1", &c.timenorm_beta1},
                               {"timenorm_beta2", &c.timenorm_beta2},
                               {"norm_eps", &c.norm_eps},
                               {"rope_base", &c.rope_base}};
  StringSet<> mustBeFalse = {"scale_emb", "share_emb", "two_hop_residual",
                             "rescale_nffn", "memory_efficient_norm"};
  StringSet<> mustBeZero = {"dropout", "attention_dropout", "hidden_dropout",
                            "ffn_dropout"};

  bool sawVocab = false;
  for (const auto &[key, v] : *obj) {
    StringRef k = key;
    if (auto it = ints.find(k); it != ints.end()) {
      std::optional<int64_t> n = v.getAsInteger();
      if (!n)
        return configError("'" + k + "' must be an integer");
      *it->second = *n;
      sawVocab |= k == "vocab_size";
      continue;
    }
    if (auto it = reals.find(k); it != reals.end()) {
      std::optional<double> n = v.getAsNumber();
      if (!n)
        return configError("'" + k + "' must be a number");
      *it->second = *n;
      continue;
    }
    if (k == "num_rope_heads") {
      if (v.getAsNull())
        c.num_rope_heads.reset();
      else if (std::optional<int64_t> n = v.getAsInteger())
        c.num_rope_heads = *n;
      else
        return configError("'num_rope_heads' must be an integer or null");
      continue;
    }
    if (k == "swiglu") {
      if (v.getAsBoolean() != std::optional<bool>(true))
        return configError("'swiglu' must be true (the NFFN is SwiGLU)");
      continue;
    }
    if (mustBeFalse.contains(k)) {
      if (v.getAsBoolean() != std::optional<bool>(false))
        return configError("'" + k + "' must be false (spec §11.8)");
      continue;
    }
    if (mustBeZero.contains(k)) {
      if (v.getAsNumber() != std::optional<double>(0.0))
        return configError("'" + k + "' must be 0 (inference graph)");
      continue;
    }
    if (k == "efficient_attn") {
      if (!v.getAsString())
        return configError("'efficient_attn' must be a string");
      continue;
    }
    return configError("unknown key '" + k + "'");
  }
  if (!sawVocab)
    return configError("missing key 'vocab_size'");
  if (c.vocab_size <= 0)
    return configError("'vocab_size' must be positive");
  if (c.bos_id < 0 || c.bos_id >= c.vocab_size)
    return configError("'bos_id' must be in [0, vocab_size)");
  if (std::optional<std::string> err = ref::validateConfig(c))
    return createStringError(inconvertibleErrorCode(), *err);
  return c;
}

Expected<ref::GeckoConfig> parseConfigFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read config '" + path +
                                 "': " + buffer.getError().message());
  return parseConfig((*buffer)->getBuffer());
}

} // namespace gecko::model
