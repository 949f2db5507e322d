// Decode: few query rows against a long K/V cache, which is bound by memory bandwidth.
// Reported: GB/s of K and V read (each byte counted once, at its dtype's size) and its share
// of the read bandwidth this process measured with the same thread count over a buffer of at
// least 4× the L3 (kit/read_bandwidth.hpp). So that K/V come from DRAM even when one head's
// K/V would fit in the cache, each benchmark cycles through as many copies of K/V as fill that
// buffer ("decode/dram/..."); "decode/cached/..." reuses one copy (K/V in L2/L3: Nk = 4096).
// Names: decode/{dram|cached}/KERNEL/DTYPE/Nk:../Hkv:../H:../Nq:../d:../threads:.., with Q, K,
// V and O all of DTYPE (f32, f16, bf16), each on a 64-byte boundary like a serving stack's KV
// cache and like the yardstick's buffer (kit/aligned_array.hpp).
//   smoke: tiny shapes; quick (the default): Nk 4096 and 32768, Hkv ∈ {1, 8}, H/Hkv ∈ {1, 4},
//   Nq = 1, the 16-bit dtypes on Hkv = 8 from DRAM only; full: Nk 4096..131072, Hkv ∈ {1, 8},
//   H/Hkv ∈ {1, 4, 8}, Nq ∈ {1, 4}, every dtype; d = 128; and in full, `decode` at the other
//   common head sizes, d ∈ {64, 256}, on the shape (Nk 32768, Hkv 8, H/Hkv ∈ {1, 4},
//   Nq 1, every dtype, from DRAM): the loops' tiles and prefetching differ by d (plan.hpp).
// `decode` on every shape, `fused` and `blas` (f32) where Nq = 1 and H/Hkv ∈ {1, 4} (the
// targets' comparisons), each at the profile's thread counts.
#include "kit/aligned_array.hpp"
#include "kit/cache_info.hpp"
#include "kit/profile.hpp"
#include "kit/read_bandwidth.hpp"
#include "kit/suite_main.hpp"
#include "workload/inputs.hpp"

#include <benchmark/benchmark.h>
#include <attn/attention.hpp>
#include <attn/dtype.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using attnbench::Profile;
using i64 = std::int64_t;

struct DecodeCase {
  std::string kernel;
  attn::DType dtype = attn::DType::f32;
  i64 nk = 0, hkv = 1, group = 1, nq = 1, d = 128;
  int threads = 1;
  bool from_dram = true;
  i64 heads() const { return hkv * group; }
  std::size_t kv_bytes() const { return static_cast<std::size_t>(2 * hkv * nk * d) * attn::size_of(dtype); }
  std::string name() const {
    return "decode/" + std::string(from_dram ? "dram/" : "cached/") + kernel + "/" + attn::to_string(dtype) +
           "/Nk:" + std::to_string(nk) + "/Hkv:" + std::to_string(hkv) + "/H:" + std::to_string(heads()) +
           "/Nq:" + std::to_string(nq) + "/d:" + std::to_string(d) + "/threads:" + std::to_string(threads);
  }
};

/// `n` random values in [-1, 1) of element type T (rounded to nearest even for 16-bit), in a
/// 64-byte-aligned array as a KV cache is kept (kit/aligned_array.hpp; null when it cannot be
/// allocated).
template <class T>
attnbench::AlignedArray<T> random_values(std::size_t n, std::uint64_t seed) {
  attnbench::AlignedArray<T> x = attnbench::aligned_array<T>(n);
  if (!x) return x;
  if constexpr (std::is_same_v<T, float>) {
    attnlab::fill_uniform({x.get(), n}, seed);
  } else {  // a block of fp32 at a time: no second, fp32 copy of a 2 GiB pool
    std::vector<float> f(std::min<std::size_t>(n, std::size_t{1} << 16));
    for (std::size_t i = 0; i < n; i += f.size()) {
      const std::span<float> block(f.data(), std::min(f.size(), n - i));
      attnlab::fill_uniform_from(block, seed, i);
      std::transform(block.begin(), block.end(), x.get() + i, attn::from_float<T>);
    }
  }
  return x;
}

