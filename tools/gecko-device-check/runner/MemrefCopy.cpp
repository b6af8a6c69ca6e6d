//===- MemrefCopy.cpp - memrefCopy for the kernel libraries
//----------------===//
//
// Host code lowered from a memref.copy between non-contiguous memrefs
// (e.g. cema's transposed arguments copied into managed memory) calls
// memrefCopy, which MLIR's libmlir_c_runner_utils provides; the GPU machine
// has no MLIR, so the run driver exports the same function (same
// signature and semantics as upstream's CRunnerUtils.cpp).
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

/// MLIR's UnrankedMemRefType: the rank and a pointer to a ranked
/// descriptor {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};

struct View {
  char *aligned;
  int64_t offset;
  const int64_t *sizes, *strides;
};

View view(const UnrankedMemRef &m) {
  auto *words = static_cast<int64_t *>(m.descriptor);
  View v;
  v.aligned = reinterpret_cast<char *>(words[1]);
  v.offset = words[2];
  v.sizes = words + 3;
  v.strides = words + 3 + m.rank;
  return v;
}

} // namespace

extern "C" __attribute__((visibility("default"))) void
memrefCopy(int64_t elemSize, UnrankedMemRef *srcArg, UnrankedMemRef *dstArg) {
  int64_t rank = srcArg->rank;
  View src = view(*srcArg), dst = view(*dstArg);
  int64_t count = 1;
  for (int64_t k = 0; k < rank; ++k)
    count *= src.sizes[k];
  if (count == 0)
    return;
  std::vector<int64_t> index(rank, 0);
  int64_t srcOffset = src.offset, dstOffset = dst.offset;
  for (int64_t flat = 0; flat < count; ++flat) {
    std::memcpy(dst.aligned + dstOffset * elemSize,
                src.aligned + srcOffset * elemSize, elemSize);
    for (int64_t k = rank - 1; k >= 0; --k) {
      if (++index[k] < src.sizes[k]) {
        srcOffset += src.strides[k];
        dstOffset += dst.strides[k];
        break;
      }
      srcOffset -= (src.sizes[k] - 1) * src.strides[k];
      dstOffset -= (dst.sizes[k] - 1) * dst.strides[k];
      index[k] = 0;
    }
  }
}
