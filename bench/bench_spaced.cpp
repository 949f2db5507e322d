// Calls spaced in time: one attention() call after the caller has done something else for a
// while (a server between requests, a model between layers), so the threads a parallel call
// wakes may have gone to sleep. Back-to-back timing (the attention suite) hides that cost,
// because OpenMP's idle threads spin for a while after each parallel region before they sleep.
//
// spaced/<kernel>/<shape>/gap_us:<g>/threads:<t>: each iteration sleeps g µs (not timed),
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
#include <string>
#include <thread>
#include <vector>

namespace {

using attnbench::Profile;

void run_spaced(benchmark::State& state, const attnlab::Shape& s, int threads, int gap_us) {
  attnlab::Inputs in = attnlab::make_inputs(s, 1);
  attn::Options opts;
  opts.kernel = "fused";
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
  const std::vector<std::string> shapes = smoke ? std::vector<std::string>{"128x128x64"}
                                                : std::vector<std::string>{"128x128x64", "256x256x64", "512x512x64"};
  // Gaps: back to back, within libgomp's spin (about a millisecond here), past it.
  const std::vector<int> gaps = smoke ? std::vector<int>{0, 1000} : std::vector<int>{0, 100, 1000, 5000, 20000};
  const int most = attnbench::max_threads();
  for (const std::string& text : shapes)
    for (int gap : gaps)
      for (int threads : {1, most}) {
        attnlab::Shape s = attnlab::parse_shape(text);
        const std::string name =
            "spaced/fused/" + text + "/gap_us:" + std::to_string(gap) + "/threads:" + std::to_string(threads);
        // About half a second of gaps per benchmark (smoke: a handful of calls).
        const int iterations = smoke ? 4 : gap == 0 ? 2000 : std::max(20, 500000 / gap);
        benchmark::RegisterBenchmark(name.c_str(), run_spaced, s, threads, gap)
            ->UseManualTime()
            ->Iterations(iterations)
            ->Repetitions(smoke ? 1 : 3)
            ->Unit(benchmark::kMicrosecond);
        if (most == 1) break;
      }
}

const bool registered = attnbench::add_suite(register_spaced);

}  // namespace
