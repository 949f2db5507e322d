// Row softmax variants over rows of 3 to 16M floats: elements/s and GB/s.
// "GB/s" counts the compulsory traffic of an out-of-place or in-place softmax,
// one read and one write of the row (8 bytes per fp32 element), so that it can
// be set against a copy's bandwidth; "pass_GB/s" counts what the kernel's passes
// actually stream (3-pass: 3 reads + 2 writes; the blocked 2-pass kernel: 2 reads
// + 2 writes; the scalar variants: naive 2 reads + 1 write, safe 3 + 1, online 2 + 1).
// Copy rows are the throwaway bandwidth yardstick (std::memcpy, same sizes).
#include "fused/ukernels.hpp"  // supported_isas
#include "softmax_simd.hpp"

#include <benchmark/benchmark.h>
#include <attn/softmax.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

namespace sm = attn::softmax;

std::vector<float> row(std::size_t n) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

void counters(benchmark::State& state, std::size_t n, double passes) {
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.counters["elements/s"] = benchmark::Counter(items, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(items * 8 * 1e-9, benchmark::Counter::kIsRate);
  state.counters["pass_GB/s"] = benchmark::Counter(items * 4 * passes * 1e-9, benchmark::Counter::kIsRate);
}

/// Out-of-place library variants: y = f(x).
template <float (*F)(const float*, float*, std::size_t)>
void out_of_place(benchmark::State& state, double passes) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<float> x = row(n);
  std::vector<float> y(n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(F(x.data(), y.data(), n));
    benchmark::ClobberMemory();
  }
  counters(state, n, passes);
}

/// In-place kernels: the row is overwritten by its softmax each iteration; its
/// values stay in [0, 1] after the first, which changes nothing in the work done.
template <class K>
void in_place(benchmark::State& state, K kernel, double passes) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<float> x = row(n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kernel(x.data(), n));
    benchmark::ClobberMemory();
  }
  counters(state, n, passes);
}

void copy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<float> x = row(n);
  std::vector<float> y(n);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), n * sizeof(float));
    benchmark::ClobberMemory();
  }
  counters(state, n, 2);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("n");
  for (long n : {3L, 64L, 1024L, 16384L, 262144L, 1048576L, 4194304L, 16777216L}) b->Arg(n);
}

int register_all() {
  namespace simd = sm::simd;
  auto reg = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)->Apply(sizes);
  };
  reg("copy/memcpy", copy);
  reg("softmax/naive", [](benchmark::State& s) { out_of_place<sm::naive<float>>(s, 3); });
  reg("softmax/safe", [](benchmark::State& s) { out_of_place<sm::safe<float>>(s, 4); });
  reg("softmax/online", [](benchmark::State& s) { out_of_place<sm::online<float>>(s, 3); });
  reg("softmax/stable_inplace", [](benchmark::State& s) {
    const simd::RowKernels& k = simd::active_row_kernels();
    in_place(s, sm::stable_inplace, s.range(0) >= (1 << 18) && k.two_pass != k.three_pass ? 4 : 5);
  });
  // Every row kernel of every ISA this CPU runs, under its own name (f32_softmax_3pass__avx2_rr2_p7_u32_acc4 …).
  for (attn::cpu::Isa isa : attn::fused::supported_isas()) {
    const simd::RowKernels* k = simd::row_kernels_for(isa);
    reg(std::string("softmax/") + k->names.three_pass, [k](benchmark::State& s) { in_place(s, k->three_pass, 5); });
    if (k->two_pass != k->three_pass)
      reg(std::string("softmax/") + k->names.two_pass, [k](benchmark::State& s) { in_place(s, k->two_pass, 4); });
  }
  return 0;
}

const int registered = register_all();

}  // namespace
