// Which keys a query row sees: shared by every kernel so that the causal
// alignments and the "mask selects" rule are defined in one place.
#pragma once

#include <attn/kernels.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace attn::detail {

/// Keys 0..visible_keys()-1 pass the causal mask for query row i (a prefix that never
/// shrinks as i grows). The offsets place the call in a longer sequence: key j is visible
/// to row i iff kv_offset + j <= q_offset + i (+ Nk - Nq for bottom-right); Causal::none
/// sees all Nk keys and ignores the offsets. Every kernel and Problem::flops count the
/// visible keys here. attention() has checked that q_offset - kv_offset + (Nk - Nq) fits
/// in int64 (validate_causal_offsets), so nothing below overflows.
inline std::int64_t visible_keys(Causal c, std::int64_t q_offset, std::int64_t kv_offset, std::int64_t i,
                                 std::int64_t nq, std::int64_t nk) {
  if (c == Causal::none) return nk;
  const std::int64_t shift = q_offset - kv_offset + (c == Causal::bottom_right ? nk - nq : 0);
  if (shift >= nk) return nk;  // every row sees every key (and i + shift + 1 could overflow)
  return std::clamp<std::int64_t>(i + shift + 1, 0, nk);
}
inline std::int64_t visible_keys(const KernelArgs& a, std::int64_t i) {
  return visible_keys(a.causal, a.q_offset, a.kv_offset, i, a.q.shape[2], a.k.shape[2]);
}
inline std::int64_t visible_keys(const Problem& p, std::int64_t i) {
  return visible_keys(p.causal, p.q_offset, p.kv_offset, i, p.q_len, p.kv_len);
}

/// Row i of an fp32 additive mask, or nullptr when there is none (the kernels that take only
/// fp32, or a mask widened to fp32: widening.hpp).
inline const float* mask_row(const Mask& m, std::int64_t i) {
  return m.data == nullptr ? nullptr : m.data.as<float>() + i * m.row_stride;
}

/// A -inf mask entry removes the key outright: whatever K and V hold there
/// (inf, NaN) must not reach the output, so it is a selection, not an addition.
inline bool masked_out(const float* mask_row, std::int64_t j) {
  return mask_row != nullptr && mask_row[j] == -INFINITY;
}

/// A row that sees no key at all (every key masked, or none given): O = 0 and LSE = -inf,
/// the limit of attention over a shrinking set of keys. `lse` may be nullptr (not wanted).
inline void write_no_keys_row(float* out, std::int64_t dv, float* lse) {
  std::fill_n(out, dv, 0.0f);
  if (lse != nullptr) *lse = -std::numeric_limits<float>::infinity();
}

/// A row poisoned by a NaN logit (or a NaN partial): O and LSE are NaN.
inline void write_nan_row(float* out, std::int64_t dv, float* lse) {
  std::fill_n(out, dv, std::numeric_limits<float>::quiet_NaN());
  if (lse != nullptr) *lse = std::numeric_limits<float>::quiet_NaN();
}

/// LSE row i of head (b, h), or nullptr when the call does not want the LSE.
inline float* lse_row(const KernelArgs& a, std::int64_t b, std::int64_t h, std::int64_t i) {
  return a.lse.data == nullptr ? nullptr : a.lse.row(b, h, i);
}

/// K/V head that query head h reads under grouped-query attention.
inline std::int64_t kv_head(const KernelArgs& a, std::int64_t h) {
  return h / (a.q.shape[1] / a.k.shape[1]);
}

}  // namespace attn::detail
