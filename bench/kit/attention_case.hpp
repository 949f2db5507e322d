// One attention benchmark: a registered kernel on a shape at a thread count,
// with everything the protocol asks for (docs/design.md §5) as counters:
//   GFLOP/s (rate), %peak (share of the FMA peak measured at the same thread
//   count), bytes_moved (Q, K, V, O once) and GB/s, workspace_bytes (registry),
//   call_peak_bytes (measured RSS growth of one call, see memory_probe.hpp),
//   max_rel_err / max_abs_err against the fp64 reference (outside the timed
//   region; on the last rows of every head when the full reference is too slow,
//   which the label says), and the shape itself (Nq, Nk, d, heads, threads) so
//   reports need not parse names. A case may run in f16 or bf16: Q, K, V and O in that dtype
//   (the inputs rounded to it, which the oracle then reads too), bytes counted at its size
//   (dtype_bytes: 4 or 2), the dtype in the name and the label.
// A kernel that refuses the shape is skipped with "refused: <its reason>"; the
// memory budget is the library's default unless ATTN_BENCH_MEMORY_BUDGET (bytes) says otherwise.
#pragma once

#include "workload/shapes.hpp"

#include <benchmark/benchmark.h>
#include <attn/kernels.hpp>

#include <string>

namespace attnbench {

struct AttentionCase {
  const attn::KernelInfo* kernel = nullptr;
  attnlab::Shape shape;
  int threads = 1;
  attn::DType dtype = attn::DType::f32;  ///< of Q, K, V and O
};

void run_attention_case(benchmark::State& state, const AttentionCase& c);

/// Whether the scalar kernels (reference, textbook) are worth timing on `shape` under the profile.
bool worth_timing(const attn::KernelInfo& kernel, const attnlab::Shape& shape);

/// Registers `family/<kernel>/<shape>/threads:<t>` (fp32), or `family/<kernel>/<shape>/<dtype>/threads:<t>`
/// (f16, bf16), with the protocol's timing settings.
benchmark::internal::Benchmark* register_case(const std::string& family, const AttentionCase& c);

}  // namespace attnbench
