// attnlab compare: every kernel on the same seeded inputs, one table of
// errors against the fp64 reference, median times and GFLOP/s.
#include "commands.hpp"
#include "files.hpp"
#include "json.hpp"
#include "metrics.hpp"
#include "shapes.hpp"
#include "table.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <omp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnlab {

namespace {

struct CompareOptions {
  std::string shapes = "lab-3,lab-4,bert-128,llm-1024,llm-4096";
  std::string kernels;  // empty: every registered kernel
  int threads = 0;
  std::uint64_t seed = 1;
  int reps = 5;
  double max_seconds = 2.0;
  double reference_limit = 2e10;
  std::string json;
};

struct Row {
  std::string kernel, shape;
  std::string refused;  // non-empty: why the kernel did not run
  std::optional<ErrorStats> error;
  std::string error_note;  // why there is no error figure
  double median_s = 0, gflops = 0;
  int reps = 0;
  std::size_t workspace = 0;
};

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

void write_json(const std::string& path, const CompareOptions& o, int threads, const std::vector<Row>& rows) {
  Json j;
  j.begin_object().field("attnlab_version", attn::version()).field("seed", static_cast<long long>(o.seed));
  j.field("threads", threads).field("openblas_core", attn::blas_backend().core).key("rows").begin_array();
  for (const Row& r : rows) {
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
  write_file_atomic(path, j.str() + "\n");
}

void run_compare(const CompareOptions& o) {
  const std::vector<Shape> shapes = parse_shapes(o.shapes);
  const auto kernels = chosen_kernels(o.kernels);
  if (o.threads < 0) throw std::invalid_argument("--threads: must be >= 0, got " + std::to_string(o.threads));
  if (o.reps < 1) throw std::invalid_argument("--reps: must be >= 1, got " + std::to_string(o.reps));
  const int threads = o.threads ? o.threads : omp_get_max_threads();

  std::vector<Row> rows;
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
      std::cerr << "compare: " << shape.name << ": reference (oracle)\n";
      opts.kernel = "reference";
      ref_times = time_kernel(in, opts, 1, 0);
      ref = in.out;
    }
    for (const attn::KernelInfo* k : kernels) {
      std::cerr << "compare: [" << ++step << "/" << total << "] " << shape.name << " " << k->name << "\n";
      Row row;
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

  Table t({"kernel", "shape", "max abs err", "max rel err", "median", "GFLOP/s", "reps", "workspace"});
  for (const Row& r : rows) {
    if (!r.refused.empty()) {
      t.add_row({r.kernel, r.shape, "refused: " + r.refused});
      continue;
    }
    t.add_row({r.kernel, r.shape, r.error ? sci(r.error->max_abs) : r.error_note, r.error ? sci(r.error->max_rel) : "",
               duration(r.median_s), fixed(r.gflops, 2), std::to_string(r.reps),
               bytes(static_cast<double>(r.workspace))});
  }
  const attn::BlasBackend blas = attn::blas_backend();
  if (blas.generic_core) std::cout << "note: blas: " << blas.advice << "\n";
  std::cout << "attnlab compare: seed " << o.seed << ", " << threads << " thread(s); errors against the fp64 reference"
            << " (rel = max abs / max |reference|); blas = OpenBLAS, " << blas.core << " kernels\n\n";
  t.print(std::cout);
  if (!o.json.empty()) {
    write_json(o.json, o, threads, rows);
    std::cerr << "compare: wrote " << o.json << "\n";
  }
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto opts = std::make_shared<CompareOptions>();
  CLI::App* cmd =
      app.add_subcommand("compare", "Run every kernel on the same seeded inputs and compare errors and speed");
  cmd->add_option("--shapes", opts->shapes,
                  "Comma-separated shapes: lab-3, lab-4, bert-128|512, llm-1024..8192, long-16384..131072, "
                  "decode-4096|32768|131072, with -causal or -dNN suffixes, or Nq x Nk x d [x H]")
      ->capture_default_str();
  cmd->add_option("--kernels", opts->kernels, "Comma-separated kernel names (default: all registered)");
  cmd->add_option("--threads", opts->threads, "Threads (0 = OpenMP default)")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the random inputs")->capture_default_str();
  cmd->add_option("--reps", opts->reps, "Timed runs per kernel and shape (median reported)")->capture_default_str();
  cmd->add_option("--max-seconds", opts->max_seconds, "Stop repeating a kernel after this many seconds")
      ->capture_default_str();
  cmd->add_option("--reference-limit", opts->reference_limit, "Skip the fp64 reference above this many FLOP")
      ->capture_default_str();
  cmd->add_option("--json", opts->json, "Also write the results as JSON to this file");
  cmd->callback([opts] { run_compare(*opts); });
}

}  // namespace attnlab
