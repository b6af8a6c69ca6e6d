//===- Roofline.h - Memory bandwidth and FMA peak of this machine -*- C++
//-*-===//
//
// Two probes shared by bench/roofline.cpp (Google Benchmark) and
// bench/ops_bench.cpp (fraction of the roofline):
//  - STREAM triad a[i] = b[i] + s*c[i] over double arrays far larger than
//    the last-level cache; bytes counted = 3 * 8 per element (2 reads, 1
//    write, no write-allocate traffic, as STREAM counts them).
//  - a chain of independent AVX-512 FMAs (12 accumulators, enough to cover
//    4-cycle latency on 2 FMA pipes) on f32: 2 * 16 flops per FMA. Falls
//    back to AVX2 (8 lanes) on CPUs without AVX-512F.
// Both run on `threads` std::threads, each on its own slice / registers.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_BENCH_ROOFLINE_H
#define GECKO_BENCH_ROOFLINE_H

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace gecko::bench {

inline double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename Fn> void runThreads(int threads, Fn fn) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back(fn, t);
  fn(0);
  for (auto &thread : pool)
    thread.join();
}

/// Best-of-`reps` triad bandwidth in GB/s over `n` doubles per array.
inline double triadBandwidthGBs(int threads, size_t n = size_t(24) << 20,
                                int reps = 4) {
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]),
      c(new double[n]);
  auto slice = [&](int t, size_t &begin, size_t &end) {
    begin = n * t / threads;
    end = n * (t + 1) / threads;
  };
  // First touch by the thread that streams the slice later.
  runThreads(threads, [&](int t) {
    size_t begin, end;
    slice(t, begin, end);
    for (size_t i = begin; i < end; ++i) {
      a[i] = 0.0;
      b[i] = 1.0;
      c[i] = 2.0;
    }
  });
  double best = 1e30;
  const double s = 3.0;
  for (int r = 0; r < reps; ++r) {
    double start = seconds();
    runThreads(threads, [&](int t) {
      size_t begin, end;
      slice(t, begin, end);
      double *__restrict pa = a.get();
      const double *__restrict pb = b.get();
      const double *__restrict pc = c.get();
      for (size_t i = begin; i < end; ++i)
        pa[i] = pb[i] + s * pc[i];
    });
    best = std::min(best, seconds() - start);
  }
  volatile double sink = a[n / 2];
  (void)sink;
  return 3.0 * 8.0 * double(n) / best / 1e9;
}

__attribute__((target("avx512f"))) inline double fmaChainAvx512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    // Keep the compiler from collapsing the chain.
    __asm__ volatile(""
                     : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
                       "+v"(acc[4]), "+v"(acc[5]));
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  return double(_mm512_reduce_add_ps(sum));
}

__attribute__((target("avx2,fma"))) inline double fmaChainAvx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    __asm__ volatile(""
                     : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]),
                       "+x"(acc[4]), "+x"(acc[5]));
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  double total = 0;
  for (float lane : lanes)
    total += lane;
  return total;
}

inline bool hasAvx512() { return __builtin_cpu_supports("avx512f"); }

/// Best-of-`reps` f32 FMA throughput in GFLOP/s.
inline double fmaPeakGFlops(int threads, int64_t iters = 20'000'000,
                            int reps = 3) {
  bool wide = hasAvx512();
  double best = 1e30;
  std::vector<double> sinks(threads);
  for (int r = 0; r < reps; ++r) {
    double start = seconds();
    runThreads(threads, [&](int t) {
      sinks[t] = wide ? fmaChainAvx512(iters) : fmaChainAvx2(iters);
    });
    best = std::min(best, seconds() - start);
  }
  double lanes = wide ? 16 : 8;
  return 2.0 * lanes * 12.0 * double(iters) * threads / best / 1e9;
}

} // namespace gecko::bench

#endif // GECKO_BENCH_ROOFLINE_H
