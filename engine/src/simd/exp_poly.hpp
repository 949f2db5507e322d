// The engine's exp family: each function written once, as a scalar specification and as a
// template over an ISA's vector traits (simd/avx2.hpp, simd/avx512.hpp) that performs the
// same operations in the same order. Names say the algorithm, XNNPACK style: rrN = range
// reduction with N constants, pD = polynomial of degree D.
//
//   exp2_rr1_p6  2^x for x <= 0, the fused kernel's softmax (scores in log2 units).
//                [-126, 0]: faithfully rounded with FMA Horner (≤ 1 ulp; the scalar form
//                with separate multiply and add ≤ 1.25 ulp), proven over every float of the
//                domain (tests/test_fused.cpp); x < -126 and -inf → +0; NaN → NaN.
//   exp_rr2_p7   e^x for x <= 0, the softmax rows (attn::softmax::stable_inplace).
//                [-87.33654, 0]: ≤ 2 ulp (≤ 0.9 on an 8.7e6-float sweep, tests/test_softmax.cpp),
//                exp(0) = 1 exactly; below it → +0; NaN → NaN; also valid for 0 < x ≤ 88.
//
// Internal linkage, and no std:: function templates inside: this header is compiled into
// translation units with different ISA flags. An external inline function is emitted by each
// of them where it is not inlined (-O0), and the linker may keep an AVX-512 copy for every
// caller (ctest engine.isa_units_define_no_weak_functions).
#pragma once

#include <cstdint>

namespace attn::simd {

// --- exp2_rr1_p6 ------------------------------------------------------------
// n = round(x) (to nearest even, exact via the 1.5·2^23 trick), f = x − n ∈ [−½, ½] (exact),
// 2^x = 2^n · p(f),  p(f) = 1 + f·(c1 + f·(c2 + … + f·c6)).
// The coefficients minimise the relative error of p on [−½, ½]: 1.98e-9 (0.033 ulp) before
// fp32 rounding, so the Horner roundings dominate. 2^n is built in the exponent field, so n
// must stay in [−126, 0]: x below −126 is flushed to +0 (2^x would be subnormal).
namespace rr1_p6 {
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
}  // namespace rr1_p6

// --- exp_rr2_p7 -------------------------------------------------------------
// e^x = 2^k · p(r):
//  - k = round(x·log2 e) by the magic-number trick: z = x·log2e + (1.5·2^23 + 127) rounds to
//    an integer in the low mantissa bits of z, so k = z − kMagic and bits(z) << 23 is the
//    float 2^k (the bias 127 is folded into kMagic);
//  - r = x − k·ln 2 in [−ln2/2, ln2/2] (Cody–Waite, two constants: ln2 = kLn2Hi + kLn2Lo,
//    kLn2Hi has 15 significant bits so k·kLn2Hi is exact for |k| ≤ 2^9);
//  - p = the degree-7 Taylor polynomial of e^r, Horner with FMAs: truncation
//    |r|^8/8!·e^{2|r|} ≤ 1.1e-8 = 0.18u relative, and p(0) = 1 exactly, so the softmax's
//    largest term exp(0) is exactly 1;
//  - x below kFlush = exp_normal_threshold<float>() (−87.33654) gives 0: the exact value is
//    below 2^-126, so the absolute error is below the smallest normal. This also keeps 2^k a
//    valid normal number (k ≥ −126).
namespace rr2_p7 {
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kMagic = 12582912.0f + 127.0f;     // 1.5·2^23 + bias
inline constexpr float kLn2Hi = 0.693145751953125f;       // 0x3F317200
inline constexpr float kLn2Lo = 1.4286068202862268e-06f;  // ln 2 − kLn2Hi
inline constexpr float kFlush = -0x1.5d589ep+6f;          // −87.3365402: exp_normal_threshold<float>()
inline constexpr float kC[8] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
}  // namespace rr2_p7

namespace {

/// exp2_rr1_p6, the specification (Ukernels::exp2's contract). Branch-free (selects only), so
/// a loop over it vectorises; both selects keep NaN (comparisons are false).
inline float exp2_rr1_p6(float x) {
  using namespace rr1_p6;
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

/// exp2_rr1_p6 on a vector, with FMA Horner. 2^n: built in the exponent field from t (x
/// clamped to kFloor first), or, where V::kScalef, applied by vscalefps (one instruction for
/// three, any n, so no clamp; x = -inf gives NaN there, which the flush replaces). The two
/// agree bit for bit on [-126, 0]. NaN passes: max(floor, x) returns x, the ordered compare is false.
template <class V>
inline typename V::reg exp2_rr1_p6(typename V::reg x) {
  using namespace rr1_p6;
  typename V::reg xc = x;
  if constexpr (!V::kScalef) xc = V::max(V::set1(kFloor), x);
  const auto magic = V::set1(kRoundMagic);
  const auto t = V::add(xc, magic);
  const auto n = V::sub(t, magic);
  const auto f = V::sub(xc, n);  // exact, in [-0.5, 0.5]
  auto p = V::set1(kC6);
  p = V::fma(p, f, V::set1(kC5));
  p = V::fma(p, f, V::set1(kC4));
  p = V::fma(p, f, V::set1(kC3));
  p = V::fma(p, f, V::set1(kC2));
  p = V::fma(p, f, V::set1(kC1));
  p = V::fma(p, f, V::set1(1.0f));
  typename V::reg r;
  if constexpr (V::kScalef)
    r = V::scalef(p, n);  // exact: for x >= -126 the result is normal
  else
    r = V::mul(p, V::pow2_from_bits(V::add_i32(t, 127)));  // low bits of t: n + 127 in [0, 127]
  return V::zero_where_less(x, kUnderflow, r);
}

/// exp_rr2_p7, the specification (same operations, same order as the vector form).
inline float exp_rr2_p7(float x) noexcept {
  using namespace rr2_p7;
  const float z = __builtin_fmaf(x, kLog2e, kMagic);
  const float k = z - kMagic;
  float r = __builtin_fmaf(-k, kLn2Hi, x);
  r = __builtin_fmaf(-k, kLn2Lo, r);
  float p = kC[7];
  for (int i = 6; i >= 0; --i) p = __builtin_fmaf(p, r, kC[i]);
  const float scale = __builtin_bit_cast(float, __builtin_bit_cast(std::uint32_t, z) << 23);  // 2^k
  return x < kFlush ? 0.0f : p * scale;
}

template <class V>
inline typename V::reg exp_rr2_p7(typename V::reg x) noexcept {
  using namespace rr2_p7;
  const auto z = V::fma(x, V::set1(kLog2e), V::set1(kMagic));
  const auto k = V::sub(z, V::set1(kMagic));
  auto r = V::fnma(k, V::set1(kLn2Hi), x);
  r = V::fnma(k, V::set1(kLn2Lo), r);
  auto p = V::set1(kC[7]);
  p = V::fma(p, r, V::set1(kC[6]));
  p = V::fma(p, r, V::set1(kC[5]));
  p = V::fma(p, r, V::set1(kC[4]));
  p = V::fma(p, r, V::set1(kC[3]));
  p = V::fma(p, r, V::set1(kC[2]));
  p = V::fma(p, r, V::set1(kC[1]));
  p = V::fma(p, r, V::set1(kC[0]));
  return V::zero_where_less(x, kFlush, V::mul(p, V::pow2_from_bits(z)));
}

}  // namespace

}  // namespace attn::simd
