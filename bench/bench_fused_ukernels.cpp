// The fused kernel's microkernels alone, for every ISA this CPU runs: the Q Kᵀ
// register tile and P·V tile (GFLOP/s, operands in L1 as the driver keeps
// them), a whole Br × Bc block of each (operands in L2), and exp2 (elements/s).
// fused_attention: the whole kernel on one head, single-threaded, timed in CPU
// time (robust on a shared machine), for the block-size sweep of docs/performance.md
// (ATTN_FUSED_BLOCKS=Br,Bc and ATTN_ISA select the configuration, one per process).
// Run: build/bench/attn_bench_fused_ukernels --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include "fused/ukernels.hpp"
#include "workload/aligned_vector.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using attn::fused::i64;
using attn::fused::Ukernels;

std::vector<float> random_floats(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& e : x) e = dist(gen);
  return x;
}

/// One MR × NR tile of S = Q Kᵀ over depth d.
void qk_tile(benchmark::State& state, const Ukernels* uk) {
  const i64 d = state.range(0);
  const auto qp = random_floats(d * uk->mr, -1, 1, 1), kp = random_floats(d * uk->nr, -1, 1, 2);
  std::vector<float> s(uk->mr * uk->nr);
  for (auto _ : state) {
    uk->qk(d, qp.data(), kp.data(), s.data(), uk->nr, uk->mr, uk->nr);
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(d * uk->mr * uk->nr),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

/// n bf16 values, uniform in [lo, hi) rounded to nearest even.
std::vector<attn::bf16> random_bf16(std::size_t n, float lo, float hi, unsigned seed) {
  std::vector<attn::bf16> x;
  for (float e : random_floats(n, lo, hi, seed)) x.push_back(attn::to_bf16(e));
  return x;
}

/// qk_tile on the bf16 S path (Ukernels::Bf16Dot, vdpbf16ps): the same tile, depth and flops,
/// panels of bf16 pairs packed from bf16 rows.
void bf16_qk_tile(benchmark::State& state, const Ukernels* uk) {
  const i64 d = state.range(0);
  const auto q = random_bf16(d * uk->mr, -1, 1, 1), k = random_bf16(d * uk->nr, -1, 1, 2);
  std::vector<float> qp(d * uk->mr), kp(d * uk->nr), s(uk->mr * uk->nr);
  uk->bf16_dot.pack_q(uk->mr, d, q.data(), d, qp.data());
  uk->bf16_dot.pack_kt(uk->nr, d, k.data(), d, kp.data());
  for (auto _ : state) {
    uk->bf16_dot.qk(d, qp.data(), kp.data(), s.data(), uk->nr, uk->mr, uk->nr, 1.0f);
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(d * uk->mr * uk->nr),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

/// One MR × NR tile of O = α·O + P V over kc keys (P rows and a packed V strip, as the driver lays them out).
void pv_tile(benchmark::State& state, const Ukernels* uk) {
  const i64 kc = state.range(0), ldv = uk->pv_nr;
  const auto p = random_floats(uk->mr * kc, 0, 1, 3), v = random_floats(kc * ldv, -1, 1, 4);
  std::vector<float> o(uk->mr * uk->pv_nr);
  const std::vector<float> alpha(uk->mr, 1.0f);
  for (auto _ : state) {
    uk->pv(kc, p.data(), kc, v.data(), ldv, o.data(), uk->pv_nr, uk->mr, uk->pv_nr, alpha.data());
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(kc * uk->mr * uk->pv_nr),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

/// A whole Br × Bc block of S (d = 128), panels looped as driver.cpp does.
void qk_block(benchmark::State& state, const Ukernels* uk) {
  const i64 br = state.range(0), bc = state.range(1), d = 128;
  const auto qp = random_floats(br * d, -1, 1, 1), kp = random_floats(bc * d, -1, 1, 2);
  std::vector<float> s(br * bc);
  for (auto _ : state) {
    for (i64 jp = 0; jp < bc / uk->nr; ++jp)
      for (i64 ip = 0; ip < br / uk->mr; ++ip)
        uk->qk(d, qp.data() + ip * uk->mr * d, kp.data() + jp * uk->nr * d, s.data() + ip * uk->mr * bc + jp * uk->nr,
               bc, uk->mr, uk->nr);
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * static_cast<double>(br * bc * d), benchmark::Counter::kIsIterationInvariantRate);
}

/// A whole Br × dv block of O = α·O + P V over Bc keys (dv = 128, V packed in NR-column strips).
void pv_block(benchmark::State& state, const Ukernels* uk) {
  const i64 br = state.range(0), bc = state.range(1), dv = 128;
  const auto p = random_floats(br * bc, 0, 1, 3), v = random_floats(bc * dv, -1, 1, 4);
  std::vector<float> o(br * dv);
  const std::vector<float> alpha(br, 1.0f);
  for (auto _ : state) {
    for (i64 c0 = 0; c0 < dv; c0 += uk->pv_nr)
      for (i64 ip = 0; ip < br / uk->mr; ++ip)
        uk->pv(bc, p.data() + ip * uk->mr * bc, bc, v.data() + c0 * bc, uk->pv_nr, o.data() + ip * uk->mr * dv + c0, dv,
               uk->mr, uk->pv_nr, alpha.data() + ip * uk->mr);
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * static_cast<double>(br * bc * dv), benchmark::Counter::kIsIterationInvariantRate);
}

/// The online-softmax step (max, alpha, exp2, stored p, sum) on `rows` rows of n logits, lds
/// apart: a whole Bs × Bc slice of S as the driver calls it, one long row, or a decode pass's
/// step of 4 rows (8 keys at stride 8 and at stride 16: decode/plan.hpp's tile_stride). Rows
/// whose max grows, so alpha is computed; the copy of the logits is timed too, as a fixed cost.
void softmax_block(benchmark::State& state, const Ukernels* uk) {
  const i64 rows = state.range(0), n = state.range(1), lds = state.range(2);
  const auto src = random_floats(rows * lds, -30, 0, 6);
  attnlab::AlignedVector<float> x(rows * lds);  // on a line, as decode's buffer of logits
  std::vector<float> m(rows), l(rows), alpha(rows);
  for (auto _ : state) {
    std::copy(src.begin(), src.end(), x.begin());
    std::fill(m.begin(), m.end(), -40.0f);
    std::fill(l.begin(), l.end(), 1.0f);
    uk->softmax_step(x.data(), lds, rows, n, m.data(), l.data(), alpha.data());
    benchmark::DoNotOptimize(l.data());
    benchmark::ClobberMemory();
  }
  state.counters["elements/s"] =
      benchmark::Counter(static_cast<double>(rows * n), benchmark::Counter::kIsIterationInvariantRate);
}

/// softmax(Q Kᵀ/√d) V for one head of N × d, 1 thread; GFLOP/s = 4 N² d (causal: visible pairs) per CPU second.
template <class T>
void fused_attention_of(benchmark::State& state) {
  const i64 n = state.range(0), d = state.range(1);
  const bool causal = state.range(2) != 0;
  auto as_t = [](const std::vector<float>& x) {
    std::vector<T> t;
    for (float e : x) t.push_back(attn::from_float<T>(e));
    return t;
  };
  const auto q = as_t(random_floats(n * d, -1, 1, 7)), k = as_t(random_floats(n * d, -1, 1, 8)),
             v = as_t(random_floats(n * d, -1, 1, 9));
  std::vector<T> o(n * d);
  attn::Options opts;
  opts.kernel = "fused";
  opts.threads = 1;
  opts.causal = causal ? attn::Causal::top_left : attn::Causal::none;
  using In = attn::TensorView<const T>;
  for (auto _ : state) {
    attn::attention(In::contiguous(q.data(), 1, 1, n, d), In::contiguous(k.data(), 1, 1, n, d),
                    In::contiguous(v.data(), 1, 1, n, d), attn::TensorView<T>::contiguous(o.data(), 1, 1, n, d), opts);
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  const double pairs = causal ? 0.5 * static_cast<double>(n) * static_cast<double>(n + 1) : static_cast<double>(n * n);
  state.counters["GFLOP/s"] =
      benchmark::Counter(4e-9 * pairs * static_cast<double>(d), benchmark::Counter::kIsIterationInvariantRate);
}
void fused_attention(benchmark::State& state) {
  fused_attention_of<float>(state);
}
/// The same with bf16 Q, K, V and O (where the CPU has AVX512_BF16: S by vdpbf16ps, unless
/// ATTN_BF16_DOT=off).
void fused_attention_bf16(benchmark::State& state) {
  fused_attention_of<attn::bf16>(state);
}

/// Decode: one query row per head against a long KV cache; counts the K and V bytes read.
void fused_decode(benchmark::State& state) {
  const i64 nk = state.range(0), d = 128, heads = 8;
  const int threads = static_cast<int>(state.range(1));
  const auto q = random_floats(heads * d, -1, 1, 7), k = random_floats(heads * nk * d, -1, 1, 8),
             v = random_floats(heads * nk * d, -1, 1, 9);
  std::vector<float> o(heads * d);
  attn::Options opts;
  opts.kernel = "fused";
  opts.threads = threads;
  for (auto _ : state) {
    attn::attention(attn::view3d(q.data(), heads, 1, d), attn::view3d(k.data(), heads, nk, d),
                    attn::view3d(v.data(), heads, nk, d), attn::view3d(o.data(), heads, 1, d), opts);
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  state.counters["KV bytes/s"] =
      benchmark::Counter(2.0 * heads * nk * d * sizeof(float), benchmark::Counter::kIsIterationInvariantRate);
}

/// The decode target's denominator: reading 1 GiB (as much as the decode K and V) once, summed
/// with 4 independent vector adds per 4 floats, by `threads` threads in static halves.
void memory_read(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const i64 n = i64{1} << 28;
  std::vector<float> a(static_cast<std::size_t>(n), 1.0f);
  for (auto _ : state) {
    float total = 0.0f;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (i64 blk = 0; blk < n / 4096; ++blk) {
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const float* p = a.data() + blk * 4096;
      for (i64 i = 0; i < 4096; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
      total += (s0 + s1) + (s2 + s3);
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["bytes/s"] =
      benchmark::Counter(static_cast<double>(n) * sizeof(float), benchmark::Counter::kIsIterationInvariantRate);
}

/// lab-3 ("I love AI": N = 3, d = 4) through attention(), and the fused kernel's run() alone
/// (what remains is attention()'s argument validation and kernel selection).
void lab3(benchmark::State& state) {
  const bool kernel_only = state.range(0) != 0;
  const auto q = random_floats(12, -1, 1, 1), k = random_floats(12, -1, 1, 2), v = random_floats(12, -1, 1, 3);
  std::vector<float> o(12);
  const attn::ConstTensor qv = attn::view2d(q.data(), 3, 4), kv = attn::view2d(k.data(), 3, 4),
                          vv = attn::view2d(v.data(), 3, 4);
  const attn::Tensor ov = attn::view2d(o.data(), 3, 4);
  attn::Options opts;
  opts.threads = 1;
  const attn::KernelInfo* fused = attn::find_kernel("fused");
  const attn::KernelArgs args{qv, kv, vv, ov, attn::Tensor{}, 0.5f, attn::Causal::none, attn::Mask{}, 1, nullptr, 0};
  for (auto _ : state) {
    if (kernel_only)
      fused->run(args);
    else
      attn::attention(qv, kv, vv, ov, opts);
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
}

int register_all() {
  benchmark::RegisterBenchmark("lab3", lab3)->ArgName("kernel_only")->Arg(0)->Arg(1);
  benchmark::RegisterBenchmark("fused_decode", fused_decode)
      ->ArgNames({"Nk", "threads"})
      ->Args({131072, 1})
      ->Args({131072, 2})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("memory_read", memory_read)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  // fp32 and bf16 on the same shapes: the pair is an A/B.
  using Run = void (*)(benchmark::State&);
  for (auto [name, fn] : {std::pair<const char*, Run>{"fused_attention", fused_attention},
                          std::pair<const char*, Run>{"fused_attention_bf16", fused_attention_bf16}})
    benchmark::RegisterBenchmark(name, fn)
        ->ArgNames({"N", "d", "causal"})
        ->Args({4096, 128, 0})
        ->Args({4096, 64, 0})
        ->Args({4096, 128, 1})
        ->Args({1024, 64, 0})
        ->Unit(benchmark::kMillisecond);
  for (attn::fused::Isa isa : attn::fused::supported_isas()) {
    const Ukernels* uk = attn::fused::ukernels_for(isa);
    // Each routine under its own name (Ukernels::names): f32_qk_6x16__avx2_fma, f32_softmax_step__avx2_rr1_p6_u16_acc2
    // …
    const std::string qk = uk->names.qk, pv = uk->names.pv;
    benchmark::RegisterBenchmark(("qk_tile/" + qk).c_str(), qk_tile, uk)->ArgName("d")->Arg(64)->Arg(128);
    if (uk->bf16_dot.qk)
      benchmark::RegisterBenchmark((std::string("qk_tile/") + uk->bf16_dot.qk_name).c_str(), bf16_qk_tile, uk)
          ->ArgName("d")
          ->Arg(64)
          ->Arg(128);
    benchmark::RegisterBenchmark(("pv_tile/" + pv).c_str(), pv_tile, uk)->ArgName("kc")->Arg(64)->Arg(256);
    benchmark::RegisterBenchmark(("qk_block/" + qk).c_str(), qk_block, uk)
        ->ArgNames({"Br", "Bc"})
        ->ArgsProduct({{48, 96, 192}, {128, 256, 512}});
    benchmark::RegisterBenchmark(("pv_block/" + pv).c_str(), pv_block, uk)
        ->ArgNames({"Br", "Bc"})
        ->ArgsProduct({{48, 96, 192}, {128, 256, 512}});
    benchmark::RegisterBenchmark((std::string("softmax_block/") + uk->names.softmax_step).c_str(), softmax_block, uk)
        ->ArgNames({"rows", "n", "lds"})
        ->Args({96, 128, 128})
        ->Args({192, 128, 128})
        ->Args({96, 256, 256})
        ->Args({1, 4096, 4096})
        ->Args({4, 8, 8})
        ->Args({4, 8, 16})
        ->Args({4, 16, 16});
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
