// The merge of partial attention results for one query row: the same queries over
// disjoint key sets, combined exactly as attention over their union. The one
// implementation behind the fused kernel's split-KV decode (log2 units, unnormalised
// O) and the public merge_partials (natural-log LSE, normalised O).
#pragma once

#include "masking.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace attn::detail {

/// One partial result of a row: O (dv floats), the max m of its logits (or its LSE) in the
/// merge's units, and l, the sum its O is relative to (Σ p for unnormalised O, 1 for normalised).
struct PartialRow {
  const float* o;
  float m, l;
};

/// Partials whose m is an LSE in natural log and whose O is normalised (l = 1).
struct NaturalLogUnits {
  static float weight(float m, float max) { return std::exp(m - max); }
  static float lse(float max, float sum) { return max + std::log(sum); }
};

/// Merges `parts` partials of one row in index order:
///   M = max_s m_s,  w_s = weight(m_s, M),  L = Σ_s w_s l_s,  O = Σ_s w_s O_s / L,  LSE = lse(M, L).
/// A partial with m_s = -inf saw no key and is skipped; when all are, O = 0 and LSE = -inf.
/// A NaN m_s or l_s (a NaN logit) makes the row NaN. The order of every sum is the index
/// order, so the result is bitwise the same however the caller is threaded.
/// `part(s)` returns partial s; `acc` is dv floats of scratch, which may be `out` itself when
/// no partial's O is `out`; `lse` may be nullptr. Units: NaturalLogUnits, or the caller's own.
template <class Units, class Part>
void merge_row(std::int64_t parts, const Part& part, std::int64_t dv, float* acc, float* out, float* lse) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float M = kNegInf;
  bool nan = false;
  for (std::int64_t s = 0; s < parts; ++s) {
    const PartialRow r = part(s);
    M = std::max(M, r.m);
    nan |= std::isnan(r.m) || std::isnan(r.l);
  }
  if (nan) return write_nan_row(out, dv, lse);
  if (M == kNegInf) return write_no_keys_row(out, dv, lse);
  float L = 0.0f;
  std::fill_n(acc, dv, 0.0f);
  for (std::int64_t s = 0; s < parts; ++s) {
    const PartialRow r = part(s);
    if (r.m == kNegInf) continue;
    const float w = Units::weight(r.m, M);  // NaN when M = +inf: so is the reference
    L += w * r.l;
    for (std::int64_t t = 0; t < dv; ++t) acc[t] += w * r.o[t];
  }
  for (std::int64_t t = 0; t < dv; ++t) out[t] = acc[t] / L;
  if (lse != nullptr) *lse = Units::lse(M, L);
}

}  // namespace attn::detail
