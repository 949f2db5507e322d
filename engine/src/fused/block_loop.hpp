// The block loop with the online softmax: one work item's query rows against a range of
// keys, block by block (packing, S = Q Kᵀ, masking, the softmax step, O = alpha·O + P V),
// and the final normalisation of its rows.
#pragma once

#include "fused/plan.hpp"

#include <attn/kernels.hpp>

namespace attn::fused {

/// The online softmax over keys [j0, j1) for query rows [i0, i0 + rows) of head (b, h): each
/// block of Bc keys is packed once (Kᵀ and V) and then used by every Bs-row slice of the rows;
/// every kBlocksPerGroup blocks the partial sums are merged into the totals.
/// Leaves in w: o (unnormalised Σ p V), m (running max, log2 units), l (Σ p).
/// Returns false when no KV block was visible to any row (o is then unset).
bool block_rows(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows, i64 j0, i64 j1,
                const Scratch& w);

/// Final rows: O / l and LSE = (m + log2 l)·ln 2; rows that saw no key get 0 and -inf.
void write_rows(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows,
                const Scratch& w, bool any);

}  // namespace attn::fused
