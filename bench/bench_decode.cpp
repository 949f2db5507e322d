// Decode: few query rows against a long K/V cache, which is bound by memory bandwidth.
// Reported: GB/s of K and V read (each byte counted once) and its share of the read
// bandwidth this process measured with the same thread count over a buffer 4× the L3
// (kit/read_bandwidth.hpp). So that K/V come from DRAM even when one head's K/V would fit
// in the cache, each benchmark cycles through as many copies of K/V as fill 4× the L3
// ("decode/dram/..."); "decode/cached/..." reuses one copy (K/V in L2/L3: Nk = 4096).
//   smoke: tiny shapes; quick: Nk 4096 and 32768; full: Nk 4096..131072,
//   Hkv ∈ {1, 8}, H/Hkv ∈ {1, 4, 8}, Nq ∈ {1, 4}, d = 128,
// `decode` on every shape, `fused` and `blas` where Nq = 1 and H/Hkv ∈ {1, 4} (the targets'
// comparisons), each at the profile's thread counts.
#include "kit/cache_info.hpp"
#include "kit/profile.hpp"
#include "kit/read_bandwidth.hpp"
#include "kit/suite_main.hpp"
#include "workload/inputs.hpp"

#include <benchmark/benchmark.h>
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using attnbench::Profile;
using i64 = std::int64_t;

struct DecodeCase {
  std::string kernel;
  i64 nk = 0, hkv = 1, group = 1, nq = 1, d = 128;
  int threads = 1;
  bool from_dram = true;
  i64 heads() const { return hkv * group; }
  std::size_t kv_bytes() const { return static_cast<std::size_t>(2 * hkv * nk * d) * sizeof(float); }
  std::string name() const {
    return "decode/" + std::string(from_dram ? "dram/" : "cached/") + kernel + "/Nk:" + std::to_string(nk) +
           "/Hkv:" + std::to_string(hkv) + "/H:" + std::to_string(heads()) + "/Nq:" + std::to_string(nq) +
           "/d:" + std::to_string(d) + "/threads:" + std::to_string(threads);
  }
};

/// Every K/V copy of every case is a region of one pool of random floats, filled once per process:
/// copy i of a case is its K and V at i · (K + V bytes) into the pool. (Filling half a gigabyte
/// per case would dominate the suite, and with interleaved repetitions it would happen per run.)
/// Sized at registration for the largest case: max(4× L3, K + V of the largest).
struct Pool {
  std::size_t floats = 0;
  std::vector<float> data;
  float* get() {
    if (data.size() < floats) {
      data.resize(floats);
      attnlab::fill_uniform(data, 2);
    }
    return data.data();
  }
};
Pool& pool() {
  static Pool p;
  return p;
}

/// K/V copies a case cycles through: enough to fill the DRAM buffer size (one for `cached`; one in
/// the smoke profile, which only checks that the code runs).
std::size_t copies_of(const DecodeCase& c) {
  if (!c.from_dram || attnbench::profile() == Profile::smoke) return 1;
  return std::max<std::size_t>(1, (attnbench::dram_buffer_bytes() + c.kv_bytes() - 1) / c.kv_bytes());
}

