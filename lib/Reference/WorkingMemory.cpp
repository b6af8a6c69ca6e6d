//===- WorkingMemory.cpp - Adaptive working memory (spec §6) --------------===//
//
// A call is turned, per batch row, into a schedule of steps on the memory
// (create, read, reset, write) that follows the segment bookkeeping of §6.
// Every (batch, head) then runs its schedule on small matrices; the backward
// pass replays the forward to record the memory before each step and walks
// the schedule in reverse, carrying dL/dM and dL/dZ.
//
// Keys and values are addressed in the concatenated sequence [prevK ; k]: a
// write of the cached chunk uses rows [0, P), a write of chunk c of the call
// rows [P + cC, P + cC + C).
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/WorkingMemory.h"

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
  std::fprintf(stderr, "gecko::ref adaptive working memory: %s\n", message);
  std::abort();
}

/// log(e^x + e^y) with logaddexp(-inf, y) = y.
double logAddExp(double x, double y) {
  if (x == -INFINITY)
    return y;
  if (y == -INFINITY)
    return x;
  double hi = std::max(x, y);
  return hi + std::log1p(std::exp(-std::fabs(x - y)));
}

/// Softmax of a vector.
std::vector<double> softmax(const std::vector<double> &x) {
  double hi = *std::max_element(x.begin(), x.end());
  std::vector<double> p(x.size());
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i)
    sum += p[i] = std::exp(x[i] - hi);
  for (double &pi : p)
    pi /= sum;
  return p;
}

/// Gradient of softmax's input given its output p and the output gradient g.
std::vector<double> softmaxBackward(const std::vector<double> &p,
                                    const std::vector<double> &g) {
  double dotPG = 0.0;
  for (size_t i = 0; i < p.size(); ++i)
    dotPG += p[i] * g[i];
  std::vector<double> dx(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    dx[i] = p[i] * (g[i] - dotPG);
  return dx;
}

/// Dense row-major matrix of one (batch, head).
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(int64_t rows, int64_t cols, double fill = 0.0)
      : rows(rows), cols(cols), data(rows * cols, fill) {}
  double &operator()(int64_t r, int64_t c) { return data[r * cols + c]; }
  double operator()(int64_t r, int64_t c) const { return data[r * cols + c]; }
};

enum class StepKind { Create, Read, Reset, Write };

/// One step of a batch row's schedule.
struct Step {
  StepKind kind;
  /// Read: query rows of the call. Write: rows of [prevK ; k].
  int64_t begin = 0, end = 0;
  /// Read: rows zeroed by the segment mask. Write: excluded keys.
  std::vector<bool> masked;
};
using Schedule = std::vector<Step>;

/// The memory of one (batch, head) between steps.
struct MemoryState {
  Matrix memory;           // S x V
  std::vector<double> lnt; // S
  bool present = false;
};

/// Everything one write computes from the memory before it (§6).
struct WriteTerms {
  Matrix weights;          // W: S x C, softmax over time of the masked keys
  Matrix featureMap;       // psi: C x S, softmax over features
  Matrix residual;         // E: C x V
  Matrix update;           // U: S x V
  std::vector<double> rho; // S
  std::vector<double> newLnt;
};

class WorkingMemory {
public:
  WorkingMemory(const Tensor &q, const Tensor &k, const Tensor &v,
                int64_t chunkSize, const MemoryExtras &extras)
      : q(q), k(k), v(v), chunk(chunkSize), extras(extras) {
    require(chunkSize > 0, "chunk size must be positive");
    require(q.rank() == 4 && k.rank() == 4 && v.rank() == 4,
            "q, k (B,H,L,S) and v (B,H,L,V) must have rank 4");
    batch = q.dim(0);
    heads = q.dim(1);
    length = q.dim(2);
    features = q.dim(3);
    valueDim = v.dim(3);
    require(length > 0, "a call needs at least one token");
    require(k.shape == q.shape, "k must have the shape of q");
    require(v.dim(0) == batch && v.dim(1) == heads && v.dim(2) == length,
            "v must be (B,H,L,V) with the B, H, L of q");
    require((extras.memory == nullptr) == (extras.lnt == nullptr),
            "memory and lnt must be given together");
    if (extras.memory) {
      require(extras.memory->shape ==
                  std::vector<int64_t>({batch, heads, features, valueDim}),
              "memory must be (B,H,S,V)");
      require(extras.lnt->shape ==
                  std::vector<int64_t>({batch, heads, features}),
              "lnt must be (B,H,S)");
    }
    require((extras.prevK == nullptr) == (extras.prevV == nullptr),
            "prevK and prevV must be given together");
    if (extras.prevK) {
      cacheLength = extras.prevK->dim(2);
      require(extras.prevK->shape ==
                  std::vector<int64_t>({batch, heads, cacheLength, features}),
              "prevK must be (B,H,P,S)");
      require(extras.prevV->shape ==
                  std::vector<int64_t>({batch, heads, cacheLength, valueDim}),
              "prevV must be (B,H,P,V)");
    }
    if (extras.seg) {
      require(extras.seg->shape == std::vector<int64_t>({batch, length}),
              "segment ids must be (B,L)");
      if (extras.prevSeg)
        require(extras.prevSeg->shape ==
                    std::vector<int64_t>({batch, cacheLength}),
                "prevSeg must be (B,P)");
      if (extras.prevSegCount)
        require(extras.prevSegCount->shape == std::vector<int64_t>({batch}),
                "prevSegCount must be (B)");
    }
  }

