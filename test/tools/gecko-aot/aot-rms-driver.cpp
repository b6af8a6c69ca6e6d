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

#include "AotDriver.h"

#include <cstdlib>
#include <vector>

using namespace aotdriver;

int main(int argc, char **argv) {
  void *library = openLibrary(argc, argv);
  if (!library)
    return 2;
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

  std::vector<float> x, w;
  randomInputs(42, x, w);
  const std::vector<float> xCopy = x, wCopy = w;
  MemRef<3> xRef = describe(x, {B, L, D});
  MemRef<1> wRef = describe(w, {D});

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
