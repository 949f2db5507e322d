#include "attention_case.hpp"

#include "memory_probe.hpp"
#include "peak.hpp"
#include "profile.hpp"
#include "suite_main.hpp"
#include "workload/inputs.hpp"
#include "workload/metrics.hpp"
#include "workload/narrowed.hpp"

#include <attn/attention.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <span>

namespace attnbench {

namespace {

using i64 = std::int64_t;

/// The full reference only below this many FLOP (fp64 scalar: a few GFLOP/s, so at most ~1 s).
constexpr double kFullReferenceFlops = 2e9;
/// Rows per head checked when the full reference is too slow.
constexpr i64 kSampledRows = 8;

/// The fp64 reference output for rows [first_row, Nq) of every (batch, head).
struct Oracle {
  bool available = false;
  std::string what;
  i64 first_row = 0;
  std::vector<float> out;  // [B, H, Nq - first_row, dv], contiguous
};

/// Computes the oracle for `in`. Sampling the last rows keeps causal masks exact: with
/// Nq == Nk, top-left row i sees keys j <= i, which is bottom-right for the slice.
Oracle make_oracle(const attnlab::Inputs& in) {
  const attnlab::Shape& s = in.shape;
  Oracle o;
  const bool full = s.flops() <= kFullReferenceFlops || s.q_len <= kSampledRows;
  o.first_row = full ? 0 : s.q_len - kSampledRows;
  attn::Options opts;
  opts.kernel = "reference";
  opts.threads = max_threads();
  opts.causal = s.causal;
  if (!full && s.causal == attn::Causal::top_left) {
    if (s.q_len != s.kv_len) {
      o.what = "no oracle (reference too slow, rows cannot be sampled)";
      return o;
    }
    opts.causal = attn::Causal::bottom_right;
  }
  const i64 rows = s.q_len - o.first_row;
  attn::ConstTensor q = in.qv();
  q.data += o.first_row * q.strides[2];
  q.shape[2] = rows;
  o.out.assign(static_cast<std::size_t>(s.batch * s.heads * rows * s.value_dim), 0.0f);
  attn::Tensor out = attn::Tensor::contiguous(o.out.data(), s.batch, s.heads, rows, s.value_dim);
  attn::attention(q, in.kv(), in.vv(), out, opts);
  o.available = true;
  o.what = full ? "err vs reference" : "err vs reference on the last " + std::to_string(kSampledRows) + " rows/head";
  return o;
}

/// The kernel's rows that the oracle covers, in the oracle's layout.
std::vector<float> oracle_rows(const attnlab::Inputs& in, const Oracle& o) {
  const attnlab::Shape& s = in.shape;
  if (o.first_row == 0) return {in.out.begin(), in.out.end()};
  std::vector<float> r;
  r.reserve(o.out.size());
  for (i64 bh = 0; bh < s.batch * s.heads; ++bh) {
    const auto first = in.out.begin() + (bh * s.q_len + o.first_row) * s.value_dim;
    r.insert(r.end(), first, in.out.begin() + (bh + 1) * s.q_len * s.value_dim);
  }
  return r;
}

/// What is measured once per benchmark (Google Benchmark calls the function once per trial and repetition).
struct Facts {
  std::string label;
  std::optional<attnlab::ErrorStats> error;
  std::optional<CallMemory> memory;
};

std::mutex g_mutex;
std::map<std::string, Oracle>& oracles() {
  static std::map<std::string, Oracle> m;
  return m;
}
std::map<std::string, Facts>& facts() {
  static std::map<std::string, Facts> m;
  return m;
}

/// The budget kernels are held to: ATTN_BENCH_MEMORY_BUDGET (bytes) or the library's default.
std::size_t memory_budget() {
  static const std::size_t budget = [] {
    const char* env = std::getenv("ATTN_BENCH_MEMORY_BUDGET");
    const long long b = env ? std::atoll(env) : 0;
    return b > 0 ? static_cast<std::size_t>(b) : attn::default_memory_budget();
  }();
  return budget;
}

std::string shape_key(const attnlab::Shape& s) {
  return s.name + "/" + std::to_string(s.batch) + "x" + std::to_string(s.heads) + "x" + std::to_string(s.q_len) + "x" +
         std::to_string(s.kv_len) + "x" + std::to_string(s.head_dim) + "/" + std::to_string(static_cast<int>(s.causal));
}

}  // namespace

bool worth_timing(const attn::KernelInfo& kernel, const attnlab::Shape& shape) {
  if (kernel.name != "reference" && kernel.name != "textbook") return true;
  return shape.flops() <= (profile() == Profile::full ? 3e9 : 3e8);
}

void run_attention_case(benchmark::State& state, const AttentionCase& c) {
  const attnlab::Shape& s = c.shape;
  const attn::DType t = c.dtype;
  attn::Problem problem = s.problem(c.threads);
  problem.dtypes = {t, t, t, t, attn::DType::f32};
  if (std::string why = attn::unsupported_reason(*c.kernel, problem, memory_budget()); !why.empty()) {
    state.SkipWithError((kRefused + why).c_str());
    return;
  }
  attnlab::Inputs in = attnlab::make_inputs(s, 1);
  // Q, K, V and O in the case's dtype: the inputs are rounded to it in place, so the oracle,
  // which reads in's fp32 values, sees what the kernel reads.
  attnlab::Narrowed q16, k16, v16, out16;
  q16.store(t, in.q), k16.store(t, in.k), v16.store(t, in.v), out16.store(t, in.out);
  auto typed = [t](attn::AnyConstTensor view, const attnlab::Narrowed& n, std::span<const float> values) {
    view.data = n.data(t, values), view.dtype = t;
    return view;
  };
  const attn::AnyConstTensor q = typed(in.qv(), q16, in.q), k = typed(in.kv(), k16, in.k),
                             v = typed(in.vv(), v16, in.v);
  attn::AnyTensor out = in.outv();
  out.data = out16.data(t, in.out), out.dtype = t;
  attn::Options opts;
  opts.kernel = std::string(c.kernel->name);
  opts.causal = s.causal;
  opts.threads = c.threads;
  opts.memory_budget = memory_budget();
  auto call = [&] { attn::attention(q, k, v, out, opts); };

  const std::string dtype = attn::to_string(t);
  const std::string key =
      std::string(c.kernel->name) + "/" + shape_key(s) + "/" + dtype + "/" + std::to_string(c.threads);
  Facts f;
  {
    std::lock_guard lock(g_mutex);
    if (auto it = facts().find(key); it != facts().end()) f = it->second;
  }
  if (f.label.empty()) {              // first time: one untimed call, measured for memory and checked for error
    attn::release_workspace_cache();  // else a buffer kept from an earlier shape hides this call's workspace
    f.memory = measure_call_memory(call);
    out16.load(t, in.out);                                // a 16-bit O, widened for the comparison
    const std::string skey = shape_key(s) + "/" + dtype;  // the rounded inputs differ by dtype
    std::unique_lock lock(g_mutex);
    auto it = oracles().find(skey);
    if (it == oracles().end()) it = oracles().emplace(skey, make_oracle(in)).first;
    const Oracle& o = it->second;
    f.label = t == attn::DType::f32 ? o.what : dtype + " Q, K, V, O; " + o.what;
    if (o.available) f.error = attnlab::compare_to(oracle_rows(in, o), o.out);
    facts()[key] = f;
  }

  for (auto _ : state) {
    call();
    benchmark::DoNotOptimize(in.out.data());
    benchmark::ClobberMemory();
  }

  using benchmark::Counter;
  // GFLOP/s counts the same FLOPs in every dtype; the bytes are the dtype's.
  const double flops = s.flops(), bytes = s.io_bytes() / 4 * static_cast<double>(attn::size_of(t));
  const double peak = peak_gflops(c.threads);
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
  if (peak > 0) state.counters["%peak"] = Counter(100 * flops / (peak * 1e9), Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = Counter(bytes * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["flops"] = flops;
  state.counters["bytes_moved"] = bytes;
  state.counters["dtype_bytes"] = static_cast<double>(attn::size_of(t));
  state.counters["workspace_bytes"] = static_cast<double>(c.kernel->workspace_bytes(problem));
  if (f.memory) {
    state.counters["call_peak_bytes"] = static_cast<double>(f.memory->growth());
    state.counters["rss_peak_bytes"] = static_cast<double>(f.memory->rss_peak);
  }
  if (f.error) {
    state.counters["max_rel_err"] = f.error->max_rel;
    state.counters["max_abs_err"] = f.error->max_abs;
  }
  state.counters["Nq"] = static_cast<double>(s.q_len);
  state.counters["Nk"] = static_cast<double>(s.kv_len);
  state.counters["d"] = static_cast<double>(s.head_dim);
  state.counters["heads"] = static_cast<double>(s.heads);
  state.counters["causal"] = s.causal == attn::Causal::none ? 0 : 1;
  state.counters["threads"] = c.threads;
  state.SetLabel(f.label);
}

benchmark::internal::Benchmark* register_case(const std::string& family, const AttentionCase& c) {
  const std::string dtype = c.dtype == attn::DType::f32 ? "" : std::string("/") + attn::to_string(c.dtype);
  const std::string name =
      family + "/" + std::string(c.kernel->name) + "/" + c.shape.name + dtype + "/threads:" + std::to_string(c.threads);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), run_attention_case, c)
                ->UseRealTime()
                ->MeasureProcessCPUTime()
                ->Unit(benchmark::kMicrosecond);
  // Calls of ten seconds and more: one run each, or the full profile takes hours.
  if (profile() == Profile::full && c.shape.flops() > 1e12) b->Repetitions(1)->Iterations(1);
  return apply_profile(b);
}

}  // namespace attnbench
