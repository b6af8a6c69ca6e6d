//===- ReferenceBackend.cpp - Golden cases on the reference library
//--------===//
//
// Dispatches each golden op to gecko::ref and records outputs, intermediates
// and gradients under the golden keys. verify_golden.py is the worked example
// of which key feeds which argument. Inputs are shape-checked here first: the
// reference library asserts its preconditions only in debug builds, and a
// malformed golden file must give an error, never an out-of-bounds read.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"
#include "BlockModelCases.h"
#include "CpuBackend.h"
#include "GpuBackend.h"

#include "gecko/Reference/ChunkAttention.h"
#include "gecko/Reference/ComplexEma.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/Rope.h"
#include "gecko/Reference/TimestepNorm.h"
#include "gecko/Reference/WorkingMemory.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/Twine.h"

#include <cmath>
#include <functional>

using namespace llvm;
using gecko::ref::Tensor;

namespace gecko::conform {

namespace {

/// Wildcard in expected shapes.
constexpr int64_t kAny = -1;

/// Reads inputs and metadata of one case, collecting the first problem so
/// that op code reads straight through and checks once before computing.
class CaseReader {
public:
  explicit CaseReader(const GoldenCase &golden) : golden(golden) {}

  const Tensor &required(StringRef key) {
    if (const Tensor *t = golden.find(key))
      return *t;
    fail("missing tensor '" + key + "'");
    return empty;
  }
  const Tensor *optional(StringRef key) { return golden.find(key); }

  int64_t metaInt(StringRef key) {
    Expected<int64_t> value = golden.metaInt(key);
    if (!value) {
      fail(toString(value.takeError()));
      return 0;
    }
    return *value;
  }
  double metaDouble(StringRef key) {
    Expected<double> value = golden.metaDouble(key);
    if (!value) {
      fail(toString(value.takeError()));
      return 0;
    }
    return *value;
  }
  std::string meta(StringRef key) {
    Expected<std::string> value = golden.meta(key);
    if (!value) {
      fail(toString(value.takeError()));
      return "";
    }
    return *value;
  }

  /// Checks `t`'s shape against `shape` (kAny matches any size).
  void expectShape(const Tensor *t, StringRef key, std::vector<int64_t> shape) {
    if (!t || t == &empty)
      return; // absent optional, or already reported as missing
    bool ok = t->rank() == static_cast<int64_t>(shape.size());
    for (size_t i = 0; ok && i < shape.size(); ++i)
      ok = shape[i] == kAny || shape[i] == t->shape[i];
    if (!ok) {
      std::string want = "(";
      for (size_t i = 0; i < shape.size(); ++i)
        want += (i ? ", " : "") + (shape[i] == kAny ? std::string("*")
                                                    : std::to_string(shape[i]));
      fail("tensor '" + key + "' has shape " + t->shapeString() +
           ", expected " + want + ")");
    }
  }
  void expectShape(const Tensor &t, StringRef key, std::vector<int64_t> shape) {
    expectShape(&t, key, std::move(shape));
  }
  void check(bool condition, const Twine &message) {
    if (!condition)
      fail(message);
  }
  /// Whether everything read so far is consistent.
  bool ok() const { return problem.empty(); }

  Error takeError() {
    if (problem.empty())
      return Error::success();
    return createStringError(inconvertibleErrorCode(), "%s (op '%s')",
                             problem.c_str(), golden.op.c_str());
  }

private:
  void fail(const Twine &message) {
    if (problem.empty())
      problem = message.str();
  }

