// The online-softmax step (Ukernels::softmax_step) from an ISA's two row primitives,
// so every ISA applies the same rules for the running max, the rescale factor and
// masked rows; only the vector loops differ.
#pragma once

#include "fused/ukernels.hpp"
#include "simd/exp_poly.hpp"

#include <limits>

namespace attn::fused {

/// RowMax(x, n): max of x[0..n) ignoring NaN (-inf when none); Exp2StoreSum(x, n, mu): x[j] =
/// exp2(x[j] − mu), returning the fp32 sum in a fixed order.
template <float (*RowMax)(const float*, i64), float (*Exp2StoreSum)(float*, i64, float)>
void online_softmax_step(float* s, i64 lds, i64 rows, i64 n, float* m, float* l, float* alpha) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // Rows in groups: first every row's max (and alpha), then every row's exps. Within a row the
  // exps wait for the max's horizontal reduction; across the group the rows' chains overlap,
  // and a group of rows (8 × Bc floats) is still in L1 for the second pass.
  constexpr i64 kGroup = 8;
  float mu[kGroup];
  for (i64 g0 = 0; g0 < rows; g0 += kGroup) {
    const i64 g1 = g0 + kGroup < rows ? g0 + kGroup : rows;
    for (i64 r = g0; r < g1; ++r) {
      const float row_max = RowMax(s + r * lds, n);
      const float mb = row_max > m[r] ? row_max : m[r];
      // m grew: O and l were summed against the old max. m[r] = -inf (nothing visible yet) gives 0.
      alpha[r] = mb > m[r] ? simd::exp2_rr1_p6(m[r] - mb) : 1.0f;
      // Every key so far masked (mb = -inf): exp2(-inf − 0) = 0, never exp2(-inf − (-inf)).
      mu[r - g0] = mb == kNegInf ? 0.0f : mb;
      m[r] = mb;
    }
    for (i64 r = g0; r < g1; ++r) l[r] = l[r] * alpha[r] + Exp2StoreSum(s + r * lds, n, mu[r - g0]);
  }
}

}  // namespace attn::fused
