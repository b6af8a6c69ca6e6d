//===- TimestepNorm.cpp - Timestep decay norm (spec §1) -------------------===//
//
// The running statistics are evaluated with the plain step recurrence of §1
// (the golden oracle uses the equivalent closed form). The backward pass
// re-runs the forward recurrence to recover per-step statistics, then walks
// the steps in reverse carrying the gradients of the running mean and var.
// Infinite inputs are skipped in the statistics (§1 step 1); their outputs are
// infinite and carry no gradient.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/TimestepNorm.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gecko::ref {

namespace {

// Shape errors are programming errors; fail loudly even in release builds.
void require(bool ok, const char *what) {
  if (ok)
    return;
  std::fprintf(stderr, "gecko::ref::timestepNorm: %s\n", what);
  std::abort();
}

struct Dims {
  int64_t batch, length, channels, groups, groupSize;
};

Dims checkShapes(const Tensor &x, const Tensor &weight, const Tensor &bias,
                 const TimestepNormConfig &config, const Tensor *prevCount,
                 const Tensor *prevMean, const Tensor *prevVar,
                 const Tensor *bos, const Tensor *padding) {
  require(x.rank() == 3, "x must be (B, L, D)");
  Dims d{x.dim(0), x.dim(1), x.dim(2), config.numGroups, 0};
  require(d.groups > 0 && d.channels % d.groups == 0,
          "numGroups must divide D");
  d.groupSize = d.channels / d.groups;
  require(weight.shape == std::vector<int64_t>{d.channels},
          "weight must be (D)");
  require(bias.shape == std::vector<int64_t>{d.channels}, "bias must be (D)");
  if (prevCount) {
    require(prevCount->shape == std::vector<int64_t>{d.batch},
            "prevCount must be (B)");
    for (double c : prevCount->data)
      require(c >= 0 && c == std::floor(c), "prevCount must be integral >= 0");
  }
  std::vector<int64_t> stateShape{d.batch, d.groups};
  require(!prevMean || prevMean->shape == stateShape,
          "prevMean must be (B, G)");
  require(!prevVar || prevVar->shape == stateShape, "prevVar must be (B, G)");
  std::vector<int64_t> maskShape{d.batch, d.length};
  require(!bos || bos->shape == maskShape, "bos must be (B, L)");
  require(!padding || padding->shape == maskShape, "padding must be (B, L)");
  return d;
}

/// Per-step quantities of one (b, t, g), shared by forward and backward.
struct Step {
  bool active = false; // false at padded positions
  bool reset = false;  // effective bos (bos at a padded position is ignored)
  double count = 0, groupMean = 0, groupVar = 0;
  double mean = 0, var = 0;         // raw running state after the step
  double meanHat = 0, rstd = 0;     // bias-corrected mean, (v̂ + eps)^(-1/2)
  double meanCorr = 1, varCorr = 1; // 1 - β1^count, 1 - β2^count
};

/// Population moments of one group. ±inf lanes are skipped in both sums but
/// still counted in the divisor, as the kernel's padding-lane trick does.
void groupMoments(const double *xs, int64_t n, double &mean, double &var) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isinf(xs[i]))
      sum += xs[i];
  mean = sum / n;
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isinf(xs[i]))
      sq += (xs[i] - mean) * (xs[i] - mean);
  var = sq / n;
}

