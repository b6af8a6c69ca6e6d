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

#include "AotDriver.h"

#include <cstdlib>
#include <vector>

using namespace aotdriver;

namespace {

constexpr int64_t G = 2;

std::vector<double> scale(const std::vector<float> &x, int64_t n) {
  std::vector<double> z(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    z[i] = double(x[i]) * double(n + 1);
  return z;
}

void release(float *allocated, const std::vector<const float *> &kept) {
  if (std::find(kept.begin(), kept.end(), allocated) == kept.end())
    std::free(allocated);
}

} // namespace

int main(int argc, char **argv) {
  void *library = openLibrary(argc, argv);
  if (!library)
    return 2;
  using Packed = void (*)(void **);
  auto normAndScale =
      reinterpret_cast<Packed>(dlsym(library, "_gecko_packed_norm_and_scale"));
  auto scaleOnly =
      reinterpret_cast<Packed>(dlsym(library, "_gecko_packed_scale"));
  if (!normAndScale || !scaleOnly) {
    std::fprintf(stderr, "dlsym: %s\n", dlerror());
    return 2;
  }

  std::vector<float> x, w;
  randomInputs(7, x, w);
  const std::vector<float> xCopy = x, wCopy = w;
  MemRef<3> xRef = describe(x, {B, L, D});
  MemRef<1> wRef = describe(w, {D});
  MemRef<3> *xPtr = &xRef;
  MemRef<1> *wPtr = &wRef;
  int64_t n = 5;

  bool ok = true;
  // Two results: the descriptors concatenated (all fields 8 bytes).
  MemRef<3> pair[2] = {};
  static_assert(sizeof(pair) == 2 * 8 * (3 + 2 * 3), "no padding");
  void *args[] = {pair, &xPtr, &wPtr, &n};
  normAndScale(args);
  compare(pair[0], rmsNorm(xCopy, &wCopy, G), "norm_and_scale #0 (rms norm)",
          ok);
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
