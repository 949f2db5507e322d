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

// exp_p7: exp(x) = 2^k · p(r) for x ≤ 0 (what softmax feeds it: x − max).
//  - k = round(x·log2 e) by the magic-number trick: z = x·log2e + (1.5·2^23 + 127)
//    rounds to an integer in the low mantissa bits of z, so k = z − kMagic and
//    bits(z) << 23 is the float 2^k (the bias 127 is folded into kMagic);
//  - r = x − k·ln 2 in [−ln2/2, ln2/2] (Cody–Waite: ln2 = kLn2Hi + kLn2Lo, kLn2Hi
//    has 15 significant bits so k·kLn2Hi is exact for |k| ≤ 2^9);
//  - p = the degree-7 Taylor polynomial of e^r, Horner with FMAs: truncation
//    |r|^8/8!·e^{2|r|} ≤ 1.1e-8 = 0.18u relative, and p(0) = 1 exactly, so the
//    softmax's largest term exp(0) is exactly 1;
//  - x below kFlush = exp_normal_threshold<float>() (−87.33654) gives 0: the exact
//    value is below 2^-126, so the absolute error is below the smallest normal.
//    This also keeps 2^k a valid normal number (k ≥ −126).
// Contract: for x ∈ [−87.33654, 0] the result is within 2 ulp of exp(x) (below 0.9 ulp
// worst on the test's sweep of 8.7e6 floats), or within 2^-149 when below 2^-126;
// x < −87.33654 and −inf → 0; NaN → NaN; exp(0) = 1. Also valid for 0 < x ≤ 88
// (not used). The SIMD versions compute bit-identical results (same FMAs).
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kMagic = 12582912.0f + 127.0f;     // 1.5·2^23 + bias
inline constexpr float kLn2Hi = 0.693145751953125f;       // 0x3F317200
inline constexpr float kLn2Lo = 1.4286068202862268e-06f;  // ln 2 − kLn2Hi
inline constexpr float kFlush = -0x1.5d589ep+6f;          // −87.3365402: exp_normal_threshold<float>()
inline constexpr float kC[8] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};

/// The readable specification of the vector exp (same operations, same order).
inline float exp_p7(float x) noexcept {
  const float z = std::fma(x, kLog2e, kMagic);
  const float k = z - kMagic;
  float r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  float p = kC[7];
  for (int i = 6; i >= 0; --i) p = std::fma(p, r, kC[i]);
  std::uint32_t bits;
  std::memcpy(&bits, &z, sizeof bits);
  bits <<= 23;  // 2^k: (k + 127) lands in the exponent field
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < kFlush ? 0.0f : p * scale;
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

/// True when the CPU reports AVX-512F (cpuid, checked once).
bool have_avx512f() noexcept;

// The SIMD kernels (softmax_kernels.inl, one source for both ISAs). Each requires
// its have_*() check. None reads or writes outside x[0, n).
//  3pass: max; store exp(x − m) and sum it; scale by 1/l. 3 reads + 2 writes of
//         the row, one exp per element: best while the row sits in L1/L2.
//  2pass: per block of ≥ 2048 floats: block max, then exp(x − m_b) stored and
//         summed while the block is in L1, blocks merged online into (m, l)
//         (Milakov & Gimelshein); then one multiply per element by e^{m_b − m}/l.
//         2 reads + 2 writes of the row from memory, one exp per element:
//         for rows that do not fit in L2.
RowStats stable_avx2_3pass(float* x, std::size_t n) noexcept;
RowStats stable_avx2_2pass(float* x, std::size_t n) noexcept;
RowStats stable_avx512_3pass(float* x, std::size_t n) noexcept;
RowStats stable_avx512_2pass(float* x, std::size_t n) noexcept;

/// y_i = exp_p7(x_i), vectorised (for the tests of the exp contract).
void exp_p7_avx2(const float* x, float* y, std::size_t n) noexcept;
void exp_p7_avx512(const float* x, float* y, std::size_t n) noexcept;

}  // namespace attn::softmax::simd
