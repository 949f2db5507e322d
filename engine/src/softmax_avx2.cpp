// AVX2+FMA row softmax kernels and exp_p7 (contracts in softmax_simd.hpp).
// This file is compiled with -mavx2 -mfma; nothing in it may run before
// have_avx2_fma() said yes, so it calls no inline library code (which the
// linker could share with non-AVX translation units).
#include "softmax_simd.hpp"

#include <immintrin.h>

#include <limits>

namespace attn::softmax::simd {

namespace {

constexpr std::size_t kW = 8;  // floats per __m256

/// exp_p7 on 8 lanes, operation for operation as the scalar specification.
inline __m256 exp8(__m256 x) noexcept {
  // max/min return their second operand when either is NaN: NaN passes through.
  x = _mm256_max_ps(_mm256_set1_ps(kExpLo), x);
  x = _mm256_min_ps(_mm256_set1_ps(kExpHi), x);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC[7]);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[6]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[5]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[4]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[3]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[2]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[1]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[0]));
  const __m256i ki = _mm256_cvtps_epi32(k);  // exact: k is integral (NaN lanes: p is NaN anyway)
  const __m256i k1 = _mm256_srai_epi32(ki, 1);
  const __m256i k2 = _mm256_sub_epi32(ki, k1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

inline float hmax(__m256 v) noexcept {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline float hsum(__m256 v) noexcept {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// The last n % 8 elements, copied into a -inf-padded vector (no over-read).
inline __m256 load_tail(const float* x, std::size_t rem) noexcept {
  alignas(32) float buf[kW];
  for (std::size_t i = 0; i < kW; ++i) buf[i] = i < rem ? x[i] : -std::numeric_limits<float>::infinity();
  return _mm256_load_ps(buf);
}

inline void store_tail(float* y, __m256 v, std::size_t rem) noexcept {
  alignas(32) float buf[kW];
  _mm256_store_ps(buf, v);
  for (std::size_t i = 0; i < rem; ++i) y[i] = buf[i];
}

/// y = x·c over the row (the normalisation pass).
inline void scale(float* x, std::size_t n, float c) noexcept {
  const __m256 vc = _mm256_set1_ps(c);
  std::size_t j = 0;
  for (; j + 4 * kW <= n; j += 4 * kW) {
    _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), vc));
    _mm256_storeu_ps(x + j + kW, _mm256_mul_ps(_mm256_loadu_ps(x + j + kW), vc));
    _mm256_storeu_ps(x + j + 2 * kW, _mm256_mul_ps(_mm256_loadu_ps(x + j + 2 * kW), vc));
    _mm256_storeu_ps(x + j + 3 * kW, _mm256_mul_ps(_mm256_loadu_ps(x + j + 3 * kW), vc));
  }
  for (; j + kW <= n; j += kW) _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), vc));
  if (j < n) store_tail(x + j, _mm256_mul_ps(load_tail(x + j, n - j), vc), n - j);
}

}  // namespace

void exp_p7_avx2(const float* x, float* y, std::size_t n) noexcept {
  std::size_t j = 0;
  for (; j + kW <= n; j += kW) _mm256_storeu_ps(y + j, exp8(_mm256_loadu_ps(x + j)));
  if (j < n) store_tail(y + j, exp8(load_tail(x + j, n - j)), n - j);
}

