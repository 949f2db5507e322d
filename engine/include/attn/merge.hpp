// Merging partial attention results: the same queries attended over disjoint sets of
// keys (chunks of a long sequence, the ranks of a ring, a paged KV cache) combine into
// attention over all of them, exactly as one call would compute it up to rounding.
#pragma once

#include <attn/attention.hpp>

#include <span>

namespace attn {

/// out, lse = the merge of partials (outs[i], lses[i]), i = 0, 1, ... in index order.
///
/// Each outs[i] [B, H, N, dv] is attention of the same queries over its own disjoint set of
/// keys, normalised as attention() writes it; lses[i] [B, H, N, 1] is its log-sum-exp in
/// natural log (lse_view gives that shape). Per row, with M = max_i lse_i:
///   out = Σ_i e^(lse_i − M) outs[i] / Σ_i e^(lse_i − M),   lse = M + log Σ_i e^(lse_i − M)
/// - The order of every sum is the index order: the result is bitwise deterministic.
/// - A partial with lse = -inf (it saw no key) contributes nothing; when every partial's is,
///   out = 0 and lse = -inf (as attention() over no visible key). No partials at all: the same.
/// - A NaN in a partial's lse makes the row NaN (as a NaN logit does in attention()).
/// - out may be outs[0] and lse may be lses[0] (the same view: data and strides), which
///   accumulates in place (a ring driver merges each new block into its running result
///   with a two-element span); any other overlap between the views is refused.
/// Throws attn::Error naming the argument (outs[i], lses[i], out, lse) when a shape
/// differs, a view is invalid (as attention() checks views) or views overlap.
void merge_partials(std::span<const ConstTensor> outs, std::span<const ConstTensor> lses, Tensor out, Tensor lse);

}  // namespace attn
