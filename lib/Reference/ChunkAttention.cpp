//===- ChunkAttention.cpp - Sliding chunk attention (spec §5) -------------===//
//
// Both paths are softmax attention over the concatenated keys [prevK ; k] in
// "windows": a block of queries and the contiguous range of keys it may see,
// with a bottom-right aligned causal mask and the segment mask. The chunked
// path has one window per chunk (keys of chunks c-1 and c, the cache standing
// in for chunk -1); the short path is a single window over everything.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/ChunkAttention.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace gecko::ref {

namespace {

/// Aborts with a message: the reference must never compute on malformed input.
void require(bool condition, const char *message) {
  if (condition)
    return;
  std::fprintf(stderr, "gecko::ref sliding chunk attention: %s\n", message);
  std::abort();
}

/// Queries [qBegin, qEnd) of this call see keys [kBegin, kEnd) of [prevK ; k].
struct Window {
  int64_t qBegin, qEnd, kBegin, kEnd;
};

/// The validated operands, with the cache and the call's keys addressed as
/// one sequence of P + L positions.
class Attention {
public:
  Attention(const Tensor &q, const Tensor &k, const Tensor &v,
            const AttentionExtras &extras)
      : q(q), k(k), v(v), extras(extras) {
    require(q.rank() == 4 && k.rank() == 4 && v.rank() == 4,
            "q, k, v must be (B,L,H,d)");
    batch = q.dim(0);
    length = q.dim(1);
    require(length > 0, "a call needs at least one token");
    heads = q.dim(2);
    keyDim = q.dim(3);
    valueDim = v.dim(3);
    require(k.shape == q.shape, "k must have the shape of q");
    require(v.dim(0) == batch && v.dim(1) == length && v.dim(2) == heads,
            "v must be (B,L,H,dv) with the B, L, H of q");
    require((extras.prevK == nullptr) == (extras.prevV == nullptr),
            "prevK and prevV must be given together");
    if (extras.prevK) {
      cacheLength = extras.prevK->dim(1);
      require(extras.prevK->shape ==
                  std::vector<int64_t>({batch, cacheLength, heads, keyDim}),
              "prevK must be (B,P,H,dk)");
      require(extras.prevV->shape ==
                  std::vector<int64_t>({batch, cacheLength, heads, valueDim}),
              "prevV must be (B,P,H,dv)");
    }
    if (extras.seg) {
      require(extras.seg->shape == std::vector<int64_t>({batch, length}),
              "segment ids must be (B,L)");
      if (cacheLength > 0)
        require(extras.prevSeg &&
                    extras.prevSeg->shape ==
                        std::vector<int64_t>({batch, cacheLength}),
                "segment ids with a cache need prevSeg (B,P)");
    }
  }

  int64_t batch = 0, length = 0, heads = 0, keyDim = 0, valueDim = 0;
  int64_t cacheLength = 0;

  double key(int64_t b, int64_t j, int64_t h, int64_t d) const {
    return j < cacheLength ? extras.prevK->at(b, j, h, d)
                           : k.at(b, j - cacheLength, h, d);
  }
  double value(int64_t b, int64_t j, int64_t h, int64_t d) const {
    return j < cacheLength ? extras.prevV->at(b, j, h, d)
                           : v.at(b, j - cacheLength, h, d);
  }

  /// Whether query i of window w may attend key j (both absolute indices).
  bool allowed(int64_t b, const Window &w, int64_t i, int64_t j) const {
    int64_t causalOffset = (w.kEnd - w.kBegin) - (w.qEnd - w.qBegin);
    if (j - w.kBegin > i - w.qBegin + causalOffset)
      return false;
    if (!extras.seg)
      return true;
    double keySeg = j < cacheLength ? extras.prevSeg->at(b, j)
                                    : extras.seg->at(b, j - cacheLength);
    return keySeg == extras.seg->at(b, i);
  }

  /// Softmax probabilities of query i over the keys of window w; all zero
  /// when no key is allowed.
  std::vector<double> probabilities(int64_t b, int64_t h, const Window &w,
                                    int64_t i) const {
    std::vector<double> p(w.kEnd - w.kBegin, 0.0);
    std::vector<double> scores(p.size(), -INFINITY);
    double maxScore = -INFINITY;
    for (int64_t j = w.kBegin; j < w.kEnd; ++j) {
      if (!allowed(b, w, i, j))
        continue;
      double s = 0.0;
      for (int64_t d = 0; d < keyDim; ++d)
        s += q.at(b, i, h, d) * key(b, j, h, d);
      scores[j - w.kBegin] = s;
      maxScore = std::max(maxScore, s);
    }
    if (maxScore == -INFINITY)
      return p;
    double sum = 0.0;
    for (size_t j = 0; j < p.size(); ++j) {
      p[j] = scores[j] == -INFINITY ? 0.0 : std::exp(scores[j] - maxScore);
      sum += p[j];
    }
    for (double &pj : p)
      pj /= sum;
    return p;
  }

