//===- AotDriver.h - What the gecko-aot test drivers share ------*- C++ -*-===//
//
// What aot-rms-driver.cpp and aot-packed-driver.cpp both need to call a
// library gecko-aot made from rms-norm.mlir / packed.mlir (plain C++, no
// MLIR, no LLVM): memref descriptors over std::vector<float>, dlopen of the
// library named on the command line, the group RMS norm in double and the
// comparison of a (B, L, D) result with it.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TEST_TOOLS_GECKO_AOT_AOTDRIVER_H
#define GECKO_TEST_TOOLS_GECKO_AOT_AOTDRIVER_H

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace aotdriver {

template <int Rank> struct MemRef {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

/// A row-major descriptor of `data`.
template <int Rank>
MemRef<Rank> describe(std::vector<float> &data, const int64_t (&shape)[Rank]) {
  MemRef<Rank> memref;
  memref.allocated = memref.aligned = data.data();
  memref.offset = 0;
  int64_t stride = 1;
  for (int d = Rank - 1; d >= 0; --d) {
    memref.sizes[d] = shape[d];
    memref.strides[d] = stride;
    stride *= shape[d];
  }
  return memref;
}

// The shapes of the entries in rms-norm.mlir and packed.mlir.
constexpr int64_t B = 3, L = 37, D = 24;
constexpr double kEps = 1e-5;

/// x (B, L, D) and w (D), uniform in [-2, 2) from `seed`.
inline void randomInputs(unsigned seed, std::vector<float> &x,
                         std::vector<float> &w) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  x.assign(B * L * D, 0.0f);
  w.assign(D, 0.0f);
  for (float &v : x)
    v = uniform(rng);
  for (float &v : w)
    v = uniform(rng);
}

/// y = x * (mean_g(x^2) + eps)^(-1/2) * (w + 1) over `groups` groups of the
/// last dimension (no weight: * 1).
inline std::vector<double> rmsNorm(const std::vector<float> &x,
                                   const std::vector<float> *w,
                                   int64_t groups) {
  std::vector<double> y(x.size());
  int64_t n = D / groups;
  for (int64_t row = 0; row < B * L; ++row)
    for (int64_t g = 0; g < groups; ++g) {
      const float *xs = x.data() + row * D + g * n;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i)
        sum += double(xs[i]) * xs[i];
      double r = 1.0 / std::sqrt(sum / n + kEps);
      for (int64_t i = 0; i < n; ++i) {
        double scale = w ? double((*w)[g * n + i]) + 1.0 : 1.0;
        y[row * D + g * n + i] = xs[i] * r * scale;
      }
    }
  return y;
}

/// Checks the (B, L, D) shape of `result`, reads it through its strides and
/// prints its max relative error against `expected`; clears `ok` above 1e-5
/// (|a-b| / max(1, |b|)) or on NaN.
inline void compare(const MemRef<3> &result,
                    const std::vector<double> &expected, const char *what,
                    bool &ok) {
  const int64_t shape[3] = {B, L, D};
  for (int d = 0; d < 3; ++d)
    if (result.sizes[d] != shape[d]) {
      std::printf("%s: size %d is %lld, expected %lld\n", what, d,
                  (long long)result.sizes[d], (long long)shape[d]);
      ok = false;
      return;
    }
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t c = 0; c < D; ++c) {
        double got =
            result.aligned[result.offset + b * result.strides[0] +
                           l * result.strides[1] + c * result.strides[2]];
        double want = expected[(b * L + l) * D + c];
        double err = std::fabs(got - want) / std::max(1.0, std::fabs(want));
        if (!(err <= worst))
          worst = err; // NaN propagates
      }
  bool pass = worst <= 1e-5;
  std::printf("%s: max rel error %.3g %s\n", what, worst, pass ? "ok" : "FAIL");
  ok = ok && pass;
}

/// dlopens argv[1] (the only argument); prints why and returns null when it
/// cannot.
inline void *openLibrary(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s lib.so\n", argv[0]);
    return nullptr;
  }
  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library)
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
  return library;
}

} // namespace aotdriver

#endif // GECKO_TEST_TOOLS_GECKO_AOT_AOTDRIVER_H
