// Which keys a query row sees: shared by every kernel so that the causal
// alignments and the "mask selects" rule are defined in one place.
#pragma once

#include <attn/kernels.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace attn::detail {

/// Keys 0..visible_keys()-1 pass the causal mask for query row i.
/// top-left: j <= i; bottom-right: j <= i + Nk - Nq; none: all.
inline std::int64_t visible_keys(Causal c, std::int64_t i, std::int64_t nq, std::int64_t nk) {
  if (c == Causal::none) return nk;
  const std::int64_t offset = c == Causal::top_left ? 0 : nk - nq;
  return std::clamp<std::int64_t>(i + offset + 1, 0, nk);
}

/// Row i of the additive mask, or nullptr when there is none.
inline const float* mask_row(const Mask& m, std::int64_t i) {
  return m.data == nullptr ? nullptr : m.data + i * m.row_stride;
}

/// A -inf mask entry removes the key outright: whatever K and V hold there
/// (inf, NaN) must not reach the output, so it is a selection, not an addition.
inline bool masked_out(const float* mask_row, std::int64_t j) {
  return mask_row != nullptr && mask_row[j] == -INFINITY;
}

/// K/V head that query head h reads under grouped-query attention.
inline std::int64_t kv_head(const KernelArgs& a, std::int64_t h) {
  return h / (a.q.shape[1] / a.k.shape[1]);
}

}  // namespace attn::detail