  /// §6 chunked path: per chunk, read, then write the pending chunk.
  std::vector<Schedule> chunkedSchedules() const {
    require(length % chunk == 0, "the chunked path needs L % chunkSize == 0");
    require(extras.memory || !extras.prevK,
            "a cache without a memory is not a valid chunked state");
    require(!extras.prevK || cacheLength == chunk,
            "the chunked path's cache must hold exactly chunkSize tokens");
    bool useSeg = extras.seg != nullptr;
    // Without prevSeg the cached chunk has no exclusions and the memory's
    // segment stays unknown until the first write (as in the oracle).
    if (useSeg && extras.prevSeg)
      require(extras.prevSegCount != nullptr,
              "segment ids with prevSeg need prevSegCount");
    std::vector<Schedule> schedules(batch);
    for (int64_t b = 0; b < batch; ++b) {
      Schedule &steps = schedules[b];
      bool present = extras.memory != nullptr;
      // The pending chunk: rows [pendingBegin, pendingBegin + C) of [prevK;k].
      bool hasPending = extras.prevK != nullptr;
      int64_t pendingBegin = 0;
      std::vector<bool> pendingExcluded(chunk, false);
      bool pendingLastKnown = false;
      double pendingLast = 0.0;
      if (hasPending && useSeg && extras.prevSeg) {
        pendingLastKnown = true;
        pendingLast = extras.prevSeg->at(b, cacheLength - 1);
        for (int64_t t = 0; t < chunk; ++t)
          pendingExcluded[t] = extras.prevSeg->at(b, t) != pendingLast;
      }
      // Segment of the memory's content; undefined until known.
      bool memSegKnown = useSeg && extras.prevSeg;
      double memSeg = memSegKnown ? extras.prevSegCount->at(b) : 0.0;

      for (int64_t begin = 0; begin < length; begin += chunk) {
        if (!present) {
          steps.push_back({StepKind::Create, 0, 0, {}});
          present = true;
        } else {
          Step read{StepKind::Read, begin, begin + chunk,
                    std::vector<bool>(chunk, false)};
          for (int64_t i = 0; i < chunk && memSegKnown; ++i)
            read.masked[i] = extras.seg->at(b, begin + i) != memSeg;
          steps.push_back(std::move(read));
          if (hasPending) {
            if (memSegKnown && pendingLastKnown && pendingLast != memSeg)
              steps.push_back({StepKind::Reset, 0, 0, {}});
            steps.push_back({StepKind::Write, pendingBegin,
                             pendingBegin + chunk, pendingExcluded});
            if (pendingLastKnown) {
              memSeg = pendingLast;
              memSegKnown = true;
            }
          }
        }
        hasPending = true;
        pendingBegin = cacheLength + begin;
        pendingLastKnown = useSeg;
        if (useSeg) {
          pendingLast = extras.seg->at(b, begin + chunk - 1);
          for (int64_t t = 0; t < chunk; ++t)
            pendingExcluded[t] = extras.seg->at(b, begin + t) != pendingLast;
        }
      }
    }
    return schedules;
  }

