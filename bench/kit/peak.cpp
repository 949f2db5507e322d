#include "peak.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <stdexcept>

namespace attnbench {

namespace {

volatile float g_sink;  // keeps the loops' results observable

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

FmaTiming time_fma(const FmaLoop& loop, int threads, std::int64_t iterations) {
  float sink = 0.0f;
  double rate = 0;
  const double flops = static_cast<double>(iterations) * loop.flops_per_iteration;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink, rate)
  {
    const double c0 = thread_cpu_seconds();
    sink += loop.run(iterations);
    rate += flops / std::max(thread_cpu_seconds() - c0, 1e-9);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g_sink = sink;
  return {s, rate};
}

int max_threads() {
  return std::max(1, omp_get_max_threads());
}

double measure_fma_gflops(const FmaLoop& loop, int threads, double seconds) {
  // Grow the trip count until one run is long enough to time, then run for `seconds`.
  std::int64_t iterations = 1 << 12;
  FmaTiming t = time_fma(loop, threads, iterations);
  while (t.wall_s < seconds / 4 && iterations < (std::int64_t{1} << 40)) {
    iterations *= 2;
    t = time_fma(loop, threads, iterations);
  }
  const auto scaled = static_cast<std::int64_t>(static_cast<double>(iterations) * seconds / t.wall_s);
  iterations = std::max(iterations, scaled);
  t = time_fma(loop, threads, iterations);
  const double wall_rate =
      static_cast<double>(threads) * static_cast<double>(iterations) * loop.flops_per_iteration / t.wall_s;
  // On an idle machine both rates agree; when other processes take turns on the
  // cores, wall time counts their turns too, the threads' CPU time does not.
  return std::max(wall_rate, t.cpu_flops_rate) * 1e-9;
}

std::vector<double> parse_peak_list(const std::string& text) {
  std::vector<double> g;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto colon = item.find(':');
    char* end = nullptr;
    const long threads = colon == std::string::npos ? 0 : std::strtol(item.c_str(), &end, 10);
    const double gflops = colon == std::string::npos ? 0 : std::strtod(item.c_str() + colon + 1, &end);
    if (threads != static_cast<long>(g.size()) + 1 || !(gflops > 0) || *end != '\0')
      throw std::invalid_argument("ATTN_BENCH_FMA_PEAK: '" + text + "': expected 1:<GFLOP/s>,2:<GFLOP/s>,... (item '" +
                                  item + "')");
    g.push_back(gflops);
  }
  if (g.empty() || text.back() == ',')
    throw std::invalid_argument("ATTN_BENCH_FMA_PEAK: '" + text + "': expected 1:<GFLOP/s>,2:<GFLOP/s>,...");
  return g;
}

const PeakTable& peak_table() {
  static const PeakTable table = [] {
    PeakTable t;
    if (const char* given = std::getenv("ATTN_BENCH_FMA_PEAK"); given && *given) {
      t.gflops = parse_peak_list(given);
      const char* isa = std::getenv("ATTN_BENCH_FMA_PEAK_ISA");
      t.isa = isa && *isa ? isa : "unknown";
      t.source = "ATTN_BENCH_FMA_PEAK (from the peak suite of the same attnlab bench run)";
      return t;
    }
    const FmaLoop* loop = best_fma_loop();
    if (!loop) return t;
    t.isa = loop->isa;
    // Every profile, smoke included, takes the same measurement: a result file states its peak,
    // and one run of 2 ms (smoke's, once) could come out at half the quick profile's figure.
    const int runs = 5;
    t.source = "measured at start-up: best of " + std::to_string(runs) + " run(s), timed by the threads' CPU time";
    const double seconds = 0.02;
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