  const GoldenCase &golden;
  std::string problem;
  Tensor empty;
};

/// Dimension `i` of `t`, or kAny when the rank is too small (the shape check
/// of `t` itself reports that).
int64_t dimOr(const Tensor &t, int64_t i) {
  return i < t.rank() ? t.shape[i] : kAny;
}

void addIfPresent(CaseResults &results, const std::string &key,
                  const Tensor *input, const Tensor &grad) {
  if (input)
    results.add(key, grad);
}

Error runTimestepNorm(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &x = in.required("in.x");
  const Tensor &weight = in.required("param.weight");
  const Tensor &bias = in.required("param.bias");
  const Tensor *prevCount = in.optional("in.prev_count");
  const Tensor *prevMean = in.optional("in.prev_mean");
  const Tensor *prevVar = in.optional("in.prev_var");
  const Tensor *bos = in.optional("in.bos_mask");
  const Tensor *padding = in.optional("in.padding_mask");
  ref::TimestepNormConfig config;
  config.numGroups = in.metaInt("num_groups");
  config.beta1 = in.metaDouble("beta1");
  config.beta2 = in.metaDouble("beta2");
  config.eps = in.metaDouble("eps");
  in.expectShape(x, "in.x", {kAny, kAny, kAny});
  int64_t b = dimOr(x, 0), l = dimOr(x, 1), d = dimOr(x, 2),
          g = config.numGroups;
  in.check(g > 0 && d % std::max<int64_t>(g, 1) == 0,
           "num_groups " + Twine(g) + " does not divide D = " + Twine(d));
  in.expectShape(weight, "param.weight", {d});
  in.expectShape(bias, "param.bias", {d});
  in.expectShape(prevCount, "in.prev_count", {b});
  if (prevCount)
    for (double count : prevCount->data)
      in.check(count >= 0 && std::floor(count) == count,
               "in.prev_count holds " + Twine(std::to_string(count)) +
                   ", not a count (integral >= 0)");
  in.expectShape(prevMean, "in.prev_mean", {b, g});
  in.expectShape(prevVar, "in.prev_var", {b, g});
  in.expectShape(bos, "in.bos_mask", {b, l});
  in.expectShape(padding, "in.padding_mask", {b, l});
  if (!in.ok())
    return in.takeError();

  ref::TimestepNormResult out = ref::timestepNormForward(
      x, weight, bias, config, prevCount, prevMean, prevVar, bos, padding);
  r.add("out.y", out.y);
  r.add("out.count", out.state.count);
  r.add("out.mean", out.state.mean);
  r.add("out.var", out.state.var);
  Tensor dy = c.upstreamGrad("out.y", out.y);
  Tensor dMean = c.upstreamGrad("out.mean", out.state.mean);
  Tensor dVar = c.upstreamGrad("out.var", out.state.var);
  ref::TimestepNormGrads grads =
      ref::timestepNormBackward(x, weight, bias, config, prevCount, prevMean,
                                prevVar, bos, padding, dy, &dMean, &dVar);
  r.add("grad.x", grads.x);
  r.add("grad.weight", grads.weight);
  r.add("grad.bias", grads.bias);
  addIfPresent(r, "grad.prev_mean", prevMean, grads.prevMean);
  addIfPresent(r, "grad.prev_var", prevVar, grads.prevVar);
  return Error::success();
}

/// The golden grad.p is not the scan-only dp of spec §2: the oracle's p is
/// the very tensor σ(α) that also forms |q| = 1 - σ(α)σ(δ), so autograd
/// returns the total derivative dL/dσ(α) = dp - σ(δ) dL/d|q|, with
/// dL/d|q| = Re(conj(q/|q|) dq). Reproduce that convention here.
Tensor goldenGradP(const ref::CemaScanGrads &scan,
                   const ref::CemaCoefficients &coeffs, const Tensor &delta) {
  Tensor total = scan.p;
  for (int64_t i = 0; i < total.numel(); ++i) {
    double qRe = coeffs.q[2 * i], qIm = coeffs.q[2 * i + 1];
    double magnitude = std::hypot(qRe, qIm);
    double dMagnitude =
        magnitude > 0
            ? (scan.q[2 * i] * qRe + scan.q[2 * i + 1] * qIm) / magnitude
            : 0.0;
    double sigDelta = 1.0 / (1.0 + std::exp(-delta[i]));
    total[i] -= sigDelta * dMagnitude;
  }
  return total;
}

Error runComplexEma(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &x = in.required("in.x");
  const Tensor *hx = in.optional("in.hx");
  const Tensor *bos = in.optional("in.bos_mask");
  const Tensor &alpha = in.required("param.alpha");
  const Tensor &delta = in.required("param.delta");
  const Tensor &theta = in.required("param.theta");
  const Tensor &gamma = in.required("param.gamma");
  in.expectShape(x, "in.x", {kAny, kAny, kAny}); // (B, D, L)
  int64_t b = dimOr(x, 0), d = dimOr(x, 1), l = dimOr(x, 2);
  in.expectShape(alpha, "param.alpha", {d, kAny});
  int64_t n = dimOr(alpha, 1);
  if (c.metadata.count("ndim"))
    in.check(in.metaInt("ndim") == n, "metadata ndim does not match "
                                      "param.alpha's second dimension");
  in.expectShape(delta, "param.delta", {d, n});
  in.expectShape(theta, "param.theta", {d});
  in.expectShape(gamma, "param.gamma", {d, n, 2});
  in.expectShape(hx, "in.hx", {b, d, n, 2});
  in.expectShape(bos, "in.bos_mask", {b, l});
  if (!in.ok())
    return in.takeError();

  ref::CemaCoefficients coeffs =
      ref::cemaCoefficients(alpha, delta, theta, gamma);
  r.add("int.p", coeffs.p);
  r.add("int.q", coeffs.q);
  r.add("int.g", coeffs.gamma);
  ref::CemaResult out = ref::cemaForward(x, coeffs, hx, bos);
  r.add("out.y", out.y);
  r.add("out.h", out.h);
  Tensor dy = c.upstreamGrad("out.y", out.y);
  Tensor dh = c.upstreamGrad("out.h", out.h);
  ref::CemaScanGrads scan = ref::cemaBackward(x, coeffs, hx, bos, dy, &dh);
  r.add("grad.x", scan.x);
  addIfPresent(r, "grad.hx", hx, scan.hx);
  r.add("grad.p", goldenGradP(scan, coeffs, delta));
  r.add("grad.q", scan.q);
  r.add("grad.g", scan.gamma);
  ref::CemaParamGrads params =
      ref::cemaCoefficientsBackward(alpha, delta, theta, gamma, scan);
  r.add("grad.alpha", params.alpha);
  r.add("grad.delta", params.delta);
  r.add("grad.theta", params.theta);
  r.add("grad.gamma", params.gamma);
  return Error::success();
}

Error runGroupNorm(const GoldenCase &c, CaseResults &r, bool layerNorm) {
  CaseReader in(c);
  const Tensor &x = in.required("in.x");
  const Tensor *weight = in.optional("param.weight");
  const Tensor *bias = layerNorm ? in.optional("param.bias") : nullptr;
  int64_t groups = in.metaInt("num_groups");
  double eps = in.metaDouble("eps");
  in.check(x.rank() >= 1, "tensor 'in.x' must have at least one dimension");
  int64_t d = x.rank() >= 1 ? x.dim(-1) : kAny;
  in.check(groups > 0 && d % std::max<int64_t>(groups, 1) == 0,
           "num_groups " + Twine(groups) + " does not divide D = " + Twine(d));
  in.expectShape(weight, "param.weight", {d});
  in.expectShape(bias, "param.bias", {d});
  if (!in.ok())
    return in.takeError();

  Tensor y = layerNorm ? ref::groupLayerNorm(x, groups, weight, bias, eps)
                       : ref::groupRmsNorm(x, groups, weight, eps);
  r.add("out.y", y);
  Tensor dy = c.upstreamGrad("out.y", y);
  ref::NormGrads grads =
      layerNorm ? ref::groupLayerNormBackward(x, groups, weight, bias, eps, dy)
                : ref::groupRmsNormBackward(x, groups, weight, eps, dy);
  r.add("grad.x", grads.x);
  addIfPresent(r, "grad.weight", weight, grads.weight);
  addIfPresent(r, "grad.bias", bias, grads.bias);
  return Error::success();
}

Error runZSplit(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &z = in.required("in.z");
  const Tensor &gamma = in.required("param.gamma");
  const Tensor &beta = in.required("param.beta");
  int64_t heads = in.metaInt("num_heads");
  double eps = in.metaDouble("eps");
  in.expectShape(z, "in.z", {kAny, kAny, kAny});
  int64_t zdim = dimOr(z, 2);
  in.check(heads > 0 && zdim % std::max<int64_t>(heads, 1) == 0,
           "num_heads " + Twine(heads) + " does not divide Z = " + Twine(zdim));
  in.expectShape(gamma, "param.gamma", {4, zdim});
  in.expectShape(beta, "param.beta", {4, zdim});
  if (!in.ok())
    return in.takeError();

  ref::ZSplitResult out = ref::zSplitForward(z, gamma, beta, heads, eps);
  r.add("out.q", out.q);
  r.add("out.k", out.k);
  r.add("out.aq", out.aq);
  r.add("out.ak", out.ak);
  Tensor dq = c.upstreamGrad("out.q", out.q);
  Tensor dk = c.upstreamGrad("out.k", out.k);
  Tensor daq = c.upstreamGrad("out.aq", out.aq);
  Tensor dak = c.upstreamGrad("out.ak", out.ak);
  ref::ZSplitGrads grads =
      ref::zSplitBackward(z, gamma, beta, heads, eps, &dq, &dk, &daq, &dak);
  r.add("grad.z", grads.z);
  r.add("grad.gamma", grads.gamma);
  r.add("grad.beta", grads.beta);
  return Error::success();
}

Error runRope(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &x = in.required("in.x");
  int64_t headDim = in.metaInt("head_dim");
  int64_t start = in.metaInt("start");
  int64_t ropeHeads = in.metaInt("n_rope_heads");
  double base = in.metaDouble("base");
  in.expectShape(x, "in.x", {kAny, kAny, kAny, headDim}); // (B, L, H, d)
  in.check(headDim > 0 && headDim % 2 == 0,
           "head_dim " + Twine(headDim) + " is not a positive even number");
  in.check(start >= 0, "start " + Twine(start) + " is negative");
  in.check(ropeHeads >= 0 && ropeHeads <= dimOr(x, 2),
           "n_rope_heads " + Twine(ropeHeads) + " is out of range");
  in.check(base > 0, "base must be positive");
  if (!in.ok())
    return in.takeError();

  int64_t l = x.dim(1);
  ref::RopeTable table = ref::ropeTable(headDim, base, start, start + l);
  r.add("int.cos", table.cos);
  r.add("int.sin", table.sin);
  Tensor y = ref::ropeForward(x, table, ropeHeads);
  r.add("out.y", y);
  r.add("grad.x",
        ref::ropeBackward(c.upstreamGrad("out.y", y), table, ropeHeads));
  return Error::success();
}

/// "chunked" or "short"; anything else is an error.
bool readPath(CaseReader &in, bool &chunked) {
  std::string path = in.meta("path");
  chunked = path == "chunked";
  in.check(chunked || path == "short",
           "metadata path '" + path + "' is neither 'chunked' nor 'short'");
  return in.ok();
}

Error runChunkAttention(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &q = in.required("in.q");
  const Tensor &k = in.required("in.k");
  const Tensor &v = in.required("in.v");
  ref::AttentionExtras extras;
  extras.prevK = in.optional("in.prev_k");
  extras.prevV = in.optional("in.prev_v");
  extras.seg = in.optional("in.segment_idx");
  extras.prevSeg = in.optional("in.prev_segment_idx");
  bool chunked = false;
  readPath(in, chunked);
  int64_t chunk = chunked ? in.metaInt("chunk_size") : 0;
  in.expectShape(q, "in.q", {kAny, kAny, kAny, kAny}); // (B, L, H, dk)
  int64_t b = dimOr(q, 0), l = dimOr(q, 1), h = dimOr(q, 2), dk = dimOr(q, 3);
  in.expectShape(k, "in.k", {b, l, h, dk});
  in.expectShape(v, "in.v", {b, l, h, kAny});
  int64_t dv = dimOr(v, 3);
  in.check(l >= 1, "in.q has no tokens");
  in.check((extras.prevK == nullptr) == (extras.prevV == nullptr),
           "in.prev_k and in.prev_v must be given together");
  in.expectShape(extras.prevK, "in.prev_k", {b, kAny, h, dk});
  int64_t p = extras.prevK ? dimOr(*extras.prevK, 1) : 0;
  in.expectShape(extras.prevV, "in.prev_v", {b, p, h, dv});
  in.expectShape(extras.seg, "in.segment_idx", {b, l});
  in.expectShape(extras.prevSeg, "in.prev_segment_idx", {b, p});
  in.check(!extras.prevSeg || extras.prevK,
           "in.prev_segment_idx given without a cache");
  // The reference aborts on these; report them as errors instead.
  in.check(!extras.seg || p == 0 || extras.prevSeg,
           "in.segment_idx with a cache needs in.prev_segment_idx");
  if (chunked) {
    in.check(chunk > 0 && l % std::max<int64_t>(chunk, 1) == 0,
             "chunked path needs L = " + Twine(l) +
                 " to be a multiple of chunk_size " + Twine(chunk));
    in.check(p == 0 || p == chunk, "chunked path needs a cache of exactly "
                                   "chunk_size tokens, got " +
                                       Twine(p));
  }
  if (!in.ok())
    return in.takeError();

  Tensor y = chunked ? ref::chunkAttentionForward(q, k, v, chunk, extras)
                     : ref::shortAttentionForward(q, k, v, extras);
  r.add("out.y", y);
  Tensor dy = c.upstreamGrad("out.y", y);
  ref::AttentionGrads grads =
      chunked ? ref::chunkAttentionBackward(q, k, v, chunk, extras, dy)
              : ref::shortAttentionBackward(q, k, v, extras, dy);
  r.add("grad.q", grads.q);
  r.add("grad.k", grads.k);
  r.add("grad.v", grads.v);
  addIfPresent(r, "grad.prev_k", extras.prevK, grads.prevK);
  addIfPresent(r, "grad.prev_v", extras.prevV, grads.prevV);
  return Error::success();
}

Error runWorkingMemory(const GoldenCase &c, CaseResults &r) {
  CaseReader in(c);
  const Tensor &q = in.required("in.q");
  const Tensor &k = in.required("in.k");
  const Tensor &v = in.required("in.v");
  ref::MemoryExtras extras;
  extras.memory = in.optional("in.memory");
  extras.lnt = in.optional("in.lnt");
  extras.prevK = in.optional("in.prev_k");
  extras.prevV = in.optional("in.prev_v");
  extras.seg = in.optional("in.segment_idx");
  extras.prevSeg = in.optional("in.prev_segment_idx");
  extras.prevSegCount = in.optional("in.prev_segment_count");
  bool chunked = false;
  readPath(in, chunked);
  int64_t chunk = in.metaInt("chunk_size");
  in.expectShape(q, "in.q", {kAny, kAny, kAny, kAny}); // (B, H, L, S)
  int64_t b = dimOr(q, 0), h = dimOr(q, 1), l = dimOr(q, 2), s = dimOr(q, 3);
  in.expectShape(k, "in.k", {b, h, l, s});
  in.expectShape(v, "in.v", {b, h, l, kAny});
  int64_t dv = dimOr(v, 3);
  in.check(l >= 1, "in.q has no tokens");
  in.check(chunk > 0, "chunk_size must be positive");
  in.check((extras.memory == nullptr) == (extras.lnt == nullptr),
           "in.memory and in.lnt must be given together");
  in.check((extras.prevK == nullptr) == (extras.prevV == nullptr),
           "in.prev_k and in.prev_v must be given together");
  in.expectShape(extras.memory, "in.memory", {b, h, s, dv});
  in.expectShape(extras.lnt, "in.lnt", {b, h, s});
  in.expectShape(extras.prevK, "in.prev_k", {b, h, kAny, s});
  int64_t p = extras.prevK ? dimOr(*extras.prevK, 2) : 0;
  in.expectShape(extras.prevV, "in.prev_v", {b, h, p, dv});
  in.expectShape(extras.seg, "in.segment_idx", {b, l});
  in.expectShape(extras.prevSeg, "in.prev_segment_idx", {b, p});
  in.expectShape(extras.prevSegCount, "in.prev_segment_count", {b});
  // Streaming-state preconditions the reference aborts on (spec §6).
  bool hasMemory = extras.memory != nullptr;
  if (chunked) {
    in.check(chunk > 0 && l % std::max<int64_t>(chunk, 1) == 0,
             "chunked path needs L = " + Twine(l) +
                 " to be a multiple of chunk_size " + Twine(chunk));
    in.check(hasMemory || !extras.prevK,
             "a cache (in.prev_k) without in.memory is not a valid state");
    in.check(!extras.prevK || p == chunk,
             "chunked path needs a cache of exactly chunk_size tokens, got " +
                 Twine(p));
    in.check(!extras.seg || !extras.prevSeg || extras.prevSegCount,
             "in.prev_segment_idx needs in.prev_segment_count");
  } else {
    in.check(l < chunk, "short path needs L = " + Twine(l) +
                            " below chunk_size " + Twine(chunk));
    if (hasMemory)
      in.check(chunk < p + l && p + l <= 2 * chunk,
               "short path with a memory needs C < P + L <= 2C");
    else
      in.check(p + l <= chunk, "short path without a memory needs P + L <= C");
    in.check(!extras.seg || !hasMemory || extras.prevSegCount,
             "in.segment_idx with a memory needs in.prev_segment_count");
    in.check(!extras.seg || !hasMemory || p == 0 || extras.prevSeg,
             "in.segment_idx with a cache needs in.prev_segment_idx");
  }
  if (!in.ok())
    return in.takeError();

  ref::MemoryResult out =
      chunked ? ref::memoryChunkedForward(q, k, v, chunk, extras)
              : ref::memoryShortForward(q, k, v, chunk, extras);
  r.add("out.y", out.y);
  Tensor dy = c.upstreamGrad("out.y", out.y);
  Tensor dMemory, dLnt;
  if (out.memory) {
    r.add("out.memory", *out.memory);
    dMemory = c.upstreamGrad("out.memory", *out.memory);
  }
  if (out.lnt) {
    r.add("out.lnt", *out.lnt);
    dLnt = c.upstreamGrad("out.lnt", *out.lnt);
  }
  const Tensor *dMemoryPtr = out.memory ? &dMemory : nullptr;
  const Tensor *dLntPtr = out.lnt ? &dLnt : nullptr;
  ref::MemoryGrads grads =
      chunked ? ref::memoryChunkedBackward(q, k, v, chunk, extras, dy,
                                           dMemoryPtr, dLntPtr)
              : ref::memoryShortBackward(q, k, v, chunk, extras, dy, dMemoryPtr,
                                         dLntPtr);
  r.add("grad.q", grads.q);
  r.add("grad.k", grads.k);
  r.add("grad.v", grads.v);
  addIfPresent(r, "grad.memory", extras.memory, grads.memory);
  addIfPresent(r, "grad.lnt", extras.lnt, grads.lnt);
  addIfPresent(r, "grad.prev_k", extras.prevK, grads.prevK);
  addIfPresent(r, "grad.prev_v", extras.prevV, grads.prevV);
  return Error::success();
}

class ReferenceBackend : public Backend {
public:
  StringRef name() const override { return "reference"; }

