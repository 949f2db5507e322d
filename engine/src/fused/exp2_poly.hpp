// exp2 for x <= 0 as the fused kernel computes it: the constants every ISA
// shares and the scalar form that specifies the SIMD ones.
//
// Range reduction with one constant, then a degree-6 polynomial ("rr1_p6"):
//   n = round(x) (to nearest even, exact via the 1.5·2^23 trick), f = x − n ∈ [−½, ½] (exact)
//   2^x = 2^n · p(f),  p(f) = 1 + f·(c1 + f·(c2 + … + f·c6))
// The coefficients minimise the relative error of p on [−½, ½]: 1.98e-9
// (0.033 ulp) before fp32 rounding, so the Horner roundings dominate. 2^n is
// built in the exponent field, so n must stay in [−126, 0]: x below −126 is
// flushed to +0 (2^x would be subnormal), which also covers x = −inf.
//
// Measured over every float in [−126, 0] against an fp64 reference
// (tests/test_fused.cpp): AVX2 (FMA Horner) at most 0.952 ulp, i.e. faithfully
// rounded; the scalar form (separate multiply and add) at most 1.227 ulp.
#pragma once

#include <cstdint>
#include <limits>

namespace attn::fused::exp2c {

inline constexpr float kC1 = 0x1.62e430p-1f;  // ≈ ln 2
inline constexpr float kC2 = 0x1.ebfbdcp-3f;  // ≈ ln²2 / 2
inline constexpr float kC3 = 0x1.c6aee8p-5f;  // ≈ ln³2 / 6
inline constexpr float kC4 = 0x1.3b2d4ep-7f;
inline constexpr float kC5 = 0x1.5f3e48p-10f;
inline constexpr float kC6 = 0x1.41fb8ep-13f;
/// Adding it to |x| <= 2^22 leaves round(x) in the low mantissa bits (ulp of the sum is 1).
inline constexpr float kRoundMagic = 0x1.8p23f;
/// Below this, 2^x is subnormal: the result is +0.
inline constexpr float kUnderflow = -126.0f;
/// x is raised to this before the reduction so n fits the exponent field; NaN is kept.
inline constexpr float kFloor = -127.0f;

// Internal linkage, and no std:: function templates inside: this header is compiled into
// translation units with different ISA flags (the AVX2 and AVX-512 microkernels call it for
// the rescale factor). An external inline function is emitted by each of them where it is
// not inlined (-O0), and the linker may keep the AVX-512 copy for every caller.
namespace {

/// The specification: exp2(x) for x <= 0, the contract of Ukernels::exp2. Branch-free
/// (selects only), so a loop over it vectorises; both selects keep NaN (comparisons are false).
inline float exp2_scalar(float x) {
  const float xc = x < kFloor ? kFloor : x;  // n >= -127 fits the exponent field
  const float t = xc + kRoundMagic;          // round(x) in the low mantissa bits
  const float n = t - kRoundMagic;           // exact
  const float f = xc - n;                    // exact, in [-0.5, 0.5]
  float p = kC6;
  p = p * f + kC5;
  p = p * f + kC4;
  p = p * f + kC3;
  p = p * f + kC2;
  p = p * f + kC1;
  p = p * f + 1.0f;
  // 2^n from its exponent field: the low 9 bits of bits(t) + 127 are n + 127 in [0, 127].
  const std::uint32_t e = (__builtin_bit_cast(std::uint32_t, t) + 127u) << 23;
  const float r = p * __builtin_bit_cast(float, e);
  return x < kUnderflow ? 0.0f : r;  // flush: includes -inf
}

}  // namespace

}  // namespace attn::fused::exp2c