  Tensor forward(const std::vector<Window> &windows) const {
    Tensor y({batch, length, heads, valueDim});
    for (const Window &w : windows)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = w.qBegin; i < w.qEnd; ++i) {
            std::vector<double> p = probabilities(b, h, w, i);
            for (int64_t j = w.kBegin; j < w.kEnd; ++j)
              for (int64_t d = 0; d < valueDim; ++d)
                y.at(b, i, h, d) += p[j - w.kBegin] * value(b, j, h, d);
          }
    return y;
  }

  AttentionGrads backward(const std::vector<Window> &windows,
                          const Tensor &dy) const {
    require(dy.shape == std::vector<int64_t>({batch, length, heads, valueDim}),
            "dy must have the shape of the output (B,L,H,dv)");
    int64_t total = cacheLength + length;
    Tensor dq(q.shape);
    Tensor dKeys({batch, total, heads, keyDim});
    Tensor dValues({batch, total, heads, valueDim});
    for (const Window &w : windows)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = w.qBegin; i < w.qEnd; ++i) {
            std::vector<double> p = probabilities(b, h, w, i);
            // dP_j = dO . v_j; dS_j = P_j (dP_j - sum_j' P_j' dP_j').
            std::vector<double> dp(p.size(), 0.0);
            double rowSum = 0.0;
            for (int64_t j = w.kBegin; j < w.kEnd; ++j) {
              double pj = p[j - w.kBegin];
              double acc = 0.0;
              for (int64_t d = 0; d < valueDim; ++d) {
                acc += dy.at(b, i, h, d) * value(b, j, h, d);
                dValues.at(b, j, h, d) += pj * dy.at(b, i, h, d);
              }
              dp[j - w.kBegin] = acc;
              rowSum += pj * acc;
            }
            for (int64_t j = w.kBegin; j < w.kEnd; ++j) {
              double ds = p[j - w.kBegin] * (dp[j - w.kBegin] - rowSum);
              for (int64_t d = 0; d < keyDim; ++d) {
                dq.at(b, i, h, d) += ds * key(b, j, h, d);
                dKeys.at(b, j, h, d) += ds * q.at(b, i, h, d);
              }
            }
          }
    AttentionGrads grads;
    grads.q = std::move(dq);
    grads.k = slice(dKeys, 1, cacheLength, total);
    grads.v = slice(dValues, 1, cacheLength, total);
    if (extras.prevK) {
      grads.prevK = slice(dKeys, 1, 0, cacheLength);
      grads.prevV = slice(dValues, 1, 0, cacheLength);
    }
    return grads;
  }

private:
  const Tensor &q, &k, &v;
  AttentionExtras extras;
};

/// Chunk c sees chunks c-1 and c; chunk 0 sees the cache (if any) and itself.
std::vector<Window> chunkWindows(const Attention &attention,
                                 int64_t chunkSize) {
  require(chunkSize > 0, "chunk size must be positive");
  require(attention.length % chunkSize == 0,
          "the chunked path needs L % chunkSize == 0");
  require(attention.cacheLength == 0 || attention.cacheLength == chunkSize,
          "the chunked path's cache must hold exactly chunkSize tokens");
  int64_t cache = attention.cacheLength;
  std::vector<Window> windows;
  for (int64_t begin = 0; begin < attention.length; begin += chunkSize) {
    int64_t keyBegin = begin == 0 ? 0 : cache + begin - chunkSize;
    windows.push_back(
        {begin, begin + chunkSize, keyBegin, cache + begin + chunkSize});
  }
  return windows;
}

/// Every query sees the whole cache plus its causal prefix of this call.
std::vector<Window> shortWindows(const Attention &attention) {
  return {{0, attention.length, 0, attention.cacheLength + attention.length}};
}

} // namespace

Tensor chunkAttentionForward(const Tensor &q, const Tensor &k, const Tensor &v,
                             int64_t chunkSize, const AttentionExtras &extras) {
  Attention attention(q, k, v, extras);
  return attention.forward(chunkWindows(attention, chunkSize));
}

Tensor shortAttentionForward(const Tensor &q, const Tensor &k, const Tensor &v,
                             const AttentionExtras &extras) {
  Attention attention(q, k, v, extras);
  return attention.forward(shortWindows(attention));
}

AttentionGrads chunkAttentionBackward(const Tensor &q, const Tensor &k,
                                      const Tensor &v, int64_t chunkSize,
                                      const AttentionExtras &extras,
                                      const Tensor &dy) {
  Attention attention(q, k, v, extras);
  return attention.backward(chunkWindows(attention, chunkSize), dy);
}

AttentionGrads shortAttentionBackward(const Tensor &q, const Tensor &k,
                                      const Tensor &v,
                                      const AttentionExtras &extras,
                                      const Tensor &dy) {
  Attention attention(q, k, v, extras);
  return attention.backward(shortWindows(attention), dy);
}

} // namespace gecko::ref
