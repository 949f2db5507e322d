#include "read_bandwidth.hpp"

#include "aligned_array.hpp"
#include "cache_info.hpp"
#include "profile.hpp"
#include "read_loops.hpp"

#include <attn/kernels.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>

namespace attnbench {

namespace {

volatile float g_sink;

struct Buffer {
  std::size_t floats = 0;
  AlignedArray<float> data;
  Buffer() {
    const std::size_t bytes = profile() == Profile::smoke ? std::size_t{1} << 20 : dram_buffer_bytes();
    floats = bytes / sizeof(float);
    data = aligned_array<float>(floats);
    if (!data) return;
    float* p = data.get();
#pragma omp parallel for schedule(static)  // first touch by the threads that will read it
    for (std::size_t i = 0; i < floats; ++i) p[i] = 1.0f;
  }
};

/// The ways a pass reads: best_read_loop() with a prefetch distance, in floats (0: the hardware's
/// prefetchers alone), and a number of streams. The yardstick is the best of them. On the Zen 5
/// of docs/performance.md (2026-12-01, best of 4 passes, 3 rounds) a 16-byte-load sum read
/// 31.6-32.0 GB/s on 1 thread without prefetches, 35.6-35.8 with them 16 KiB ahead, 36.0-36.1
/// at 32 KiB; wide loads read 37-40 either way. One thread reading 4 or 8 streams side by side
/// read 18-33 % more than one stream in each of 6 processes (2026-12-02: 26.8-39.3 against
/// 20.8-33.2 GB/s, 256 MiB of a 2 GiB buffer a pass), so a share of one stream's bandwidth
/// overstated how close a kernel came to what the core can read.
struct Way {
  std::size_t ahead;
  int streams;
};
constexpr Way kWays[] = {{0, 1}, {(16 << 10) / sizeof(float), 1}, {(32 << 10) / sizeof(float), 1}, {0, 4}, {0, 8}};
constexpr int kWayCount = static_cast<int>(std::size(kWays));

double timed_pass(const float* data, std::size_t floats, int threads, Way way) {
  const auto t0 = std::chrono::steady_clock::now();
  float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num()), n = static_cast<std::size_t>(threads);
    const std::size_t lo = floats * t / n, hi = floats * (t + 1) / n;
    sink += best_read_loop()(data + lo, hi - lo, way.ahead, way.streams);
  }
  g_sink = sink;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const Buffer& buffer() {
  static const Buffer b;  // allocated and touched once per process
  return b;
}

ReadPass pass_with(int threads, int way) {
  const Buffer& b = buffer();
  if (!b.data) return {};
  const Way w = kWays[way];
  return {static_cast<double>(b.floats * sizeof(float)), timed_pass(b.data.get(), b.floats, threads, w), w.streams,
          static_cast<double>(w.ahead * sizeof(float))};
}

struct Best {
  double gbs = 0.0;
  int way = 0;
};

/// The fastest pass over `floats` at data by `threads` threads, and the way that read it: a few
/// rounds of every way.
Best best_over(const float* data, std::size_t floats, int threads) {
  Best best;
  const int rounds = profile() == Profile::smoke ? 1 : 3;
  for (int i = 0; i < rounds; ++i)
    for (int way = 0; way < kWayCount; ++way) {
      const double gbs =
          static_cast<double>(floats * sizeof(float)) * 1e-9 / timed_pass(data, floats, threads, kWays[way]);
      if (gbs > best.gbs) best = {gbs, way};
    }
  return best;
}

/// The fastest pass over the shared buffer for a thread count: measured on first use, then cached.
Best best_for(int threads) {
  static std::mutex mutex;
  static std::map<int, Best> measured;
  std::lock_guard lock(mutex);
  if (auto it = measured.find(threads); it != measured.end()) return it->second;
  const Buffer& b = buffer();
  return measured[threads] = b.data ? best_over(b.data.get(), b.floats, threads) : Best{};
}

}  // namespace

ReadPass read_pass(int threads) {
  return pass_with(threads, best_for(threads).way);
}

double read_bandwidth_gbs(int threads) {
  return best_for(threads).gbs;
}

double read_bandwidth_gbs_over(const void* data, std::size_t bytes, int threads) {
  if (data == nullptr || bytes < sizeof(float)) return 0.0;
  return best_over(static_cast<const float*>(data), bytes / sizeof(float), threads).gbs;
}

float read_loop_plain(const float* x, std::size_t n, std::size_t ahead, int streams) {
  constexpr std::size_t kLanes = 32;  // independent lanes the compiler keeps in registers, 2 lines
  float acc[kLanes] = {};
  const std::size_t parts = streams > 1 ? static_cast<std::size_t>(streams) : 1;
  const std::size_t part = n / parts / kLanes * kLanes;  // floats of each stream
  for (std::size_t i = 0; i < part; i += kLanes)
    for (std::size_t at = i; at < parts * part; at += part) {
      if (ahead > 0 && at + ahead + kLanes <= n) {
        __builtin_prefetch(x + at + ahead, 0, 3);
        __builtin_prefetch(x + at + ahead + kLanes / 2, 0, 3);
      }
      for (std::size_t u = 0; u < kLanes; ++u) acc[u] += x[at + u];
    }
  float s = 0.0f;
  for (float a : acc) s += a;
  for (std::size_t i = parts * part; i < n; ++i) s += x[i];
  return s;
}

ReadLoop best_read_loop() {
  const attn::CpuInfo& cpu = attn::cpu_info();
  return cpu.avx512 ? read_loop_avx512 : cpu.avx2_fma ? read_loop_avx2 : read_loop_plain;
}

}  // namespace attnbench