/// Runs the recurrence of §1 steps 1-3; returns steps indexed [(b*L+t)*G+g]
/// and the count after the last step per batch row.
std::vector<Step> runRecurrence(const Tensor &x, const Dims &d,
                                const TimestepNormConfig &config,
                                const Tensor *prevCount, const Tensor *prevMean,
                                const Tensor *prevVar, const Tensor *bos,
                                const Tensor *padding,
                                std::vector<double> &finalCount) {
  std::vector<Step> steps(d.batch * d.length * d.groups);
  finalCount.assign(d.batch, 0.0);
  for (int64_t b = 0; b < d.batch; ++b) {
    double count = prevCount ? (*prevCount)[b] : 0.0;
    std::vector<double> mean(d.groups), var(d.groups);
    for (int64_t g = 0; g < d.groups; ++g) {
      mean[g] = prevMean ? prevMean->at(b, g) : 0.0;
      var[g] = prevVar ? prevVar->at(b, g) : 0.0;
    }
    for (int64_t t = 0; t < d.length; ++t) {
      bool active = !padding || padding->at(b, t) == 0.0;
      bool reset = active && bos && bos->at(b, t) != 0.0;
      if (active)
        count = reset ? 1.0 : count + 1.0;
      for (int64_t g = 0; g < d.groups; ++g) {
        Step &s = steps[(b * d.length + t) * d.groups + g];
        s.active = active;
        s.reset = reset;
        s.count = count;
        if (!active)
          continue;
        groupMoments(&x.data[(b * d.length + t) * d.channels + g * d.groupSize],
                     d.groupSize, s.groupMean, s.groupVar);
        double keepMean = reset ? 0.0 : config.beta1 * mean[g];
        double keepVar = reset ? 0.0 : config.beta2 * var[g];
        mean[g] = keepMean + (1.0 - config.beta1) * s.groupMean;
        var[g] = keepVar + (1.0 - config.beta2) * s.groupVar;
        s.mean = mean[g];
        s.var = var[g];
        s.meanCorr = 1.0 - std::pow(config.beta1, count);
        s.varCorr = 1.0 - std::pow(config.beta2, count);
        s.meanHat = s.mean / s.meanCorr;
        s.rstd = 1.0 / std::sqrt(s.var / s.varCorr + config.eps);
      }
    }
    finalCount[b] = count;
  }
  return steps;
}

/// Raw running state after the last step: the last active step's, or the
/// carried-in state when every step was padded.
void finalState(const std::vector<Step> &steps, const Dims &d,
                const Tensor *prevMean, const Tensor *prevVar,
                TimestepNormState &state) {
  state.mean = Tensor({d.batch, d.groups});
  state.var = Tensor({d.batch, d.groups});
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t g = 0; g < d.groups; ++g) {
      double mean = prevMean ? prevMean->at(b, g) : 0.0;
      double var = prevVar ? prevVar->at(b, g) : 0.0;
      for (int64_t t = d.length - 1; t >= 0; --t) {
        const Step &s = steps[(b * d.length + t) * d.groups + g];
        if (s.active) {
          mean = s.mean;
          var = s.var;
          break;
        }
      }
      state.mean.at(b, g) = mean;
      state.var.at(b, g) = var;
    }
}

} // namespace

TimestepNormResult
timestepNormForward(const Tensor &x, const Tensor &weight, const Tensor &bias,
                    const TimestepNormConfig &config, const Tensor *prevCount,
                    const Tensor *prevMean, const Tensor *prevVar,
                    const Tensor *bos, const Tensor *padding) {
  Dims d = checkShapes(x, weight, bias, config, prevCount, prevMean, prevVar,
                       bos, padding);
  std::vector<double> finalCount;
  std::vector<Step> steps = runRecurrence(x, d, config, prevCount, prevMean,
                                          prevVar, bos, padding, finalCount);
  TimestepNormResult result;
  result.y = Tensor(x.shape);
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t t = 0; t < d.length; ++t)
      for (int64_t g = 0; g < d.groups; ++g) {
        const Step &s = steps[(b * d.length + t) * d.groups + g];
        if (!s.active)
          continue; // y = 0 at padded positions
        for (int64_t i = g * d.groupSize; i < (g + 1) * d.groupSize; ++i)
          result.y.at(b, t, i) =
              (x.at(b, t, i) - s.meanHat) * s.rstd * (weight[i] + 1.0) +
              bias[i];
      }
  result.state.count = Tensor({d.batch}, finalCount);
  finalState(steps, d, prevMean, prevVar, result.state);
  return result;
}

