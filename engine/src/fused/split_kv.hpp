// The split-KV (decode) path's partial results: a short query against a long sequence is
// split into KV chunks computed as separate work items; each saves (O, m, l) per row, and
// the rows are then merged in chunk order by the engine's one row merge (row_merge.hpp).
#pragma once

#include "fused/plan.hpp"

#include <attn/kernels.hpp>

namespace attn::fused {

/// Partial results of one KV chunk: per row O (dv floats), then m, then l.
float* partial_rows(const Plan& p, float* partials, i64 bh, i64 qb, i64 split);

/// Saves the block loop's rows (w.o, w.m, w.l) as the chunk's partials at dst.
void save_partial(const Plan& p, i64 rows, const Scratch& w, bool any, float* dst);

/// Merges the chunks of row r of query block qb of head bh into the output, in chunk order.
/// acc: dv floats of scratch (used when O is 16-bit: the row is merged in fp32 there, then narrowed).
void merge_split_row(const KernelArgs& a, const Plan& p, float* partials, i64 bh, i64 qb, i64 r, float* acc);

}  // namespace attn::fused
