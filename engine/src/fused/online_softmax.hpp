// The online-softmax step (Ukernels::softmax_step) from an ISA's two row primitives,
// so every ISA applies the same rules for the running max, the rescale factor and
// masked rows; only the vector loops differ.
#pragma once

#include "exp2_poly.hpp"
#include "ukernels.hpp"

#include <limits>

namespace attn::fused {

/// RowMax(x, n): max of x[0..n) ignoring NaN (-inf when none); Exp2StoreSum(x, n, mu): x[j] =
/// exp2(x[j] − mu), returning the fp32 sum in a fixed order.
template <float (*RowMax)(const float*, i64), float (*Exp2StoreSum)(float*, i64, float)>
void online_softmax_step(float* s, i64 lds, i64 rows, i64 n, float* m, float* l, float* alpha) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (i64 r = 0; r < rows; ++r) {
    float* x = s + r * lds;
    const float row_max = RowMax(x, n);
    const float mb = row_max > m[r] ? row_max : m[r];
    // m grew: O and l were summed against the old max. m[r] = -inf (nothing visible yet) gives 0.
    alpha[r] = mb > m[r] ? exp2c::exp2_scalar(m[r] - mb) : 1.0f;
    // Every key so far masked (mb = -inf): exp2(-inf − 0) = 0, never exp2(-inf − (-inf)).
    l[r] = l[r] * alpha[r] + Exp2StoreSum(x, n, mb == kNegInf ? 0.0f : mb);
    m[r] = mb;
  }
}

}  // namespace attn::fused
