//===- aot-packed-driver.cpp - Call gecko-aot packed entries --------------===//
//
// Test driver for test/tools/gecko-aot/packed.mlir: dlopens the shared
// library gecko-aot --packed-interface made from it (this program links
// neither MLIR nor LLVM) and calls `_gecko_packed_<name>(void **args)`:
// args[0] = the result storage (one descriptor, or several concatenated),
// args[1 + i] = a pointer to argument i's value (a `MemRef *` for a memref,
// an `int64_t` for a scalar). Compares with loops in double; exits 0 when
// every result matches within 1e-5 (|a-b| / max(1, |b|)) and the inputs are
// unchanged.
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

constexpr int64_t B = 3, L = 37, D = 24, G = 2;
constexpr double kEps = 1e-5;

std::vector<double> rmsNorm(const std::vector<float> &x,
                            const std::vector<float> &w) {
  std::vector<double> y(x.size());
  int64_t n = D / G;
  for (int64_t row = 0; row < B * L; ++row)
    for (int64_t g = 0; g < G; ++g) {
      const float *xs = x.data() + row * D + g * n;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i)
        sum += double(xs[i]) * xs[i];
      double r = 1.0 / std::sqrt(sum / n + kEps);
      for (int64_t i = 0; i < n; ++i)
        y[row * D + g * n + i] = xs[i] * r * (double(w[g * n + i]) + 1.0);
    }
  return y;
}

std::vector<double> scale(const std::vector<float> &x, int64_t n) {
  std::vector<double> z(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    z[i] = double(x[i]) * double(n + 1);
  return z;
}

void compare(const MemRef<3> &result, const std::vector<double> &expected,
             const char *what, bool &ok) {
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

void release(float *allocated, const std::vector<const float *> &kept) {
  if (std::find(kept.begin(), kept.end(), allocated) == kept.end())
    std::free(allocated);
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
  using Packed = void (*)(void **);
  auto normAndScale =
      reinterpret_cast<Packed>(dlsym(library, "_gecko_packed_norm_and_scale"));
  auto scaleOnly =
      reinterpret_cast<Packed>(dlsym(library, "_gecko_packed_scale"));
  if (!normAndScale || !scaleOnly) {
    std::fprintf(stderr, "dlsym: %s\n", dlerror());
    return 2;
  }

  std::mt19937 rng(7);
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
  MemRef<3> *xPtr = &xRef;
  MemRef<1> *wPtr = &wRef;
  int64_t n = 5;

  bool ok = true;
  // Two results: the descriptors concatenated (all fields 8 bytes).
  MemRef<3> pair[2] = {};
  static_assert(sizeof(pair) == 2 * 8 * (3 + 2 * 3), "no padding");
  void *args[] = {pair, &xPtr, &wPtr, &n};
  normAndScale(args);
  compare(pair[0], rmsNorm(xCopy, wCopy), "norm_and_scale #0 (rms norm)", ok);
  compare(pair[1], scale(xCopy, n), "norm_and_scale #1 (x * (n + 1))", ok);
  release(pair[0].allocated, {x.data(), w.data()});
  release(pair[1].allocated, {x.data(), w.data(), pair[0].allocated});

  // One result: one descriptor.
  MemRef<3> single{};
  int64_t m = -3;
  void *scaleArgs[] = {&single, &xPtr, &m};
  scaleOnly(scaleArgs);
  compare(single, scale(xCopy, m), "scale (x * (n + 1))", ok);
  release(single.allocated, {x.data()});

  if (x != xCopy || w != wCopy) {
    std::printf("the inputs were modified\n");
    ok = false;
  }
  dlclose(library);
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