  Error run(const GoldenCase &golden, CaseResults &results) override {
    using Runner = std::function<Error(const GoldenCase &, CaseResults &)>;
    Runner runner = StringSwitch<Runner>(golden.op)
                        .Case("tsnorm", runTimestepNorm)
                        .Case("cema", runComplexEma)
                        .Case("rmsnorm",
                              [](const GoldenCase &c, CaseResults &r) {
                                return runGroupNorm(c, r, /*layerNorm=*/false);
                              })
                        .Case("layernorm",
                              [](const GoldenCase &c, CaseResults &r) {
                                return runGroupNorm(c, r, /*layerNorm=*/true);
                              })
                        .Case("zsplit", runZSplit)
                        .Case("rope", runRope)
                        .Case("sca", runChunkAttention)
                        .Case("awm", runWorkingMemory)
                        .Case("block", runReferenceBlockCase)
                        .Case("model", runReferenceModelCase)
                        .Default(nullptr);
    if (!runner)
      return createStringError(inconvertibleErrorCode(),
                               "op '%s' is not supported by the %s backend",
                               golden.op.c_str(), name().str().c_str());
    return runner(golden, results);
  }
};

} // namespace

std::unique_ptr<Backend> createReferenceBackend() {
  return std::make_unique<ReferenceBackend>();
}

std::vector<StringRef> backendNames() { return {"reference"}; }

std::unique_ptr<Backend> createBackend(StringRef name) {
  if (name == "reference")
    return createReferenceBackend();
  if (name == "cpu")
    return createCpuBackend();
  if (name == "cuda")
    return createCudaBackend();
  if (name == "hip")
    return createHipBackend();
  return nullptr;
}

} // namespace gecko::conform
