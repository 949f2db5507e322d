// attnlab compare's measurement loop and its JSON document (compare_run.hpp).
#include "compare_run.hpp"

#include "json.hpp"
#include "table.hpp"
#include "threads.hpp"
#include "typed_array.hpp"
#include "workload/inputs.hpp"
#include "workload/pages.hpp"
#include "workload/shapes.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>

namespace attnlab {

namespace {

/// The non-empty items of a comma-separated list.
std::vector<std::string> comma_list(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = list.find(',', start);
    if (std::string item = list.substr(start, comma - start); !item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<const attn::KernelInfo*> chosen_kernels(const std::string& list) {
  std::vector<const attn::KernelInfo*> out;
  if (list.empty()) {
    for (const auto& k : attn::kernels()) out.push_back(&k);
    return out;
  }
  for (const std::string& name : comma_list(list)) {
    const attn::KernelInfo* k = attn::find_kernel(name);
    if (!k)
      throw std::invalid_argument("--kernels: unknown kernel '" + name + "' (registered: " + attn::kernel_names() +
                                  ")");
    out.push_back(k);
  }
  if (out.empty()) throw std::invalid_argument("--kernels: the list is empty");
  return out;
}

std::vector<attn::DType> chosen_dtypes(const std::string& list) {
  std::vector<attn::DType> out;
  for (const std::string& name : comma_list(list)) {
    const auto t = attn::parse_dtype(name);
    if (!t) throw std::invalid_argument("--dtypes: unknown dtype '" + name + "' (expected f32, f16 or bf16)");
    if (std::find(out.begin(), out.end(), *t) != out.end())
      throw std::invalid_argument("--dtypes: " + name + " is listed twice");
    out.push_back(*t);
  }
  if (out.empty()) throw std::invalid_argument("--dtypes: the list is empty");
  return out;
}

/// The tensors of one call: views of the seeded fp32 inputs, or of copies rounded to a dtype.
struct CallViews {
  attn::AnyConstTensor q, k, v;
  attn::AnyTensor out;
};

/// Runs the kernel up to `reps` times (at least once, stopping after `max_s`), returns the times;
/// `each_run`: a line on stderr after every run (for runs long enough to need one).
std::vector<double> time_kernel(const CallViews& in, const attn::Options& opts, int reps, double max_s, bool each_run,
                                std::ostream* progress = nullptr) {
  std::vector<double> times;
  double total = 0;
  for (int r = 0; r < reps && (r == 0 || total < max_s); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    attn::attention(in.q, in.k, in.v, in.out, opts);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times.push_back(s);
    total += s;
    if (each_run && progress) *progress << "compare:   run " << r + 1 << ": " << duration(s) << "\n";
  }
  return times;
}

/// Bytes a shape's buffers take: Q, K, V, the output and the LSE (make_inputs), and the oracle's
/// copy; for a 16-bit dtype also the rounded Q, K, V, the output in it and that output widened.
double input_bytes(const Shape& s, bool with_oracle, attn::DType dtype) {
  const double q = static_cast<double>(s.batch) * s.heads * s.q_len * s.head_dim;
  const double kv = static_cast<double>(s.batch) * s.kv_heads * s.kv_len * (s.head_dim + s.value_dim);
  const double out = static_cast<double>(s.batch) * s.heads * s.q_len * s.value_dim;
  const double lse = static_cast<double>(s.batch) * s.heads * s.q_len;
  const double narrow = dtype == attn::DType::f32 ? 0 : 2.0 * (q + kv + out) + 4.0 * out;
  return 4.0 * (q + kv + out * (with_oracle ? 2 : 1) + lse) + narrow;
}

/// A shape's seeded inputs in one dtype: the fp32 buffers themselves, or copies rounded to it.
class DtypeInputs {
 public:
  DtypeInputs(Inputs& in, attn::DType dtype) : in_(in), dtype_(dtype) {
    if (dtype == attn::DType::f32) return;
    q_ = TypedArray::rounded(dtype, in.q), k_ = TypedArray::rounded(dtype, in.k), v_ = TypedArray::rounded(dtype, in.v);
    out_ = TypedArray::zeros(dtype, in.out.size());
  }
  /// What the kernels compute on: O in the dtype.
  CallViews kernel_views() {
    if (dtype_ == attn::DType::f32) return {in_.qv(), in_.kv(), in_.vv(), in_.outv()};
    return {q_.view(in_.qv().shape), k_.view(in_.kv().shape), v_.view(in_.vv().shape),
            out_.mutable_view(in_.outv().shape)};
  }
  /// What the oracle computes on: the same inputs, O in fp32 (the fp32 output buffer).
  CallViews oracle_views() {
    CallViews c = kernel_views();
    c.out = in_.outv();
    return c;
  }
  /// The kernel's last output, widened to fp32.
  std::vector<float> result() const {
    return dtype_ == attn::DType::f32 ? std::vector<float>(in_.out.begin(), in_.out.end()) : out_.widened();
  }

 private:
  Inputs& in_;
  attn::DType dtype_;
  TypedArray q_, k_, v_, out_;
};

/// GFLOP/s figures to estimate run times from, per kernel: the latest measured in this
/// run, else one call on a small problem of the same head size.
class Rates {
 public:
  struct Rate {
    double flops_per_s;
    std::string seen_on;
  };
  /// The rate of `k` in `dtype` measured on an earlier shape, else of one fp32 call.
  Rate of(const attn::KernelInfo& k, attn::DType dtype, const Shape& like, int threads, std::uint64_t seed) {
    if (auto it = seen_.find(key(k, dtype)); it != seen_.end()) return it->second;
    Shape small = like;
    small.name = std::to_string(std::min<std::int64_t>(like.q_len, 512)) + "x" +
                 std::to_string(std::min<std::int64_t>(like.kv_len, 512)) + "x" + std::to_string(like.head_dim);
    small.batch = small.heads = small.kv_heads = 1;
    small.q_len = std::min<std::int64_t>(like.q_len, 512), small.kv_len = std::min<std::int64_t>(like.kv_len, 512);
    Inputs in = make_inputs(small, seed);
    attn::Options opts;
    opts.kernel = std::string(k.name), opts.causal = small.causal, opts.threads = threads;
    const CallViews views{in.qv(), in.kv(), in.vv(), in.outv()};
    const auto times = time_kernel(views, opts, 3, 0.5, false);  // the first includes thread start-up: take the least
    return {small.flops() / *std::min_element(times.begin(), times.end()), "a " + small.name + " call"};
  }
  /// Shapes of fewer FLOP time thread start-up and call overhead more than the kernel.
  static constexpr double kTellingFlops = 1e8;
  void measured(const attn::KernelInfo& k, attn::DType dtype, const Shape& shape, double seconds) {
    if (seconds > 0 && shape.flops() >= kTellingFlops)
      seen_[key(k, dtype)] = {shape.flops() / seconds, shape.name + " in " + attn::to_string(dtype)};
  }

 private:
  static std::string key(const attn::KernelInfo& k, attn::DType dtype) {
    return std::string(k.name) + " " + attn::to_string(dtype);
  }
  std::map<std::string, Rate> seen_;
};

/// Seconds that timing one kernel should take: runs of `one` seconds, up to `reps`, stopping after `max_s`.
double expected_seconds(double one, int reps, double max_s) {
  const double runs = std::min<double>(reps, 1 + std::floor(max_s / std::max(one, 1e-9)));
  return runs * one;
}

/// Below this many FLOP no kernel's timing takes seconds (the slowest, reference and textbook, run at
/// ~1 GFLOP/s or more): no estimate is needed, nor the small call it may take to make one.
constexpr double kMayTakeSeconds = 3e8;
/// Warm-up of a short call: calls for this long, at most this many.
constexpr double kWarmUpSeconds = 0.02;
constexpr int kWarmUpCalls = 10000;

/// Work estimated to take longer than this gets its estimate, and each run's time, on stderr.
constexpr double kAnnounceSeconds = 3.0;

}  // namespace

CompareResult run_compare(const CompareOptions& o, std::ostream* progress) {
  const std::vector<Shape> shapes = parse_shapes(o.shapes);
  const auto kernels = chosen_kernels(o.kernels);
  const auto dtypes = chosen_dtypes(o.dtypes);
  if (o.reps < 1) throw std::invalid_argument("--reps: must be >= 1, got " + std::to_string(o.reps));
  if (!(o.max_seconds >= 0)) throw std::invalid_argument("--max-seconds: must be >= 0");
  CompareResult result;
  const int threads = result.threads = checked_threads("compare", o.threads, progress);
  const std::size_t budget = o.memory_budget ? o.memory_budget : attn::default_memory_budget();
  const std::string budget_text =
      bytes(static_cast<double>(budget)) + (o.memory_budget ? "" : " (half of physical memory)");

  std::vector<CompareRow>& rows = result.rows;
  Rates rates;
  const std::size_t total = shapes.size() * dtypes.size() * kernels.size();
  std::size_t step = 0;
  // The estimate for work that may take seconds, on `progress`; returns whether one call takes that long.
  auto announce = [&](const std::string& what, const attn::KernelInfo& k, attn::DType dtype, const Shape& shape,
                      bool one_call) {
    if (shape.flops() < kMayTakeSeconds) return false;
    const Rates::Rate r = rates.of(k, dtype, shape, threads, o.seed);
    const double one = shape.flops() / r.flops_per_s;
    const double est = one_call ? one : expected_seconds(one, o.reps, o.max_seconds);
    if (est > kAnnounceSeconds && progress)
      *progress << "compare: " << what << ": about " << duration(est) << " (" << sci(shape.flops())
                << " FLOP a run at ~" << fixed(r.flops_per_s * 1e-9, 1) << " GFLOP/s, as on " << r.seen_on << ")\n";
    return one > kAnnounceSeconds;  // each run worth a progress line
  };
  const bool several_dtypes = dtypes.size() > 1 || dtypes.front() != attn::DType::f32;
  for (const Shape& shape : shapes) {
    std::optional<Inputs> in;  // made for the first dtype that runs anything
    for (const attn::DType dtype : dtypes) {
      const std::string dtype_name = attn::to_string(dtype);
      const std::string label = shape.name + (several_dtypes ? " " + dtype_name : "");
      attn::Problem problem = shape.problem(threads);
      problem.dtypes = {dtype, dtype, dtype, dtype, attn::DType::f32};
      const std::size_t first_row = rows.size();
      // The oracle runs when the user's limit allows it and its buffers fit; each kernel when its own do.
      attn::Problem oracle_problem = problem;
      oracle_problem.dtypes.out = attn::DType::f32;
      const double ref_fits_bytes =
          input_bytes(shape, true, dtype) +
          static_cast<double>(attn::find_kernel("reference")->workspace_bytes(oracle_problem));
      const bool ref_ok = shape.flops() <= o.reference_limit && ref_fits_bytes <= static_cast<double>(budget);
      const double in_bytes = input_bytes(shape, ref_ok, dtype);
      std::vector<const attn::KernelInfo*> to_run;
      for (const attn::KernelInfo* k : kernels) {
        CompareRow row;
        row.kernel = std::string(k->name);
        row.shape = shape.name;
        row.dtype = dtype_name;
        const double ws = static_cast<double>(k->workspace_bytes(problem));
        if (k->name == "reference" && shape.flops() > o.reference_limit) {
          row.skipped = "skipped: " + sci(shape.flops()) + " FLOP is over --reference-limit";
        } else if (!k->dtypes.contains(dtype)) {
          row.skipped = "skipped: takes " + k->dtypes.str() + ", not " + dtype_name;
        } else if (in_bytes + ws > static_cast<double>(budget)) {
          row.refused = "--memory-budget: " + row.kernel + " on " + label + " needs " + bytes(in_bytes + ws) +
                        " (inputs and outputs " + bytes(in_bytes) + ", workspace " + bytes(ws) +
                        "), over the memory budget of " + budget_text;
        } else if (std::string why = attn::unsupported_reason(*k, problem, budget); !why.empty()) {
          row.refused = row.kernel + " on " + label + ": " + why;
        } else {
          to_run.push_back(k);
        }
        rows.push_back(row);
      }
      if (to_run.empty()) {
        step += kernels.size();
        continue;  // nothing allocated for a shape no kernel can take
      }
      if (!in) in = make_inputs(shape, o.seed);
      DtypeInputs views(*in, dtype);
      attn::Options opts;
      opts.causal = shape.causal;
      opts.threads = threads;
      opts.memory_budget = budget;

      // The oracle, once per shape and dtype (and its own row when asked for).
      std::optional<std::vector<float>> ref;
      std::vector<double> ref_times;
      if (ref_ok) {
        if (progress) *progress << "compare: " << label << ": reference (oracle)\n";
        announce(label + ": reference (oracle)", *attn::find_kernel("reference"), dtype, shape, true);
        opts.kernel = "reference";
        ref_times = time_kernel(views.oracle_views(), opts, 1, 0, false);
        rates.measured(*attn::find_kernel("reference"), dtype, shape, ref_times.front());
        ref.emplace(in->out.begin(), in->out.end());
      }
      for (std::size_t i = first_row; i < rows.size(); ++i) {
        CompareRow& row = rows[i];
        const attn::KernelInfo* k = attn::find_kernel(row.kernel);
        ++step;
        if (std::find(to_run.begin(), to_run.end(), k) == to_run.end()) continue;
        const std::string what =
            "[" + std::to_string(step) + "/" + std::to_string(total) + "] " + label + " " + row.kernel;
        if (progress) *progress << "compare: " << what << "\n";
        opts.kernel = row.kernel;
        std::vector<double> times;
        const bool short_call = shape.flops() < kMayTakeSeconds;
        if (k->name == "reference" && dtype == attn::DType::f32 && !short_call) {
          // A long oracle: its own run counts, then more while --reps and --max-seconds allow. (A
          // short one is timed like any kernel, below: its run and the next few can be cold, as
          // lab-3's 8.00 ms against 2 µs warm in the first process after a build.)
          times = ref_times;
          if (o.reps > 1 && times.front() < o.max_seconds)
            for (double s : time_kernel(views.kernel_views(), opts, o.reps - 1, o.max_seconds - times.front(), false))
              times.push_back(s);
        } else {
          const bool each_run = announce(what, *k, dtype, shape, false);
          // Untimed calls first, for kWarmUpSeconds, where a call is short (caches, pages, the helper
          // threads awake: on a VM an idle virtual CPU takes milliseconds to wake, so one call was
          // not enough: 5 of 20 runs of 128x128x64 on 2 threads timed at the 1-thread speed). The
          // median then describes a warm call, as a benchmark's does.
          if (short_call) time_kernel(views.kernel_views(), opts, kWarmUpCalls, kWarmUpSeconds, false);
          times = time_kernel(views.kernel_views(), opts, o.reps, o.max_seconds, each_run, progress);
        }
        row.reps = static_cast<int>(times.size());
        row.median_s = median(times);
        rates.measured(*k, dtype, shape, row.median_s);
        row.gflops = shape.flops() / row.median_s * 1e-9;
        row.workspace = k->workspace_bytes(problem);
        if (k->name == "reference" && dtype == attn::DType::f32)
          row.error_note = "(oracle)";
        else if (ref)
          row.error = compare_to(views.result(), *ref);
        else
          row.error_note =
              shape.flops() > o.reference_limit ? "no reference (too slow)" : "no reference (over the memory budget)";
      }
      // The accuracy rule's yardstick: each kernel's error over blas's on the same inputs.
      const auto blas = std::find_if(rows.begin() + static_cast<std::ptrdiff_t>(first_row), rows.end(),
                                     [](const CompareRow& r) { return r.kernel == "blas" && r.error; });
      if (blas != rows.end() && blas->error->max_abs > 0)
        for (std::size_t i = first_row; i < rows.size(); ++i)
          if (rows[i].error) rows[i].vs_blas = rows[i].error->max_abs / blas->error->max_abs;
    }
  }
  return result;
}

std::string compare_json(const CompareOptions& o, const CompareResult& result) {
  Json j;
  j.begin_object().field("attnlab_version", attn::version()).field("seed", static_cast<long long>(o.seed));
  j.field("threads", result.threads).field("cpu", attn::cpu_info().model).field("isa", attn::cpu_info().isa);
  // The pages Q, K, V and O lie on (workload/pages.hpp): in a VM, streaming from 4 KiB pages had
  // stretches at a thirtieth of the speed.
  j.field("openblas_core", attn::blas_backend().core).field("page_policy", attnlab::page_policy());
  j.key("rows").begin_array();
  for (const CompareRow& r : result.rows) {
    j.begin_object().field("kernel", r.kernel).field("shape", r.shape).field("dtype", r.dtype);
    if (!r.refused.empty() || !r.skipped.empty()) {
      j.field(r.refused.empty() ? "skipped" : "refused", r.refused.empty() ? r.skipped : r.refused).end_object();
      continue;
    }
    if (r.error)
      j.field("max_abs_error", r.error->max_abs).field("max_rel_error", r.error->max_rel);
    else
      j.field("error_note", r.error_note);
    if (r.vs_blas) j.field("error_vs_blas", *r.vs_blas);
    j.field("median_seconds", r.median_s).field("gflops", r.gflops).field("reps", r.reps);
    j.field("workspace_bytes", static_cast<long long>(r.workspace)).end_object();
  }
  j.end_array().end_object();
  return j.str() + "\n";
}

}  // namespace attnlab
