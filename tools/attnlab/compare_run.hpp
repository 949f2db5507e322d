// The body of `attnlab compare`, as a library: every chosen kernel on the same
// seeded inputs, errors against the fp64 reference, median times, and the
// `--json` document. The CLI and the Python module's attnlab.compare() both
// call this, so the two report the same numbers.
#pragma once

#include "workload/metrics.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace attnlab {

struct CompareOptions {
  std::string shapes = "lab-3,lab-4,bert-128,llm-1024,llm-4096";
  std::string kernels;         // empty: every registered kernel
  std::string dtypes = "f32";  // comma-separated: q, k, v and out in each (inputs rounded to nearest even)
  int threads = 0;
  std::uint64_t seed = 1;
  int reps = 5;
  double max_seconds = 2.0;
  double reference_limit = 2e10;
  std::size_t memory_budget = 0;  // 0: half of physical memory, as the engine
};

struct CompareRow {
  std::string kernel, shape, dtype = "f32";
  std::string refused;  // non-empty: why the kernel could not run (over the memory budget, unsupported)
  std::string skipped;  // non-empty: not run, as the options asked (--reference-limit)
  std::optional<ErrorStats> error;
  std::string error_note;         // why there is no error figure
  std::optional<double> vs_blas;  // max abs error / blas's on the same shape, dtype and inputs
  double median_s = 0, gflops = 0;
  int reps = 0;
  std::size_t workspace = 0;
};

struct CompareResult {
  int threads = 0;  // resolved (never 0)
  std::vector<CompareRow> rows;
};

/// Runs the comparison; one progress line per kernel, shape and dtype on `progress` when given, with
/// an estimate for work expected to take more than a few seconds. Every (kernel, shape) is
/// sized first (inputs, outputs, the oracle's copy, workspace): one over the memory budget is
/// a row with `refused` set, and a shape no kernel can take is never allocated. For a 16-bit
/// dtype the seeded inputs are rounded to it (nearest even), every kernel writes O in it, and
/// the oracle is the reference kernel on the same rounded inputs (its O in fp32); a kernel that
/// does not take the dtype is a `skipped` row.
/// Throws std::invalid_argument naming the option ("--shapes", "--kernels", ...) on bad input.
CompareResult run_compare(const CompareOptions& o, std::ostream* progress);

/// The `compare --json` document of a result.
std::string compare_json(const CompareOptions& o, const CompareResult& result);

}  // namespace attnlab