  /// §6 short path: read, then write the first chunk of [prevK ; k] when the
  /// call completes a chunk.
  std::vector<Schedule> shortSchedules() const {
    int64_t total = cacheLength + length;
    bool present = extras.memory != nullptr;
    require(length < chunk, "the short path needs L < chunkSize");
    if (present)
      require(chunk < total && total <= 2 * chunk,
              "with a memory the short path needs C < P + L <= 2C");
    else
      require(total <= chunk, "without a memory the short path needs "
                              "P + L <= C");
    bool useSeg = extras.seg != nullptr;
    if (useSeg && present) {
      require(extras.prevSegCount != nullptr,
              "segment ids with a memory need prevSegCount");
      require(cacheLength == 0 || extras.prevSeg,
              "segment ids with a cache need prevSeg");
    }
    std::vector<Schedule> schedules(batch);
    for (int64_t b = 0; b < batch; ++b) {
      Schedule &steps = schedules[b];
      if (present) {
        Step read{StepKind::Read, 0, length, std::vector<bool>(length, false)};
        for (int64_t i = 0; i < length && useSeg; ++i)
          read.masked[i] = extras.seg->at(b, i) != extras.prevSegCount->at(b);
        steps.push_back(std::move(read));
      }
      if (total % chunk != 0)
        continue;
      if (!present) {
        steps.push_back({StepKind::Create, 0, 0, {}});
        continue;
      }
      std::vector<bool> excluded(chunk, false);
      if (useSeg) {
        auto segmentAt = [&](int64_t t) {
          return t < cacheLength ? extras.prevSeg->at(b, t)
                                 : extras.seg->at(b, t - cacheLength);
        };
        double last = segmentAt(chunk - 1);
        for (int64_t t = 0; t < chunk; ++t)
          excluded[t] = segmentAt(t) != last;
        if (last != extras.prevSegCount->at(b))
          steps.push_back({StepKind::Reset, 0, 0, {}});
      }
      steps.push_back({StepKind::Write, 0, chunk, excluded});
    }
    return schedules;
  }

  MemoryResult forward(const std::vector<Schedule> &schedules) const {
    MemoryResult result;
    result.y = Tensor({batch, heads, length, valueDim});
    bool endsPresent = false;
    Tensor memoryOut({batch, heads, features, valueDim});
    Tensor lntOut({batch, heads, features});
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h) {
        MemoryState state = initialState(b, h);
        for (const Step &step : schedules[b])
          apply(step, b, h, state, &result.y);
        endsPresent = state.present;
        if (!state.present)
          continue;
        for (int64_t s = 0; s < features; ++s) {
          lntOut.at(b, h, s) = state.lnt[s];
          for (int64_t d = 0; d < valueDim; ++d)
            memoryOut.at(b, h, s, d) = state.memory(s, d);
        }
      }
    if (endsPresent) {
      result.memory = std::move(memoryOut);
      result.lnt = std::move(lntOut);
    }
    return result;
  }

  MemoryGrads backward(const std::vector<Schedule> &schedules, const Tensor &dy,
                       const Tensor *dMemory, const Tensor *dLnt) const {
    require(dy.shape == std::vector<int64_t>({batch, heads, length, valueDim}),
            "dy must have the shape of the output (B,H,L,V)");
    if (dMemory)
      require(dMemory->shape ==
                  std::vector<int64_t>({batch, heads, features, valueDim}),
              "dMemory must be (B,H,S,V)");
    if (dLnt)
      require(dLnt->shape == std::vector<int64_t>({batch, heads, features}),
              "dLnt must be (B,H,S)");
    int64_t total = cacheLength + length;
    Tensor dq(q.shape);
    Tensor dKeys({batch, heads, total, features});
    Tensor dValues({batch, heads, total, valueDim});
    Tensor dMemoryIn({batch, heads, features, valueDim});
    Tensor dLntIn({batch, heads, features});
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h) {
        // Replay the forward, keeping the state before every step.
        const Schedule &steps = schedules[b];
        std::vector<MemoryState> before;
        MemoryState state = initialState(b, h);
        for (const Step &step : steps) {
          before.push_back(state);
          apply(step, b, h, state, nullptr);
        }
        // Carries dL/dM and dL/dZ of the state after the current step.
        Matrix gradMemory(features, valueDim);
        std::vector<double> gradLnt(features, 0.0);
        if (state.present)
          for (int64_t s = 0; s < features; ++s) {
            gradLnt[s] = dLnt ? dLnt->at(b, h, s) : 0.0;
            for (int64_t d = 0; d < valueDim; ++d)
              gradMemory(s, d) = dMemory ? dMemory->at(b, h, s, d) : 0.0;
          }
        for (size_t i = steps.size(); i-- > 0;) {
          const Step &step = steps[i];
          const MemoryState &prior = before[i];
          switch (step.kind) {
          case StepKind::Create:
          case StepKind::Reset:
            // The state before is discarded (or absent).
            gradMemory = Matrix(features, valueDim);
            std::fill(gradLnt.begin(), gradLnt.end(), 0.0);
            break;
          case StepKind::Read:
            readBackward(step, b, h, prior, dy, gradMemory, dq);
            break;
          case StepKind::Write:
            writeBackward(step, b, h, prior, gradMemory, gradLnt, dKeys,
                          dValues);
            break;
          }
        }
        if (!extras.memory)
          continue;
        for (int64_t s = 0; s < features; ++s) {
          dLntIn.at(b, h, s) = gradLnt[s];
          for (int64_t d = 0; d < valueDim; ++d)
            dMemoryIn.at(b, h, s, d) = gradMemory(s, d);
        }
      }
    MemoryGrads grads;
    grads.q = std::move(dq);
    grads.k = slice(dKeys, 2, cacheLength, total);
    grads.v = slice(dValues, 2, cacheLength, total);
    if (extras.memory) {
      grads.memory = std::move(dMemoryIn);
      grads.lnt = std::move(dLntIn);
    }
    if (extras.prevK) {
      grads.prevK = slice(dKeys, 2, 0, cacheLength);
      grads.prevV = slice(dValues, 2, 0, cacheLength);
    }
    return grads;
  }

