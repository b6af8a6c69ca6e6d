//===- ComplexEma.cpp - Multi-head complex EMA (spec §2) ------------------===//
//
// A sequential complex recurrence per (b, d, n); the backward pass walks it in
// reverse with the PyTorch complex-gradient convention G = dL/dRe + i dL/dIm.
//
//===----------------------------------------------------------------------===//

#include "gecko/Reference/ComplexEma.h"

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>

namespace gecko::ref {

namespace {

using Complex = std::complex<double>;

constexpr double kTwoPi = 6.283185307179586476925286766559;

// Shape errors are programming errors; fail loudly even in release builds.
void require(bool ok, const char *what) {
  if (ok)
    return;
  std::fprintf(stderr, "gecko::ref::complexEma: %s\n", what);
  std::abort();
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

Complex complexAt(const Tensor &t, int64_t flatPair) {
  return {t[2 * flatPair], t[2 * flatPair + 1]};
}

void storeComplex(Tensor &t, int64_t flatPair, Complex v) {
  t[2 * flatPair] = v.real();
  t[2 * flatPair + 1] = v.imag();
}

void addComplex(Tensor &t, int64_t flatPair, Complex v) {
  t[2 * flatPair] += v.real();
  t[2 * flatPair + 1] += v.imag();
}

struct Dims {
  int64_t batch, channels, length, order;
};

Dims checkScanShapes(const Tensor &x, const CemaCoefficients &coeffs,
                     const Tensor *hx, const Tensor *bos) {
  require(x.rank() == 3, "x must be (B, D, L)");
  require(coeffs.p.rank() == 2 && coeffs.p.dim(0) == x.dim(1),
          "p must be (D, N)");
  Dims d{x.dim(0), x.dim(1), x.dim(2), coeffs.p.dim(1)};
  std::vector<int64_t> pairShape{d.channels, d.order, 2};
  require(coeffs.q.shape == pairShape, "q must be (D, N, 2)");
  require(coeffs.gamma.shape == pairShape, "gamma must be (D, N, 2)");
  require(!hx || hx->shape ==
                     std::vector<int64_t>{d.batch, d.channels, d.order, 2},
          "hx must be (B, D, N, 2)");
  require(!bos || bos->shape == std::vector<int64_t>{d.batch, d.length},
          "bos must be (B, L)");
  return d;
}

bool isBos(const Tensor *bos, int64_t b, int64_t t) {
  return bos && bos->at(b, t) != 0.0;
}

/// Hidden states h_t of one (b, d, n) for t = -1 .. L-1 (index t + 1).
std::vector<Complex> scanStates(const Tensor &x, const Dims &d,
                                const CemaCoefficients &coeffs,
                                const Tensor *hx, const Tensor *bos, int64_t b,
                                int64_t c, int64_t n) {
  int64_t coeff = c * d.order + n;
  double p = coeffs.p[coeff];
  Complex q = complexAt(coeffs.q, coeff);
  std::vector<Complex> h(d.length + 1);
  h[0] = hx ? complexAt(*hx, (b * d.channels + c) * d.order + n) : Complex();
  for (int64_t t = 0; t < d.length; ++t) {
    Complex a = isBos(bos, b, t) ? Complex() : q;
    h[t + 1] = a * h[t] + p * x.at(b, c, t);
  }
  return h;
}

} // namespace

CemaCoefficients cemaCoefficients(const Tensor &alpha, const Tensor &delta,
                                  const Tensor &theta, const Tensor &gamma) {
  require(alpha.rank() == 2, "alpha must be (D, N)");
  int64_t channels = alpha.dim(0), order = alpha.dim(1);
  require(delta.shape == alpha.shape, "delta must be (D, N)");
  require(theta.shape == std::vector<int64_t>{channels}, "theta must be (D)");
  require(gamma.shape == std::vector<int64_t>{channels, order, 2},
          "gamma must be (D, N, 2)");
  CemaCoefficients coeffs;
  coeffs.p = Tensor(alpha.shape);
  coeffs.q = Tensor({channels, order, 2});
  coeffs.gamma = gamma;
  for (int64_t c = 0; c < channels; ++c) {
    double baseAngle = sigmoid(theta[c]) * kTwoPi / order;
    for (int64_t n = 0; n < order; ++n) {
      int64_t i = c * order + n;
      double gain = sigmoid(alpha[i]);
      double magnitude = 1.0 - gain * sigmoid(delta[i]);
      coeffs.p[i] = gain;
      storeComplex(coeffs.q, i, std::polar(magnitude, (n + 1) * baseAngle));
    }
  }
  return coeffs;
}

CemaResult cemaForward(const Tensor &x, const CemaCoefficients &coeffs,
                       const Tensor *hx, const Tensor *bos) {
  Dims d = checkScanShapes(x, coeffs, hx, bos);
  CemaResult result;
  result.y = x; // residual
  result.h = Tensor({d.batch, d.channels, d.order, 2});
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t c = 0; c < d.channels; ++c)
      for (int64_t n = 0; n < d.order; ++n) {
        std::vector<Complex> h = scanStates(x, d, coeffs, hx, bos, b, c, n);
        Complex g = complexAt(coeffs.gamma, c * d.order + n);
        for (int64_t t = 0; t < d.length; ++t)
          result.y.at(b, c, t) += (g * h[t + 1]).real();
        storeComplex(result.h, (b * d.channels + c) * d.order + n, h[d.length]);
      }
  return result;
}

CemaScanGrads cemaBackward(const Tensor &x, const CemaCoefficients &coeffs,
                           const Tensor *hx, const Tensor *bos,
                           const Tensor &dy, const Tensor *dh) {
  Dims d = checkScanShapes(x, coeffs, hx, bos);
  require(dy.shape == x.shape, "dy must have the shape of x");
  std::vector<int64_t> stateShape{d.batch, d.channels, d.order, 2};
  require(!dh || dh->shape == stateShape, "dh must be (B, D, N, 2)");

  CemaScanGrads grads;
  grads.x = dy; // residual
  grads.hx = Tensor(stateShape);
  grads.p = Tensor(coeffs.p.shape);
  grads.q = Tensor(coeffs.q.shape);
  grads.gamma = Tensor(coeffs.gamma.shape);
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t c = 0; c < d.channels; ++c)
      for (int64_t n = 0; n < d.order; ++n) {
        int64_t coeff = c * d.order + n;
        int64_t state = (b * d.channels + c) * d.order + n;
        double p = coeffs.p[coeff];
        Complex q = complexAt(coeffs.q, coeff);
        Complex gConj = std::conj(complexAt(coeffs.gamma, coeff));
        std::vector<Complex> h = scanStates(x, d, coeffs, hx, bos, b, c, n);
        // G holds dL/dh_t; it enters step t from step t+1 through conj(a).
        Complex grad = dh ? complexAt(*dh, state) : Complex();
        Complex dq, dGamma;
        double dp = 0.0;
        for (int64_t t = d.length - 1; t >= 0; --t) {
          double dout = dy.at(b, c, t);
          grad += gConj * dout;
          grads.x.at(b, c, t) += p * grad.real();
          dp += x.at(b, c, t) * grad.real();
          dGamma += std::conj(h[t + 1]) * dout;
          bool reset = isBos(bos, b, t);
          if (!reset)
            dq += std::conj(h[t]) * grad;
          grad = reset ? Complex() : std::conj(q) * grad;
        }
        storeComplex(grads.hx, state, grad);
        grads.p[coeff] += dp;
        addComplex(grads.q, coeff, dq);
        addComplex(grads.gamma, coeff, dGamma);
      }
  return grads;
}

