//===- roofline.cpp - This machine's memory bandwidth and FMA peak --------===//
//
// Google Benchmark front end of bench/Roofline.h: STREAM triad (GB/s) and
// the AVX-512 FMA chain (GFLOP/s) on 1 and 2 threads. Not a test.
//
//===----------------------------------------------------------------------===//

#include "Roofline.h"

#include <benchmark/benchmark.h>

namespace {

void triad(benchmark::State &state) {
  int threads = static_cast<int>(state.range(0));
  double gbs = 0;
  for (auto _ : state)
    gbs = gecko::bench::triadBandwidthGBs(threads);
  state.counters["GB/s"] = gbs;
  state.SetLabel("STREAM triad, 3 x 192 MiB double arrays");
}

void fmaPeak(benchmark::State &state) {
  int threads = static_cast<int>(state.range(0));
  double gflops = 0;
  for (auto _ : state)
    gflops = gecko::bench::fmaPeakGFlops(threads);
  state.counters["GFLOP/s"] = gflops;
  state.SetLabel(gecko::bench::hasAvx512() ? "f32 AVX-512 FMA chain"
                                           : "f32 AVX2 FMA chain");
}

} // namespace

BENCHMARK(triad)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()->Unit(
    benchmark::kMillisecond);
BENCHMARK(fmaPeak)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()->Unit(
    benchmark::kMillisecond);

BENCHMARK_MAIN();
