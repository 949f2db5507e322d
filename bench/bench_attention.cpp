// Every registered kernel on the design.md shapes, same inputs, one run.
// FLOPs per design.md §5: 2·Nq·Nk·(d + dv) per head, causal counts the visible half.
#include "shapes.hpp"

#include <benchmark/benchmark.h>
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <string>

namespace {

void run_attention(benchmark::State& state, const attn::KernelInfo* kernel, attnlab::Shape shape, int threads) {
  attnlab::Inputs in = attnlab::make_inputs(shape, 1);
  attn::Options opts;
  opts.kernel = std::string(kernel->name);
  opts.causal = shape.causal;
  opts.threads = threads;
  const attn::Problem p = shape.problem(threads);
  if (std::string why = attn::unsupported_reason(*kernel, p, attn::default_memory_budget()); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  for (auto _ : state) {
    attn::attention(in.qv(), in.kv(), in.vv(), in.outv(), opts);
    benchmark::DoNotOptimize(in.out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(shape.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["workspace_bytes"] = static_cast<double>(kernel->workspace_bytes(p));
}

/// Reference is fp64 scalar: only the small shapes, or a run takes minutes.
bool affordable(const attn::KernelInfo& k, const attnlab::Shape& s) {
  if (k.name == "reference" || k.name == "textbook") return s.flops() < 2e9;
  return true;
}

int register_all() {
  const char* shapes[] = {"lab-3",           "lab-4",    "bert-128",        "bert-512",    "llm-1024",
                          "llm-1024-causal", "llm-4096", "llm-4096-causal", "decode-4096", "decode-32768"};
  for (const attn::KernelInfo& k : attn::kernels())
    for (const char* name : shapes) {
      const attnlab::Shape s = attnlab::parse_shape(name);
      if (!affordable(k, s)) continue;
      for (int threads : {1, 2}) {
        benchmark::RegisterBenchmark(
            ("attention/" + std::string(k.name) + "/" + s.name + "/threads:" + std::to_string(threads)).c_str(),
            run_attention, &k, s, threads)
            ->UseRealTime()
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