private:
  double key(int64_t b, int64_t h, int64_t t, int64_t s) const {
    return t < cacheLength ? extras.prevK->at(b, h, t, s)
                           : k.at(b, h, t - cacheLength, s);
  }
  double value(int64_t b, int64_t h, int64_t t, int64_t d) const {
    return t < cacheLength ? extras.prevV->at(b, h, t, d)
                           : v.at(b, h, t - cacheLength, d);
  }
  std::vector<double> queryFeatures(int64_t b, int64_t h, int64_t i) const {
    std::vector<double> row(features);
    for (int64_t s = 0; s < features; ++s)
      row[s] = q.at(b, h, i, s);
    return softmax(row);
  }

  MemoryState initialState(int64_t b, int64_t h) const {
    MemoryState state;
    state.memory = Matrix(features, valueDim);
    state.lnt.assign(features, -INFINITY);
    if (!extras.memory)
      return state;
    state.present = true;
    for (int64_t s = 0; s < features; ++s) {
      state.lnt[s] = extras.lnt->at(b, h, s);
      for (int64_t d = 0; d < valueDim; ++d)
        state.memory(s, d) = extras.memory->at(b, h, s, d);
    }
    return state;
  }

  /// Advances `state` by one step; a read writes its rows of `y` if given.
  void apply(const Step &step, int64_t b, int64_t h, MemoryState &state,
             Tensor *y) const {
    switch (step.kind) {
    case StepKind::Create:
    case StepKind::Reset:
      state.memory = Matrix(features, valueDim);
      state.lnt.assign(features, -INFINITY);
      state.present = true;
      return;
    case StepKind::Read:
      if (!y)
        return;
      for (int64_t i = step.begin; i < step.end; ++i) {
        if (step.masked[i - step.begin])
          continue;
        std::vector<double> phi = queryFeatures(b, h, i);
        for (int64_t d = 0; d < valueDim; ++d) {
          double acc = 0.0;
          for (int64_t s = 0; s < features; ++s)
            acc += phi[s] * state.memory(s, d);
          y->at(b, h, i, d) = acc;
        }
      }
      return;
    case StepKind::Write: {
      WriteTerms terms = writeTerms(step, b, h, state);
      for (int64_t s = 0; s < features; ++s) {
        for (int64_t d = 0; d < valueDim; ++d)
          state.memory(s, d) +=
              terms.rho[s] * (terms.update(s, d) - state.memory(s, d));
        state.lnt[s] = terms.newLnt[s];
      }
      return;
    }
    }
  }

  WriteTerms writeTerms(const Step &step, int64_t b, int64_t h,
                        const MemoryState &state) const {
    int64_t n = step.end - step.begin;
    WriteTerms terms;
    terms.weights = Matrix(features, n);
    terms.rho.resize(features);
    terms.newLnt.resize(features);
    for (int64_t s = 0; s < features; ++s) {
      // a[s] = logsumexp over the kept keys; the chunk's last key is kept.
      double hi = -INFINITY;
      for (int64_t t = 0; t < n; ++t)
        if (!step.masked[t])
          hi = std::max(hi, key(b, h, step.begin + t, s));
      require(hi != -INFINITY, "a written chunk excludes all of its keys");
      double sum = 0.0;
      for (int64_t t = 0; t < n; ++t) {
        if (step.masked[t])
          continue;
        terms.weights(s, t) = std::exp(key(b, h, step.begin + t, s) - hi);
        sum += terms.weights(s, t);
      }
      for (int64_t t = 0; t < n; ++t)
        terms.weights(s, t) /= sum;
      double logMass = hi + std::log(sum);
      terms.newLnt[s] = logAddExp(state.lnt[s], logMass);
      terms.rho[s] = std::exp(logMass - terms.newLnt[s]);
    }
    terms.featureMap = Matrix(n, features);
    terms.residual = Matrix(n, valueDim);
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> row(features);
      for (int64_t s = 0; s < features; ++s)
        row[s] = key(b, h, step.begin + t, s);
      std::vector<double> psi = softmax(row);
      for (int64_t s = 0; s < features; ++s)
        terms.featureMap(t, s) = psi[s];
      for (int64_t d = 0; d < valueDim; ++d) {
        double predicted = 0.0;
        for (int64_t s = 0; s < features; ++s)
          predicted += psi[s] * state.memory(s, d);
        terms.residual(t, d) = value(b, h, step.begin + t, d) - predicted;
      }
    }
    terms.update = Matrix(features, valueDim);
    for (int64_t s = 0; s < features; ++s)
      for (int64_t d = 0; d < valueDim; ++d)
        for (int64_t t = 0; t < n; ++t)
          terms.update(s, d) += terms.weights(s, t) * terms.residual(t, d);
    return terms;
  }

  /// Accumulates dq of the read rows and adds phi^T dout to dL/dM.
  void readBackward(const Step &step, int64_t b, int64_t h,
                    const MemoryState &prior, const Tensor &dy,
                    Matrix &gradMemory, Tensor &dq) const {
    for (int64_t i = step.begin; i < step.end; ++i) {
      if (step.masked[i - step.begin])
        continue;
      std::vector<double> phi = queryFeatures(b, h, i);
      std::vector<double> dPhi(features, 0.0);
      for (int64_t s = 0; s < features; ++s)
        for (int64_t d = 0; d < valueDim; ++d) {
          gradMemory(s, d) += phi[s] * dy.at(b, h, i, d);
          dPhi[s] += dy.at(b, h, i, d) * prior.memory(s, d);
        }
      std::vector<double> dRow = softmaxBackward(phi, dPhi);
      for (int64_t s = 0; s < features; ++s)
        dq.at(b, h, i, s) += dRow[s];
    }
  }

  /// Turns dL/dM', dL/dZ' after a write into dL/dM, dL/dZ before it and
  /// accumulates the written keys' and values' gradients.
  void writeBackward(const Step &step, int64_t b, int64_t h,
                     const MemoryState &prior, Matrix &gradMemory,
                     std::vector<double> &gradLnt, Tensor &dKeys,
                     Tensor &dValues) const {
    int64_t n = step.end - step.begin;
    WriteTerms terms = writeTerms(step, b, h, prior);
    const Matrix &memory = prior.memory;
    // dU = rho G, d rho = sum_v G (U - M).
    Matrix dUpdate(features, valueDim);
    std::vector<double> dRho(features, 0.0);
    for (int64_t s = 0; s < features; ++s)
      for (int64_t d = 0; d < valueDim; ++d) {
        dUpdate(s, d) = terms.rho[s] * gradMemory(s, d);
        dRho[s] += gradMemory(s, d) * (terms.update(s, d) - memory(s, d));
      }
    // dE = W^T dU, dW = dU E^T.
    Matrix dResidual(n, valueDim);
    Matrix dWeights(features, n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t d = 0; d < valueDim; ++d)
        for (int64_t s = 0; s < features; ++s) {
          dResidual(t, d) += terms.weights(s, t) * dUpdate(s, d);
          dWeights(s, t) += dUpdate(s, d) * terms.residual(t, d);
        }
    // dM = (1 - rho) G - psi^T dE; d psi = -dE M^T.
    Matrix dMemoryBefore(features, valueDim);
    for (int64_t s = 0; s < features; ++s)
      for (int64_t d = 0; d < valueDim; ++d) {
        double acc = (1.0 - terms.rho[s]) * gradMemory(s, d);
        for (int64_t t = 0; t < n; ++t)
          acc -= terms.featureMap(t, s) * dResidual(t, d);
        dMemoryBefore(s, d) = acc;
      }
    // Z' = logaddexp(Z, a), rho = exp(a - Z'); both 0 terms when Z = -inf.
    std::vector<double> dLogMass(features), dLntBefore(features);
    for (int64_t s = 0; s < features; ++s) {
      double rho = terms.rho[s], coupling = rho * (1.0 - rho) * dRho[s];
      dLogMass[s] = rho * gradLnt[s] + coupling;
      dLntBefore[s] = (1.0 - rho) * gradLnt[s] - coupling;
    }
    for (int64_t t = 0; t < n; ++t) {
      int64_t row = step.begin + t;
      for (int64_t d = 0; d < valueDim; ++d)
        dValues.at(b, h, row, d) += dResidual(t, d);
      // psi = softmax over features of the key row.
      std::vector<double> psi(features), dPsi(features, 0.0);
      for (int64_t s = 0; s < features; ++s) {
        psi[s] = terms.featureMap(t, s);
        for (int64_t d = 0; d < valueDim; ++d)
          dPsi[s] -= dResidual(t, d) * memory(s, d);
      }
      std::vector<double> dKeyRow = softmaxBackward(psi, dPsi);
      for (int64_t s = 0; s < features; ++s)
        dKeys.at(b, h, row, s) += dKeyRow[s];
    }
    // W = softmax over time and a = logsumexp over time (dA/dk = W).
    for (int64_t s = 0; s < features; ++s) {
      double dotWdW = 0.0;
      for (int64_t t = 0; t < n; ++t)
        dotWdW += terms.weights(s, t) * dWeights(s, t);
      for (int64_t t = 0; t < n; ++t) {
        if (step.masked[t])
          continue;
        double w = terms.weights(s, t);
        dKeys.at(b, h, step.begin + t, s) +=
            w * (dWeights(s, t) - dotWdW) + dLogMass[s] * w;
      }
    }
    gradMemory = std::move(dMemoryBefore);
    gradLnt = std::move(dLntBefore);
  }

  const Tensor &q, &k, &v;
  int64_t chunk;
  MemoryExtras extras;
  int64_t batch = 0, heads = 0, length = 0, features = 0, valueDim = 0;
  int64_t cacheLength = 0;
};

} // namespace

