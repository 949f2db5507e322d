// The machine's limits, which every other suite is read against:
//  - fp32 FMA peak: a register-resident FMA loop per ISA the binary carries
//    (AVX-512F, AVX2+FMA; each run only where cpuid says the CPU has it),
//  - memory bandwidth: STREAM-style copy (b = a) and triad (a = b + s·c) over
//    arrays 4× the L3 that cpuid reports (ATTN_BENCH_STREAM_MIB overrides the size),
// for every thread count of the profile.
#include "kit/aligned_array.hpp"
#include "kit/cache_info.hpp"
#include "kit/fma_loops.hpp"
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/suite_main.hpp"

#include <benchmark/benchmark.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using attnbench::Profile;

void fma_peak(benchmark::State& state, const attnbench::FmaLoop* loop, int threads) {
  if (!loop->supported()) {
    state.SkipWithError((std::string(attnbench::kRefused) + "this CPU lacks " + loop->isa).c_str());
    return;
  }
  // About 4 ms per thread per iteration at 3 GHz: long enough to hide the parallel-region start.
  const std::int64_t trips = attnbench::profile() == Profile::smoke ? 1 << 10 : 1 << 20;
  double rate_sum = 0;  // Σ over iterations of the threads' FLOPs over their own CPU time
  for (auto _ : state) rate_sum += attnbench::time_fma(*loop, threads, trips).cpu_flops_rate;
  const double flops = static_cast<double>(threads) * static_cast<double>(trips) * loop->flops_per_iteration;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  // Timed as the peak table in every result's context is (kit/peak.hpp, time_fma): equals GFLOP/s
  // on an idle machine, and stays the cores' capability when other processes take turns on them
  // (a thread's wait for the others, spinning at the region's end, is not counted as its work).
  if (state.iterations() > 0) state.counters["GFLOP/cpu-s"] = rate_sum / static_cast<double>(state.iterations()) * 1e-9;
  state.counters["threads"] = threads;
  state.SetLabel(loop->isa);
}

/// Floats per STREAM array: 4× the last-level cache, so every pass goes to DRAM.
std::size_t stream_elements() {
  if (attnbench::profile() == Profile::smoke) return std::size_t{1} << 18;  // 1 MiB: exercises the code only
  if (const char* mib = std::getenv("ATTN_BENCH_STREAM_MIB"); mib && std::atoll(mib) > 0)
    return static_cast<std::size_t>(std::atoll(mib)) * (1 << 20) / sizeof(float);
  return attnbench::dram_buffer_bytes() / sizeof(float);
}

using Array = attnbench::AlignedArray<float>;

/// An uninitialised array, first touched by parallel threads (page placement follows them).
Array touched_array(std::size_t n, float value) {
  Array a = attnbench::aligned_array<float>(n);
  if (!a) return a;
  float* p = a.get();
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) p[i] = value;
  return a;
}

/// The three arrays, allocated once per process: faulting in gigabytes per repetition would dominate.
struct StreamArrays {
  std::size_t n = stream_elements();
  Array a = touched_array(n, 1.0f), b = touched_array(n, 2.0f), c = touched_array(n, 0.5f);
};

enum class Stream { copy, triad };

void stream_bandwidth(benchmark::State& state, Stream kind, int threads) {
  static const StreamArrays arrays;
  const std::size_t n = arrays.n;
  if (!arrays.a || !arrays.b || !arrays.c) {
    state.SkipWithError(("cannot allocate 3 arrays of " + std::to_string(n * sizeof(float) >> 20) + " MiB").c_str());
    return;
  }
  float *pa = arrays.a.get(), *pb = arrays.b.get(), *pc = arrays.c.get();
  const float s = 0.5f;
  for (auto _ : state) {
    if (kind == Stream::copy) {
#pragma omp parallel for simd schedule(static) num_threads(threads)
      for (std::size_t i = 0; i < n; ++i) pb[i] = pa[i];
    } else {
#pragma omp parallel for simd schedule(static) num_threads(threads)
      for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    }
    benchmark::ClobberMemory();
  }
  // STREAM's convention: bytes the program reads and writes (write-allocate traffic not counted).
  const double bytes = static_cast<double>(n * sizeof(float)) * (kind == Stream::copy ? 2 : 3);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["array_bytes"] = static_cast<double>(n * sizeof(float));
  state.counters["threads"] = threads;
}

void register_peak() {
  for (int threads : attnbench::thread_counts()) {
    for (const attnbench::FmaLoop& loop : attnbench::fma_loops())
      attnbench::apply_profile(
          benchmark::RegisterBenchmark(
              ("peak/fma/" + std::string(loop.isa) + "/threads:" + std::to_string(threads)).c_str(), fma_peak, &loop,
              threads)
              ->UseRealTime()
              ->MeasureProcessCPUTime()
              ->Unit(benchmark::kMillisecond));
    for (Stream kind : {Stream::copy, Stream::triad})
      attnbench::apply_profile(
          benchmark::RegisterBenchmark(("peak/stream/" + std::string(kind == Stream::copy ? "copy" : "triad") +
                                        "/threads:" + std::to_string(threads))
                                           .c_str(),
                                       stream_bandwidth, kind, threads)
              ->UseRealTime()
              ->MeasureProcessCPUTime()
              ->Unit(benchmark::kMillisecond));
  }
}

const bool registered = attnbench::add_suite(register_peak);

}  // namespace

ATTNBENCH_MAIN()
