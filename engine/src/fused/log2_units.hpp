// The fused kernel's units. Q is packed pre-multiplied by scale·log2(e), so every score,
// running max m and exponent is in log2 units and the softmax uses exp2:
//   p_j = 2^(s_j − m),  l = Σ p_j,  O = Σ p_j V_j / l,  LSE = (m + log2 l)·ln 2.
#pragma once

#include "simd/exp_poly.hpp"

#include <cmath>
#include <limits>

namespace attn::fused {

constexpr float kLog2e = 1.44269504088896340736f;
constexpr float kLn2 = 0.693147180559945309417f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// A row's LSE in natural log from its max m and sum l in log2 units.
inline float lse_from_log2(float m, float l) {
  return (m + std::log2(l)) * kLn2;
}

/// Partials in these units (m in log2 units, O unnormalised, l = Σ p) for the row merge.
struct Log2Units {
  static float weight(float m, float max) { return simd::exp2_rr1_p6(m - max); }
  static float lse(float max, float sum) { return lse_from_log2(max, sum); }
};

}  // namespace attn::fused
