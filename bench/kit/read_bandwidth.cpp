#include "read_bandwidth.hpp"

#include "cache_info.hpp"
#include "profile.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace attnbench {

namespace {

volatile float g_sink;

/// Sum of x[0..n) in 32 independent lanes (no chain waits on an add's latency; the compiler
/// keeps them in vector registers without reassociating anything).
float stream_sum(const float* x, std::size_t n) {
  constexpr std::size_t kLanes = 32;
  float acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t u = 0; u < kLanes; ++u) acc[u] += x[i + u];
  for (; i < n; ++i) acc[0] += x[i];
  float s = 0.0f;
  for (float a : acc) s += a;
  return s;
}

struct Buffer {
  std::size_t floats = 0;
  std::unique_ptr<float[], decltype(&std::free)> data{nullptr, &std::free};
  Buffer() {
    const std::size_t bytes = profile() == Profile::smoke ? std::size_t{1} << 20 : dram_buffer_bytes();
    floats = bytes / sizeof(float);
    data.reset(static_cast<float*>(std::aligned_alloc(64, floats * sizeof(float))));
    if (!data) return;
    float* p = data.get();
#pragma omp parallel for schedule(static)  // first touch by the threads that will read it
    for (std::size_t i = 0; i < floats; ++i) p[i] = 1.0f;
  }
};

}  // namespace

double timed_read_pass(const float* data, std::size_t floats, int threads) {
  const auto t0 = std::chrono::steady_clock::now();
  float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num()), n = static_cast<std::size_t>(threads);
    const std::size_t lo = floats * t / n, hi = floats * (t + 1) / n;
    sink += stream_sum(data + lo, hi - lo);
  }
  g_sink = sink;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ReadPass read_pass(int threads) {
  static const Buffer buffer;  // allocated and touched once per process
  if (!buffer.data) return {};
  return {static_cast<double>(buffer.floats * sizeof(float)),
          timed_read_pass(buffer.data.get(), buffer.floats, threads)};
}

double read_bandwidth_gbs(int threads) {
  static std::mutex mutex;
  static std::map<int, double> measured;
  std::lock_guard lock(mutex);
  if (auto it = measured.find(threads); it != measured.end()) return it->second;
  double best = 0.0;
  const int passes = profile() == Profile::smoke ? 2 : 8;
  for (int i = 0; i < passes; ++i) {
    const ReadPass r = read_pass(threads);
    if (r.bytes > 0) best = std::max(best, r.bytes * 1e-9 / r.seconds);
  }
  return measured[threads] = best;
}

}  // namespace attnbench
