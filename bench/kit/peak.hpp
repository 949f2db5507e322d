// The machine's measured fp32 FMA peak, shared by every suite so that each
// reports its share of it (%peak).
//
// Choice: each benchmark binary measures the peak itself, once, at startup
// (peak_gflops() measures every thread count 1..max_threads() on first use and
// caches the table for the process). Measuring in-process keeps %peak honest
// about the clock the suite actually ran under, needs no file from an earlier
// run, and costs about 0.1 s per thread count. The value is the best of several
// short runs, each timed by its threads' CPU time: a capability, which neither
// noise nor other processes taking turns on the cores should lower.
#pragma once

#include "fma_loops.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace attnbench {

/// Cores this process may use (OpenMP's view); the largest thread count benchmarked.
int max_threads();

/// One run of `loop`, `iterations` rounds on each of `threads` OpenMP threads.
struct FmaTiming {
  double wall_s = 0;          ///< the whole parallel region
  double cpu_flops_rate = 0;  ///< Σ over threads of its FLOPs ÷ its own CPU time (CLOCK_THREAD_CPUTIME_ID)
};
/// The one way the peak is timed: the start-up table and the peak suite's rows both use it.
FmaTiming time_fma(const FmaLoop& loop, int threads, std::int64_t iterations);

/// GFLOP/s of `loop` run by `threads` OpenMP threads for about `seconds`: the FLOPs over
/// each thread's own CPU time (or the wall time, if that is better), so that other
/// processes sharing the cores do not lower the capability measured.
double measure_fma_gflops(const FmaLoop& loop, int threads, double seconds);

struct PeakTable {
  std::string isa = "none";    ///< the loop measured (the widest the CPU supports)
  std::vector<double> gflops;  ///< gflops[t - 1]: peak with t threads
  std::string source;          ///< how it was obtained
};

/// The cached peak table: measured on first call (thread-safe), or taken from
/// ATTN_BENCH_FMA_PEAK="1:<GFLOP/s>,2:<GFLOP/s>,..." (and ATTN_BENCH_FMA_PEAK_ISA)
/// when set — `attnlab bench` passes the peak suite's table to the other suites
/// that way, so one result file has one denominator. Throws std::invalid_argument
/// naming the variable when it is malformed.
const PeakTable& peak_table();

/// Parses the ATTN_BENCH_FMA_PEAK format (threads 1, 2, ... in order, positive GFLOP/s).
std::vector<double> parse_peak_list(const std::string& text);

/// Peak GFLOP/s with `threads` threads (clamped to 1..max_threads()).
double peak_gflops(int threads);

}  // namespace attnbench