/// Every K/V copy of every case of one dtype is a region of one pool of random values, filled once
/// per process (at the first case that uses it): copy i of a case is its K and V at i · (K + V
/// bytes) into the pool. (Filling half a gigabyte per case would dominate the suite, and with
/// interleaved repetitions it would happen per run.) Sized at registration for the largest case
/// of the dtype: max(dram_buffer_bytes(), K + V of the largest).
template <class T>
struct Pool {
  std::size_t elements = 0, filled = 0;
  attnbench::AlignedArray<T> data;
  const T* get() {
    if (filled < elements) {
      data = random_values<T>(elements, 2);
      filled = elements;
    }
    return data.get();
  }
  static Pool& instance() {
    static Pool p;
    return p;
  }
};

void size_pool(const DecodeCase& c, std::size_t bytes) {
  switch (c.dtype) {
    case attn::DType::f32: {
      auto& p = Pool<float>::instance();
      p.elements = std::max(p.elements, bytes / sizeof(float));
      break;
    }
    case attn::DType::f16: {
      auto& p = Pool<attn::f16>::instance();
      p.elements = std::max(p.elements, bytes / 2);
      break;
    }
    case attn::DType::bf16: {
      auto& p = Pool<attn::bf16>::instance();
      p.elements = std::max(p.elements, bytes / 2);
      break;
    }
  }
}

/// The yardstick over a dtype's whole K/V pool (read_bandwidth_gbs_over: the pages the DRAM cases
/// read, not a buffer of the yardstick's own), measured at the first case that asks, once per
/// pool and thread count.
double pool_read_bandwidth(const void* pool, std::size_t bytes, int threads) {
  static std::map<std::pair<const void*, int>, double> measured;
  const auto key = std::pair{pool, threads};
  if (auto it = measured.find(key); it != measured.end()) return it->second;
  return measured[key] = attnbench::read_bandwidth_gbs_over(pool, bytes, threads);
}

/// K/V copies a case cycles through: enough to fill the DRAM buffer size (one for `cached`; one in
/// the smoke profile, which only checks that the code runs).
std::size_t copies_of(const DecodeCase& c) {
  if (!c.from_dram || attnbench::profile() == Profile::smoke) return 1;
  return std::max<std::size_t>(1, (attnbench::dram_buffer_bytes() + c.kv_bytes() - 1) / c.kv_bytes());
}

template <class T>
void run_decode(benchmark::State& state, const DecodeCase& c) {
  attn::Problem problem;
  problem.heads = c.heads(), problem.kv_heads = c.hkv, problem.q_len = c.nq, problem.kv_len = c.nk;
  problem.head_dim = problem.value_dim = c.d, problem.threads = c.threads;
  problem.dtypes = {c.dtype, c.dtype, c.dtype, c.dtype, c.dtype};
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
  const T* const kv = Pool<T>::instance().get();
  if (kv == nullptr) {
    state.SkipWithError("cannot allocate the K/V pool");
    return;
  }
  const double pool_bandwidth =
      c.from_dram ? pool_read_bandwidth(kv, Pool<T>::instance().elements * sizeof(T), c.threads) : 0.0;
  const i64 kv_elements = 2 * c.hkv * c.nk * c.d;
  const std::size_t q_elements = static_cast<std::size_t>(c.heads() * c.nq * c.d);
  const attnbench::AlignedArray<T> qs = random_values<T>(q_elements, 1);
  const attnbench::AlignedArray<T> os = attnbench::aligned_array<T>(q_elements);
  if (!qs || !os) {
    state.SkipWithError("cannot allocate Q and O");
    return;
  }
  attn::Options opts;
  opts.kernel = c.kernel;
  opts.threads = c.threads;
  using View = attn::TensorView<const T>;
  const View q = View::contiguous(qs.get(), 1, c.heads(), c.nq, c.d);
  const attn::TensorView<T> out = attn::TensorView<T>::contiguous(os.get(), 1, c.heads(), c.nq, c.d);
  auto call = [&](std::size_t copy) {
    const T* k = kv + static_cast<i64>(copy) * kv_elements;
    attn::attention(q, View::contiguous(k, 1, c.hkv, c.nk, c.d),
                    View::contiguous(k + kv_elements / 2, 1, c.hkv, c.nk, c.d), out, opts);
  };
  call(0);  // warm-up: workspace, OpenMP threads
  std::size_t next = 0;
  for (auto _ : state) {
    call(next);
    next = next + 1 == copies ? 0 : next + 1;
    benchmark::DoNotOptimize(os.get());
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  const double bytes = static_cast<double>(c.kv_bytes());
  state.counters["GB/s"] = Counter(bytes * 1e-9, Counter::kIsIterationInvariantRate);
  if (bandwidth > 0)
    state.counters["%read_bw"] = Counter(100 * bytes * 1e-9 / bandwidth, Counter::kIsIterationInvariantRate);
  state.counters["read_bw_GB/s"] = bandwidth;
  if (pool_bandwidth > 0) {  // the same against a read of the K/V pages themselves
    state.counters["%pool_read_bw"] = Counter(100 * bytes * 1e-9 / pool_bandwidth, Counter::kIsIterationInvariantRate);
    state.counters["pool_read_bw_GB/s"] = pool_bandwidth;
  }
  state.counters["kv_bytes"] = bytes;
  state.counters["kv_copies"] = static_cast<double>(copies);
  state.counters["Nq"] = static_cast<double>(c.nq);
  state.counters["Nk"] = static_cast<double>(c.nk);
  state.counters["d"] = static_cast<double>(c.d);
  state.counters["heads"] = static_cast<double>(c.heads());
  state.counters["kv_heads"] = static_cast<double>(c.hkv);
  state.counters["threads"] = c.threads;
  state.counters["dtype_bytes"] = static_cast<double>(attn::size_of(c.dtype));
  state.SetLabel(std::string(c.from_dram ? "K/V from DRAM" : "K/V from cache") + ", " + attn::to_string(c.dtype));
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
    state.counters["streams"] = r.streams;  // the way that read fastest (read_bandwidth.cpp)
    state.counters["prefetch_bytes"] = r.prefetch_bytes;
  }
  state.counters["threads"] = threads;
}

