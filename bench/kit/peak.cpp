#include "peak.hpp"

#include "profile.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace attnbench {

namespace {

volatile float g_sink;  // keeps the loops' results observable

double run_once(const FmaLoop& loop, int threads, std::int64_t iterations) {
  float sink = 0.0f;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += loop.run(iterations);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g_sink = sink;
  return s;
}

}  // namespace

int max_threads() {
  return std::max(1, omp_get_max_threads());
}

double measure_fma_gflops(const FmaLoop& loop, int threads, double seconds) {
  // Grow the trip count until one run is long enough to time, then run for `seconds`.
  std::int64_t iterations = 1 << 12;
  double s = run_once(loop, threads, iterations);
  while (s < seconds / 4 && iterations < (std::int64_t{1} << 40)) {
    iterations *= 2;
    s = run_once(loop, threads, iterations);
  }
  const auto scaled = static_cast<std::int64_t>(static_cast<double>(iterations) * seconds / s);
  iterations = std::max(iterations, scaled);
  s = run_once(loop, threads, iterations);
  return static_cast<double>(threads) * static_cast<double>(iterations) * loop.flops_per_iteration / s * 1e-9;
}

const PeakTable& peak_table() {
  static const PeakTable table = [] {
    PeakTable t;
    const FmaLoop* loop = best_fma_loop();
    if (!loop) return t;
    t.isa = loop->isa;
    const bool smoke = profile() == Profile::smoke;
    const int runs = smoke ? 1 : 5;
    const double seconds = smoke ? 0.002 : 0.02;
    for (int threads = 1; threads <= max_threads(); ++threads) {
      double best = 0;
      for (int r = 0; r < runs; ++r) best = std::max(best, measure_fma_gflops(*loop, threads, seconds));
      t.gflops.push_back(best);
    }
    return t;
  }();
  return table;
}

double peak_gflops(int threads) {
  const PeakTable& t = peak_table();
  if (t.gflops.empty()) return 0;
  const int i = std::clamp(threads, 1, static_cast<int>(t.gflops.size())) - 1;
  return t.gflops[static_cast<std::size_t>(i)];
}

}  // namespace attnbench