MemoryResult memoryChunkedForward(const Tensor &q, const Tensor &k,
                                  const Tensor &v, int64_t chunkSize,
                                  const MemoryExtras &extras) {
  WorkingMemory memory(q, k, v, chunkSize, extras);
  return memory.forward(memory.chunkedSchedules());
}

MemoryResult memoryShortForward(const Tensor &q, const Tensor &k,
                                const Tensor &v, int64_t chunkSize,
                                const MemoryExtras &extras) {
  WorkingMemory memory(q, k, v, chunkSize, extras);
  return memory.forward(memory.shortSchedules());
}

MemoryGrads memoryChunkedBackward(const Tensor &q, const Tensor &k,
                                  const Tensor &v, int64_t chunkSize,
                                  const MemoryExtras &extras, const Tensor &dy,
                                  const Tensor *dMemory, const Tensor *dLnt) {
  WorkingMemory memory(q, k, v, chunkSize, extras);
  return memory.backward(memory.chunkedSchedules(), dy, dMemory, dLnt);
}

MemoryGrads memoryShortBackward(const Tensor &q, const Tensor &k,
                                const Tensor &v, int64_t chunkSize,
                                const MemoryExtras &extras, const Tensor &dy,
                                const Tensor *dMemory, const Tensor *dLnt) {
  WorkingMemory memory(q, k, v, chunkSize, extras);
  return memory.backward(memory.shortSchedules(), dy, dMemory, dLnt);
}

} // namespace gecko::ref