double min_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}

void register_decode() {
  const Profile profile = attnbench::profile();
  std::vector<i64> lengths{4096, 16384, 32768, 65536, 131072}, kv_heads{1, 8}, groups{1, 4, 8}, rows{1, 4};
  if (profile == Profile::quick) lengths = {4096, 32768}, groups = {1, 4}, rows = {1};
  if (profile == Profile::smoke) lengths = {64, 1100}, kv_heads = {1, 2}, groups = {1, 4}, rows = {1, 4};
  const attn::DType dtypes[] = {attn::DType::f32, attn::DType::f16, attn::DType::bf16};
  const i64 d = profile == Profile::smoke ? 16 : 128;
  benchmark::AddCustomContext("decode_dram_buffer_bytes", std::to_string(attnbench::dram_buffer_bytes()));
  auto add = [](const DecodeCase& c) {
    size_pool(c, copies_of(c) * c.kv_bytes());
    auto* run = c.dtype == attn::DType::f16    ? run_decode<attn::f16>
                : c.dtype == attn::DType::bf16 ? run_decode<attn::bf16>
                                               : run_decode<float>;
    attnbench::apply_profile(benchmark::RegisterBenchmark(c.name().c_str(), run, c)
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
            ->MeasureProcessCPUTime()  // its CPU time, like the kernels', for the share on CPU time
            ->Unit(benchmark::kMicrosecond));
  for (int threads : attnbench::thread_counts())
    for (i64 nk : lengths)
      for (i64 hkv : kv_heads)
        for (i64 g : groups)
          for (i64 nq : rows)
            for (attn::DType dtype : dtypes)
              for (const char* kernel : {"decode", "fused", "blas"}) {
                const bool f32 = dtype == attn::DType::f32;
                if (std::string(kernel) != "decode" && (nq != 1 || g > 4 || !f32)) continue;
                // quick: the 16-bit dtypes on the realistic shape (8 K/V heads) from DRAM only
                if (!f32 && profile == Profile::quick && hkv != 8) continue;
                DecodeCase c{kernel, dtype, nk, hkv, g, nq, d, threads, true};
                add(c);
                if (nk == lengths.front() && (f32 || profile != Profile::quick)) {  // K/V in cache
                  c.from_dram = false;
                  add(c);
                }
              }
  if (profile != Profile::full) return;
  for (int threads : attnbench::thread_counts())
    for (i64 other_d : {64, 256})
      for (i64 g : {1, 4})
        for (attn::DType dtype : dtypes) add(DecodeCase{"decode", dtype, 32768, 8, g, 1, other_d, threads, true});
}

const bool registered = attnbench::add_suite(register_decode);

}  // namespace

ATTNBENCH_MAIN()
