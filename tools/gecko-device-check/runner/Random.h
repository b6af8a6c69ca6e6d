//===- Random.h - The device check's reproducible random tensors --*- C++
//-*-===//
//
// Element i of the random tensor with seed s is a pure function of (s, i),
// shared by gecko-device-prepare (which computes the expected values from
// these inputs here) and gecko-device-run (which regenerates them on the GPU
// machine instead of carrying them). Plain C++, no MLIR/LLVM.
//
// Exactness on any compiler: u has 24 random bits (an exact float), the
// range width is a power of two and `lo` a multiple of it, so lo + width * u
// is exact in double (with or without FMA contraction) and the final cast
// to float rounds it the same way everywhere.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_RANDOM_H
#define GECKO_DEVICECHECK_RANDOM_H

#include <cmath>
#include <cstdint>
#include <string>

namespace gecko::devcheck {

/// SplitMix64's finaliser.
inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// FNV-1a of `text` (seeds derived from case and tensor names).
inline uint64_t hashName(const std::string &text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

/// Whether [lo, hi) is a range randomValue reproduces exactly everywhere:
/// hi - lo a power of two (2^-8 .. 2^8) and lo a multiple of it / 2^24.
inline bool isExactRange(double lo, double hi) {
  double width = hi - lo;
  if (!(width > 0))
    return false;
  int exponent = 0;
  double mantissa = std::frexp(width, &exponent);
  if (mantissa != 0.5 || exponent < -7 || exponent > 9)
    return false;
  double steps = lo / width * 16777216.0;
  return std::fabs(lo) <= 256 && steps == std::floor(steps);
}

/// Element `index` of random tensor `seed`: uniform in [lo, hi) as a float.
inline float randomValue(uint64_t seed, uint64_t index, double lo, double hi) {
  uint64_t z = mix64(mix64(seed) + index);
  double u = static_cast<double>(z >> 40) * (1.0 / 16777216.0);
  return static_cast<float>(lo + (hi - lo) * u);
}

} // namespace gecko::devcheck

#endif // GECKO_DEVICECHECK_RANDOM_H