void run_decode(benchmark::State& state, const DecodeCase& c) {
  attn::Problem problem;
  problem.heads = c.heads(), problem.kv_heads = c.hkv, problem.q_len = c.nq, problem.kv_len = c.nk;
  problem.head_dim = problem.value_dim = c.d, problem.threads = c.threads;
  const attn::KernelInfo* kernel = attn::find_kernel(c.kernel);
  if (kernel == nullptr) {
    state.SkipWithError(("no kernel " + c.kernel).c_str());
    return;
  }
  if (std::string why = attn::unsupported_reason(*kernel, problem, attn::default_memory_budget()); !why.empty()) {
    state.SkipWithError((attnbench::kRefused + why).c_str());
    return;
  }
  const double bandwidth = attnbench::read_bandwidth_gbs(c.threads);  // measured before the timed loop
  const std::size_t copies = copies_of(c);
  float* const kv = pool().get();
  const i64 kv_floats = 2 * c.hkv * c.nk * c.d;
  std::vector<float> qs(static_cast<std::size_t>(c.heads() * c.nq * c.d)), os(qs.size());
  attnlab::fill_uniform(qs, 1);
  attn::Options opts;
  opts.kernel = c.kernel;
  opts.threads = c.threads;
  const attn::ConstTensor q = attn::ConstTensor::contiguous(qs.data(), 1, c.heads(), c.nq, c.d);
  const attn::Tensor out = attn::Tensor::contiguous(os.data(), 1, c.heads(), c.nq, c.d);
  auto call = [&](std::size_t copy) {
    const float* k = kv + static_cast<i64>(copy) * kv_floats;
    attn::attention(q, attn::ConstTensor::contiguous(k, 1, c.hkv, c.nk, c.d),
                    attn::ConstTensor::contiguous(k + kv_floats / 2, 1, c.hkv, c.nk, c.d), out, opts);
  };
  call(0);  // warm-up: workspace, OpenMP threads
  std::size_t next = 0;
  for (auto _ : state) {
    call(next);
    next = next + 1 == copies ? 0 : next + 1;
    benchmark::DoNotOptimize(os.data());
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  const double bytes = static_cast<double>(c.kv_bytes());
  state.counters["GB/s"] = Counter(bytes * 1e-9, Counter::kIsIterationInvariantRate);
  if (bandwidth > 0)
    state.counters["%read_bw"] = Counter(100 * bytes * 1e-9 / bandwidth, Counter::kIsIterationInvariantRate);
  state.counters["read_bw_GB/s"] = bandwidth;
  state.counters["kv_bytes"] = bytes;
  state.counters["kv_copies"] = static_cast<double>(copies);
  state.counters["Nq"] = static_cast<double>(c.nq);
  state.counters["Nk"] = static_cast<double>(c.nk);
  state.counters["d"] = static_cast<double>(c.d);
  state.counters["heads"] = static_cast<double>(c.heads());
  state.counters["kv_heads"] = static_cast<double>(c.hkv);
  state.counters["threads"] = c.threads;
  state.SetLabel(c.from_dram ? "K/V from DRAM" : "K/V from cache");
}

/// The yardstick as a benchmark of its own, so its spread over the run (min, median) sits next
/// to the kernels' in the same file: one pass over the 4×-L3 buffer per iteration.
void read_bandwidth(benchmark::State& state, int threads) {
  for (auto _ : state) {
    const attnbench::ReadPass r = attnbench::read_pass(threads);
    if (r.bytes == 0) {
      state.SkipWithError("cannot allocate the read-bandwidth buffer");
      return;
    }
    state.SetIterationTime(r.seconds);
    state.counters["GB/s"] = benchmark::Counter(r.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["buffer_bytes"] = r.bytes;
  }
  state.counters["threads"] = threads;
}

double min_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}

void register_decode() {
  const Profile profile = attnbench::profile();
  std::vector<i64> lengths{4096, 16384, 32768, 131072}, kv_heads{1, 8}, groups{1, 4, 8}, rows{1, 4};
  if (profile == Profile::quick) lengths = {4096, 32768}, groups = {1, 4}, rows = {1};
  if (profile == Profile::smoke) lengths = {64, 1100}, kv_heads = {1, 2}, groups = {1, 4}, rows = {1, 4};
  const i64 d = profile == Profile::smoke ? 16 : 128;
  benchmark::AddCustomContext("decode_dram_buffer_bytes", std::to_string(attnbench::dram_buffer_bytes()));
  auto add = [](const DecodeCase& c) {
    pool().floats = std::max(pool().floats, copies_of(c) * c.kv_bytes() / sizeof(float));
    attnbench::apply_profile(benchmark::RegisterBenchmark(c.name().c_str(), run_decode, c)
                                 ->UseRealTime()
                                 ->MeasureProcessCPUTime()
                                 ->ComputeStatistics("min", min_of)
                                 ->Unit(benchmark::kMicrosecond));
  };
  for (int threads : attnbench::thread_counts())
    attnbench::apply_profile(
        benchmark::RegisterBenchmark(("decode/read_bandwidth/threads:" + std::to_string(threads)).c_str(),
                                     read_bandwidth, threads)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond));
  for (int threads : attnbench::thread_counts())
    for (i64 nk : lengths)
      for (i64 hkv : kv_heads)
        for (i64 g : groups)
          for (i64 nq : rows)
            for (const char* kernel : {"decode", "fused", "blas"}) {
              if (std::string(kernel) != "decode" && (nq != 1 || g > 4)) continue;
              DecodeCase c{kernel, nk, hkv, g, nq, d, threads, true};
              add(c);
              if (nk == lengths.front()) {  // the K/V-in-cache comparison (blas and fused against decode)
                c.from_dram = false;
                add(c);
              }
            }
}

const bool registered = attnbench::add_suite(register_decode);

}  // namespace

ATTNBENCH_MAIN()
