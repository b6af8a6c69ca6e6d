//===- aot-rms-driver.cpp - Call a gecko-aot shared library ---------------===//
//
// Test driver for test/tools/gecko-aot/rms-norm.mlir: dlopens the shared
// library gecko-aot made from it (this program links neither MLIR nor LLVM),
// calls its C-interface entries with memref descriptors on random inputs and
// compares with the group RMS norm computed by a plain loop in double:
//   y = x * (mean_g(x^2) + eps)^(-1/2) * (w + 1)
// Exits 0 when every entry matches within 1e-5 (|a-b| / max(1, |b|)).
//
//===----------------------------------------------------------------------===//

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

template <int Rank> struct MemRef {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

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

// The shapes of the entries in rms-norm.mlir.
constexpr int64_t B = 3, L = 37, D = 24;
constexpr double kEps = 1e-5;

std::vector<double> rmsNorm(const std::vector<float> &x,
                            const std::vector<float> *w, int64_t groups) {
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

/// Max relative error of a result descriptor against `expected`; checks
/// the shape and reads through the strides.
double compare(const MemRef<3> &result, const std::vector<double> &expected,
               const char *what, bool &ok) {
  const int64_t shape[3] = {B, L, D};
  for (int d = 0; d < 3; ++d)
    if (result.sizes[d] != shape[d]) {
      std::printf("%s: size %d is %lld, expected %lld\n", what, d,
                  (long long)result.sizes[d], (long long)shape[d]);
      ok = false;
      return INFINITY;
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
  return worst;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s lib.so\n", argv[0]);
    return 2;
  }
  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  using Affine = void (*)(MemRef<3> *, MemRef<3> *, MemRef<1> *);
  struct Pair {
    MemRef<3> first, second;
  };
  using TwoResults = void (*)(Pair *, MemRef<3> *);
  auto affine =
      reinterpret_cast<Affine>(dlsym(library, "_mlir_ciface_rms_norm_affine"));
  auto twoResults = reinterpret_cast<TwoResults>(
      dlsym(library, "_mlir_ciface_rms_norm_groups"));
  if (!affine || !twoResults) {
    std::fprintf(stderr, "dlsym: %s\n", dlerror());
    return 2;
  }

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> x(B * L * D), w(D);
  for (float &v : x)
    v = uniform(rng);
  for (float &v : w)
    v = uniform(rng);
  const std::vector<float> xCopy = x, wCopy = w;
  const int64_t xShape[3] = {B, L, D};
  const int64_t wShape[1] = {D};
  MemRef<3> xRef = describe(x, xShape);
  MemRef<1> wRef = describe(w, wShape);

  bool ok = true;
  MemRef<3> y{};
  affine(&y, &xRef, &wRef);
  compare(y, rmsNorm(xCopy, &wCopy, 2), "rms_norm_affine (G=2, weight)", ok);
  if (y.allocated != x.data())
    std::free(y.allocated);

  Pair pair{};
  twoResults(&pair, &xRef);
  compare(pair.first, rmsNorm(xCopy, nullptr, 1), "rms_norm_groups #0 (G=1)",
          ok);
  compare(pair.second, rmsNorm(xCopy, nullptr, 4), "rms_norm_groups #1 (G=4)",
          ok);
  if (pair.first.allocated != x.data())
    std::free(pair.first.allocated);
  if (pair.second.allocated != x.data() &&
      pair.second.allocated != pair.first.allocated)
    std::free(pair.second.allocated);
  if (x != xCopy || w != wCopy) {
    std::printf("the inputs were modified\n");
    ok = false;
  }
  dlclose(library);
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
