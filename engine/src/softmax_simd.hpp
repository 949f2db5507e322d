// The vectorised stable softmax behind attn::softmax::stable_inplace: a
// polynomial exp and the row kernels, a portable scalar specification and the
// AVX2+FMA versions (softmax_avx2.cpp, compiled with -mavx2 -mfma, called only
// after a run-time check). Private to the engine; tests and benchmarks reach it
// through the engine's source directory.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace attn::softmax::simd {

// exp_p7: exp(x) = 2^k · p(r), k = round(x·log2 e), r = x − k·ln 2 in [−ln2/2, ln2/2]
// (Cody–Waite: ln2 = kLn2Hi + kLn2Lo, kLn2Hi has 15 significant bits so k·kLn2Hi is
// exact for |k| ≤ 2^9), p = the degree-7 Taylor polynomial of e^r: truncation
// |r|^8/8!·e^{2|r|} ≤ 1.1e-8 = 0.18u relative. 2^k is applied as 2^(k>>1)·2^(k−(k>>1)),
// both factors normal, so that results below 2^-126 round once, correctly, to a
// subnormal (or 0 below −103.97) and results above FLT_MAX become +inf.
// Contract: for every float x ≤ 88.7 the result is within 2 ulp of exp(x) when it
// is ≥ 2^-126, and within 2^-149 (one subnormal step) below; exp(0) = 1 exactly;
// −inf → 0; NaN → NaN. Both versions compute bit-identical results (same FMAs).
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693145751953125f;          // 0x3F317200
inline constexpr float kLn2Lo = 1.4286068202862268e-06f;  // ln 2 − kLn2Hi
inline constexpr float kExpLo = -105.0f;                     // exp(−105) < 2^-150: rounds to 0
inline constexpr float kExpHi = 89.0f;                       // exp(89) > FLT_MAX: becomes inf
inline constexpr float kC[8] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};

inline float pow2i(std::int32_t k) noexcept {  // 2^k for k in [−126, 127]
  const std::uint32_t bits = static_cast<std::uint32_t>(k + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// The readable specification of the vector exp (same operations, same order).
inline float exp_p7(float x) noexcept {
  if (x != x) return x;
  x = x < kExpLo ? kExpLo : (x > kExpHi ? kExpHi : x);
  const float k = std::nearbyint(x * kLog2e);  // ties to even, as _mm256_round_ps
  float r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  float p = kC[7];
  for (int i = 6; i >= 0; --i) p = std::fma(p, r, kC[i]);
  const auto ki = static_cast<std::int32_t>(k);
  const std::int32_t k1 = ki >> 1;  // floor(k/2)
  return p * pow2i(k1) * pow2i(ki - k1);
}

/// Max and normaliser of a row, m and l = Σ exp(x_j − m), as the kernels found them.
struct RowStats {
  float m;
  float l;
};

/// Portable three-pass kernel: max; store exp_p7(x − m) and sum; scale by 1/l.
/// Rows with a NaN, a +inf or no finite-or-+inf entry are the caller's (stable_inplace).
RowStats stable_scalar(float* x, std::size_t n) noexcept;

/// True when the CPU reports AVX2 and FMA (cpuid, checked once).
bool have_avx2_fma() noexcept;

/// AVX2 three-pass kernel (as stable_scalar; 4 accumulators, masked-free tails via
/// a padded copy, never reads or writes past x[n−1]). Requires have_avx2_fma().
/// Memory traffic: 3 reads + 2 writes of the row.
RowStats stable_avx2_3pass(float* x, std::size_t n) noexcept;

/// AVX2 two-pass kernel: per-lane online (m, l) (rescaling only when a lane's max
/// grows), lanes merged, then y = exp(x − m)/l. 2 reads + 1 write of the row, one
/// more exp per element. Requires have_avx2_fma().
RowStats stable_avx2_2pass(float* x, std::size_t n) noexcept;

/// y_i = exp_p7(x_i) with AVX2 (for the tests of the exp contract).
void exp_p7_avx2(const float* x, float* y, std::size_t n) noexcept;

}  // namespace attn::softmax::simd
