// Calls spaced in time: one attention() call after the caller has done something else for a
// while (a server between requests, a model between layers), so the threads a parallel call
// wakes may have gone to sleep. Back-to-back timing (the attention suite) hides that cost,
// because idle helper threads spin for a while after each call before they sleep.
//
// spaced/<kernel>/<shape>/gap_us:<g>/threads:<t> (fused on squares, decode on one token over
// 2 × 4096 keys): each iteration sleeps g µs (not timed),
// then times one call (manual time). Compare threads:1 with threads:2 at the same gap: the
// kernel should never be slower on two threads than on one (issue 13).
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/suite_main.hpp"
#include "workload/inputs.hpp"
#include "workload/shapes.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using attnbench::Profile;

void run_spaced(benchmark::State& state, const std::string& kernel, const attnlab::Shape& s, int threads, int gap_us) {
  attnlab::Inputs in = attnlab::make_inputs(s, 1);
  attn::Options opts;
  opts.kernel = kernel;
  opts.threads = threads;
  opts.causal = s.causal;
  auto call = [&] { attn::attention(in.qv(), in.kv(), in.vv(), in.outv(), opts); };
  call();  // the workspace and the output's pages, once
  for (auto _ : state) {
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    const auto t0 = std::chrono::steady_clock::now();
    call();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(in.out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(s.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["gap_us"] = gap_us;
  state.counters["threads"] = threads;
}

void register_spaced() {
  const bool smoke = attnbench::profile() == Profile::smoke;
  // fused on square shapes; decode on one new token over 2 heads of 4096 keys (8 MiB of K/V,
  // the L3's: the cost of the threads, not of DRAM).
  struct Case {
    const char *kernel, *shape;
  };
  static constexpr Case kCases[] = {
      {"fused", "128x128x64"}, {"fused", "256x256x64"}, {"fused", "512x512x64"}, {"decode", "1x4096x128x2"}};
  const std::span<const Case> cases = smoke ? std::span<const Case>(kCases, 1) : std::span<const Case>(kCases);
  // Gaps: back to back, within the helpers' spin (5 ms), past it.
  const std::vector<int> gaps = smoke ? std::vector<int>{0, 1000} : std::vector<int>{0, 100, 1000, 5000, 20000};
  const int most = attnbench::max_threads();
  for (const Case& c : cases)
    for (int gap : gaps)
      for (int threads : {1, most}) {
        const attnlab::Shape s = attnlab::parse_shape(c.shape);
        const std::string name = std::string("spaced/") + c.kernel + "/" + c.shape + "/gap_us:" + std::to_string(gap) +
                                 "/threads:" + std::to_string(threads);
        // About half a second of gaps per benchmark (smoke: a handful of calls).
        const int iterations = smoke ? 4 : gap == 0 ? 2000 : std::max(20, 500000 / gap);
        benchmark::RegisterBenchmark(name.c_str(), run_spaced, std::string(c.kernel), s, threads, gap)
            ->UseManualTime()
            ->Iterations(iterations)
            ->Repetitions(smoke ? 1 : 3)
            ->Unit(benchmark::kMicrosecond);
        if (most == 1) break;
      }
}

const bool registered = attnbench::add_suite(register_spaced);

}  // namespace
