// attnlab compare: every kernel on the same seeded inputs, one table of
// errors against the fp64 reference, median times and GFLOP/s.
#include "commands.hpp"
#include "compare_run.hpp"
#include "files.hpp"
#include "table.hpp"

#include <attn/kernels.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace attnlab {

namespace {

/// The command's options: the comparison's, and where to write its JSON.
struct CompareCommandOptions : CompareOptions {
  std::string json;
};

void print_compare(const CompareCommandOptions& o) {
  if (!o.json.empty()) check_output_file("--json", o.json, "compare.json");  // before any work
  const CompareResult result = run_compare(o, &std::cerr);
  const int threads = result.threads;
  const std::vector<CompareRow>& rows = result.rows;

  // --dtypes beyond f32 adds a dtype column and each error over blas's (the accuracy rule: <= 2x).
  const bool by_dtype = std::any_of(rows.begin(), rows.end(), [](const CompareRow& r) { return r.dtype != "f32"; });
  std::vector<std::string> header{"kernel", "shape"};
  if (by_dtype) header.push_back("dtype");
  for (const char* h : {"max abs err", "max rel err"}) header.push_back(h);
  if (by_dtype) header.push_back("err / blas");
  for (const char* h : {"median", "GFLOP/s", "reps", "workspace"}) header.push_back(h);
  Table t(header);
  for (const CompareRow& r : rows) {
    std::vector<std::string> cells{r.kernel, r.shape};
    if (by_dtype) cells.push_back(r.dtype);
    if (!r.refused.empty() || !r.skipped.empty()) {  // the reason is printed after the table (refusals)
      cells.push_back(r.refused.empty() ? r.skipped : "refused");
      t.add_row(cells);
      continue;
    }
    cells.push_back(r.error ? sci(r.error->max_abs) : r.error_note);
    cells.push_back(r.error ? sci(r.error->max_rel) : "");
    if (by_dtype) cells.push_back(r.vs_blas ? fixed(*r.vs_blas, 2) + "x" : "");
    for (std::string c :
         {duration(r.median_s), fixed(r.gflops, 2), std::to_string(r.reps), bytes(static_cast<double>(r.workspace))})
      cells.push_back(std::move(c));
    t.add_row(cells);
  }
  const attn::BlasBackend blas = attn::blas_backend();
  if (blas.generic_core) std::cout << "note: blas: " << blas.advice << "\n";
  const attn::CpuInfo& cpu = attn::cpu_info();
  std::cout << "attnlab compare: " << cpu.model << ", " << cpu.isa << " kernels"
            << (cpu.isa_forced ? " (ATTN_ISA)" : "") << "; seed " << o.seed << ", " << threads
            << " thread(s); errors against the reference kernel"
            << (by_dtype ? " on the same inputs rounded to the dtype (q, k, v and O in it)" : "")
            << " (fp64 arithmetic, output rounded to float32;"
            << " rel = max abs / max |reference|); blas = OpenBLAS, " << blas.core << " kernels\n\n";
  t.print(std::cout);
  if (!o.json.empty()) {
    write_file_atomic(o.json, compare_json(o, result));
    std::cerr << "compare: wrote " << o.json << "\n";
  }
  std::string refused;
  std::size_t n = 0;
  for (const CompareRow& r : rows)
    if (!r.refused.empty()) refused += "\n  " + r.refused, ++n;
  if (n)  // exit status 2, the reasons outside the table
    throw std::invalid_argument(std::to_string(n) + " of " + std::to_string(rows.size()) +
                                " run(s) refused:" + refused);
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto opts = std::make_shared<CompareCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("compare", "Run every kernel on the same seeded inputs and compare errors and speed");
  cmd->add_option("--shapes", opts->shapes,
                  "Comma-separated shapes: lab-3, lab-4, bert-128|512, llm-1024..8192, long-16384..131072, "
                  "decode-4096|32768|131072, with -causal or -dNN suffixes, or Nq x Nk x d [x H]")
      ->capture_default_str();
  cmd->add_option("--kernels", opts->kernels, "Comma-separated kernel names (default: all registered)");
  cmd->add_option("--dtypes", opts->dtypes,
                  "Comma-separated dtypes of q, k, v and O: f32, f16, bf16 (the seeded inputs rounded to nearest "
                  "even; errors against the reference on the same rounded inputs, and over blas's)")
      ->capture_default_str();
  cmd->add_option("--threads", opts->threads, "Threads (0 = OpenMP default)")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the random inputs")->capture_default_str();
  cmd->add_option("--reps", opts->reps,
                  "Timed runs per kernel and shape (median reported), after 20 ms of untimed warm-up calls where a call "
                  "is short (under 3e8 FLOP)")
      ->capture_default_str();
  cmd->add_option("--max-seconds", opts->max_seconds, "Stop repeating a kernel after this many seconds")
      ->capture_default_str();
  cmd->add_option("--reference-limit", opts->reference_limit, "Skip the fp64 reference above this many FLOP")
      ->capture_default_str();
  cmd->add_option("--memory-budget", opts->memory_budget,
                  "Most bytes one kernel's run may use, inputs included (0 = half of physical memory)")
      ->capture_default_str();
  cmd->add_option("--json", opts->json, "Also write the results as JSON to this file");
  cmd->callback([opts] { print_compare(*opts); });
}

}  // namespace attnlab
