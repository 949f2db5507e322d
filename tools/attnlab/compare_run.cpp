// attnlab compare's measurement loop and its JSON document (compare_run.hpp).
#include "compare_run.hpp"

#include "json.hpp"
#include "shapes.hpp"
#include "table.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <omp.h>

#include <chrono>
#include <stdexcept>

namespace attnlab {

namespace {

std::vector<const attn::KernelInfo*> chosen_kernels(const std::string& list) {
  std::vector<const attn::KernelInfo*> out;
  if (list.empty()) {
    for (const auto& k : attn::kernels()) out.push_back(&k);
    return out;
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::string name = list.substr(start, comma - start);
    if (!name.empty()) {
      const attn::KernelInfo* k = attn::find_kernel(name);
      if (!k)
        throw std::invalid_argument("--kernels: unknown kernel '" + name + "' (registered: " + attn::kernel_names() +
                                    ")");
      out.push_back(k);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) throw std::invalid_argument("--kernels: the list is empty");
  return out;
}

/// Runs `kernel` up to `reps` times (at least once, stopping after `max_s`), returns the times.
std::vector<double> time_kernel(Inputs& in, const attn::Options& opts, int reps, double max_s) {
  std::vector<double> times;
  double total = 0;
  for (int r = 0; r < reps && (r == 0 || total < max_s); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    attn::attention(in.qv(), in.kv(), in.vv(), in.outv(), opts);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times.push_back(s);
    total += s;
  }
  return times;
}

}  // namespace

CompareResult run_compare(const CompareOptions& o, std::ostream* progress) {
  const std::vector<Shape> shapes = parse_shapes(o.shapes);
  const auto kernels = chosen_kernels(o.kernels);
  if (o.threads < 0) throw std::invalid_argument("--threads: must be >= 0, got " + std::to_string(o.threads));
  if (o.reps < 1) throw std::invalid_argument("--reps: must be >= 1, got " + std::to_string(o.reps));
  CompareResult result;
  const int threads = result.threads = o.threads ? o.threads : omp_get_max_threads();

  std::vector<CompareRow>& rows = result.rows;
  const std::size_t total = shapes.size() * kernels.size();
  std::size_t step = 0;
  for (const Shape& shape : shapes) {
    Inputs in = make_inputs(shape, o.seed);
    attn::Options opts;
    opts.causal = shape.causal;
    opts.threads = threads;

    // The oracle, once per shape (and its own row when asked for).
    std::optional<std::vector<float>> ref;
    std::vector<double> ref_times;
    const bool ref_ok = shape.flops() <= o.reference_limit;
    if (ref_ok) {
      if (progress) *progress << "compare: " << shape.name << ": reference (oracle)\n";
      opts.kernel = "reference";
      ref_times = time_kernel(in, opts, 1, 0);
      ref = in.out;
    }
    for (const attn::KernelInfo* k : kernels) {
      if (progress) *progress << "compare: [" << ++step << "/" << total << "] " << shape.name << " " << k->name << "\n";
      CompareRow row;
      row.kernel = std::string(k->name);
      row.shape = shape.name;
      opts.kernel = std::string(k->name);
      const attn::Problem problem = shape.problem(threads);
      if (k->name == "reference" && !ref_ok) {
        row.refused = "skipped: " + sci(shape.flops()) + " FLOP is over --reference-limit";
        rows.push_back(row);
        continue;
      }
      if (std::string why = attn::unsupported_reason(*k, problem, attn::default_memory_budget()); !why.empty()) {
        row.refused = why;
        rows.push_back(row);
        continue;
      }
      std::vector<double> times = k->name == "reference" ? ref_times : time_kernel(in, opts, o.reps, o.max_seconds);
      row.reps = static_cast<int>(times.size());
      row.median_s = median(times);
      row.gflops = shape.flops() / row.median_s * 1e-9;
      row.workspace = k->workspace_bytes(problem);
      if (k->name == "reference")
        row.error_note = "(oracle)";
      else if (ref)
        row.error = compare_to(in.out, *ref);
      else
        row.error_note = "no reference (too slow)";
      rows.push_back(row);
    }
  }
  return result;
}

std::string compare_json(const CompareOptions& o, const CompareResult& result) {
  Json j;
  j.begin_object().field("attnlab_version", attn::version()).field("seed", static_cast<long long>(o.seed));
  j.field("threads", result.threads).field("openblas_core", attn::blas_backend().core).key("rows").begin_array();
  for (const CompareRow& r : result.rows) {
    j.begin_object().field("kernel", r.kernel).field("shape", r.shape);
    if (!r.refused.empty()) {
      j.field("refused", r.refused).end_object();
      continue;
    }
    if (r.error)
      j.field("max_abs_error", r.error->max_abs).field("max_rel_error", r.error->max_rel);
    else
      j.field("error_note", r.error_note);
    j.field("median_seconds", r.median_s).field("gflops", r.gflops).field("reps", r.reps);
    j.field("workspace_bytes", static_cast<long long>(r.workspace)).end_object();
  }
  j.end_array().end_object();
  return j.str() + "\n";
}

}  // namespace attnlab