CemaParamGrads cemaCoefficientsBackward(const Tensor &alpha,
                                        const Tensor &delta,
                                        const Tensor &theta,
                                        const Tensor &gamma,
                                        const CemaScanGrads &grads) {
  CemaCoefficients coeffs = cemaCoefficients(alpha, delta, theta, gamma);
  int64_t channels = alpha.dim(0), order = alpha.dim(1);
  require(grads.p.shape == alpha.shape, "grads.p must be (D, N)");
  require(grads.q.shape == coeffs.q.shape, "grads.q must be (D, N, 2)");
  require(grads.gamma.shape == gamma.shape, "grads.gamma must be (D, N, 2)");
  CemaParamGrads out;
  out.alpha = Tensor(alpha.shape);
  out.delta = Tensor(delta.shape);
  out.theta = Tensor(theta.shape);
  out.gamma = grads.gamma; // gamma is used as is
  for (int64_t c = 0; c < channels; ++c) {
    double sigTheta = sigmoid(theta[c]);
    double dBaseAngle = 0.0;
    for (int64_t n = 0; n < order; ++n) {
      int64_t i = c * order + n;
      double sigAlpha = sigmoid(alpha[i]), sigDelta = sigmoid(delta[i]);
      double angle = (n + 1) * sigTheta * kTwoPi / order;
      Complex q = complexAt(coeffs.q, i), dq = complexAt(grads.q, i);
      // q = |q| e^{iφ}: chain the (dRe, dIm) pair to magnitude and phase.
      double dMagnitude = (dq * std::polar(1.0, -angle)).real();
      double dAngle = (dq * std::conj(q)).imag();
      // p = σ(α), |q| = 1 − σ(α)σ(δ).
      out.alpha[i] =
          (grads.p[i] - dMagnitude * sigDelta) * sigAlpha * (1.0 - sigAlpha);
      out.delta[i] = -dMagnitude * sigAlpha * sigDelta * (1.0 - sigDelta);
      dBaseAngle += dAngle * (n + 1);
    }
    out.theta[c] = dBaseAngle * kTwoPi / order * sigTheta * (1.0 - sigTheta);
  }
  return out;
}

} // namespace gecko::ref