RowStats stable_avx2_3pass(float* x, std::size_t n) noexcept {
  // Pass 1: the max, 4 independent accumulators (NaN lanes are skipped by max_ps(v, m)).
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  std::size_t j = 0;
  for (; j + 4 * kW <= n; j += 4 * kW) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + kW), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(x + j + 2 * kW), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(x + j + 3 * kW), m3);
  }
  for (; j + kW <= n; j += kW) m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
  if (j < n) m1 = _mm256_max_ps(load_tail(x + j, n - j), m1);
  const float m = hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  if (m == std::numeric_limits<float>::infinity()) return {m, std::numeric_limits<float>::quiet_NaN()};
  if (m == -std::numeric_limits<float>::infinity()) {  // no mass: 0, unless a NaN hides in the row
    for (j = 0; j < n; ++j)
      if (x[j] != x[j]) return {m, x[j]};
    return {m, 0.0f};
  }

  // Pass 2: store e = exp(x − m) and sum it; the max term is exactly 1.
  const __m256 vm = _mm256_set1_ps(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  j = 0;
  for (; j + 4 * kW <= n; j += 4 * kW) {
    const __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    const __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + kW), vm));
    const __m256 e2 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + 2 * kW), vm));
    const __m256 e3 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + 3 * kW), vm));
    _mm256_storeu_ps(x + j, e0);
    _mm256_storeu_ps(x + j + kW, e1);
    _mm256_storeu_ps(x + j + 2 * kW, e2);
    _mm256_storeu_ps(x + j + 3 * kW, e3);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
    s2 = _mm256_add_ps(s2, e2);
    s3 = _mm256_add_ps(s3, e3);
  }
  for (; j + kW <= n; j += kW) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    _mm256_storeu_ps(x + j, e);
    s0 = _mm256_add_ps(s0, e);
  }
  if (j < n) {
    const __m256 e = exp8(_mm256_sub_ps(load_tail(x + j, n - j), vm));  // padding: exp(−inf) = 0
    store_tail(x + j, e, n - j);
    s1 = _mm256_add_ps(s1, e);
  }
  const float l = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));

  // Pass 3: normalise.
  scale(x, n, 1.0f / l);
  return {m, l};
}

namespace {

/// One online step on 8 lanes: rescale the lanes whose max grew, then add exp(v − M).
inline void online_step(__m256 v, __m256& M, __m256& L) noexcept {
  const __m256 grew = _mm256_cmp_ps(v, M, _CMP_GT_OQ);
  if (_mm256_movemask_ps(grew)) {  // rare once the max has settled
    const __m256 Mn = _mm256_max_ps(v, M);
    L = _mm256_mul_ps(L, exp8(_mm256_sub_ps(M, Mn)));
    M = Mn;
  }
  L = _mm256_add_ps(L, exp8(_mm256_sub_ps(v, M)));
}

}  // namespace

RowStats stable_avx2_2pass(float* x, std::size_t n) noexcept {
  // Pass 1: per-lane (M, L), two independent sets. M starts at −FLT_MAX, not −inf,
  // so that v − M is never −inf − (−inf); a −inf entry then adds exp(−inf) = 0.
  const __m256 lowest = _mm256_set1_ps(std::numeric_limits<float>::lowest());
  __m256 M0 = lowest, M1 = lowest, L0 = _mm256_setzero_ps(), L1 = L0;
  std::size_t j = 0;
  for (; j + 2 * kW <= n; j += 2 * kW) {
    online_step(_mm256_loadu_ps(x + j), M0, L0);
    online_step(_mm256_loadu_ps(x + j + kW), M1, L1);
  }
  for (; j + kW <= n; j += kW) online_step(_mm256_loadu_ps(x + j), M0, L0);
  if (j < n) online_step(load_tail(x + j, n - j), M1, L1);
  // Merge the 16 lane states: m = max, l = Σ L·exp(M − m).
  const float m = hmax(_mm256_max_ps(M0, M1));
  const __m256 vm = _mm256_set1_ps(m);
  const float l = hsum(_mm256_add_ps(_mm256_mul_ps(L0, exp8(_mm256_sub_ps(M0, vm))),
                                     _mm256_mul_ps(L1, exp8(_mm256_sub_ps(M1, vm)))));
  if (!(l > 0) || m == std::numeric_limits<float>::infinity()) return {m, l};  // caller handles

  // Pass 2: y = exp(x − m) · (1/l).
  const __m256 inv = _mm256_set1_ps(1.0f / l);
  j = 0;
  for (; j + 2 * kW <= n; j += 2 * kW) {
    _mm256_storeu_ps(x + j, _mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm)), inv));
    _mm256_storeu_ps(x + j + kW, _mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + kW), vm)), inv));
  }
  for (; j + kW <= n; j += kW) _mm256_storeu_ps(x + j, _mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm)), inv));
  if (j < n) store_tail(x + j, _mm256_mul_ps(exp8(_mm256_sub_ps(load_tail(x + j, n - j), vm)), inv), n - j);
  return {m, l};
}

}  // namespace attn::softmax::simd