TimestepNormGrads
timestepNormBackward(const Tensor &x, const Tensor &weight, const Tensor &bias,
                     const TimestepNormConfig &config, const Tensor *prevCount,
                     const Tensor *prevMean, const Tensor *prevVar,
                     const Tensor *bos, const Tensor *padding, const Tensor &dy,
                     const Tensor *dMean, const Tensor *dVar) {
  Dims d = checkShapes(x, weight, bias, config, prevCount, prevMean, prevVar,
                       bos, padding);
  require(dy.shape == x.shape, "dy must have the shape of x");
  std::vector<int64_t> stateShape{d.batch, d.groups};
  require(!dMean || dMean->shape == stateShape, "dMean must be (B, G)");
  require(!dVar || dVar->shape == stateShape, "dVar must be (B, G)");
  std::vector<double> finalCount;
  std::vector<Step> steps = runRecurrence(x, d, config, prevCount, prevMean,
                                          prevVar, bos, padding, finalCount);

  TimestepNormGrads grads;
  grads.x = Tensor(x.shape);
  grads.weight = Tensor({d.channels});
  grads.bias = Tensor({d.channels});
  grads.prevMean = Tensor(stateShape);
  grads.prevVar = Tensor(stateShape);
  const double n = static_cast<double>(d.groupSize);
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t g = 0; g < d.groups; ++g) {
      // Gradients reaching the raw running mean / var from later steps.
      double carryMean = dMean ? dMean->at(b, g) : 0.0;
      double carryVar = dVar ? dVar->at(b, g) : 0.0;
      int64_t lo = g * d.groupSize, hi = (g + 1) * d.groupSize;
      for (int64_t t = d.length - 1; t >= 0; --t) {
        const Step &s = steps[(b * d.length + t) * d.groups + g];
        if (!s.active)
          continue; // dx = 0, carries pass through unchanged
        double sumScaled = 0.0, sumScaledCentered = 0.0, sumDev = 0.0;
        for (int64_t i = lo; i < hi; ++i) {
          // A skipped (infinite) lane has an infinite output that carries no
          // gradient; counting it would turn every gradient into NaN.
          if (std::isinf(x.at(b, t, i)))
            continue;
          double scaled = dy.at(b, t, i) * (weight[i] + 1.0);
          sumScaled += scaled;
          sumScaledCentered += scaled * (x.at(b, t, i) - s.meanHat);
          grads.weight[i] +=
              dy.at(b, t, i) * (x.at(b, t, i) - s.meanHat) * s.rstd;
          grads.bias[i] += dy.at(b, t, i);
          sumDev += x.at(b, t, i) - s.groupMean;
        }
        double dm = carryMean - s.rstd * sumScaled / s.meanCorr;
        double dv = carryVar - 0.5 * s.rstd * s.rstd * s.rstd *
                                   sumScaledCentered / s.varCorr;
        double dGroupMean = (1.0 - config.beta1) * dm;
        double dGroupVar = (1.0 - config.beta2) * dv;
        for (int64_t i = lo; i < hi; ++i) {
          if (std::isinf(x.at(b, t, i)))
            continue; // dx = 0: the lane feeds neither a statistic nor y
          double direct = dy.at(b, t, i) * s.rstd * (weight[i] + 1.0);
          // sumDev is zero unless some lane of the group was skipped.
          double devGrad = (x.at(b, t, i) - s.groupMean) - sumDev / n;
          grads.x.at(b, t, i) =
              direct + (dGroupMean + 2.0 * dGroupVar * devGrad) / n;
        }
        carryMean = s.reset ? 0.0 : config.beta1 * dm;
        carryVar = s.reset ? 0.0 : config.beta2 * dv;
      }
      grads.prevMean.at(b, g) = carryMean;
      grads.prevVar.at(b, g) = carryVar;
    }
  return grads;
}

} // namespace gecko::ref
