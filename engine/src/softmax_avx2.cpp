// The AVX2+FMA instantiation of softmax_kernels.inl. Compiled with -mavx2 -mfma:
// nothing here may run before have_avx2_fma() said yes.
#include <immintrin.h>

#include "softmax_kernels.inl"

namespace attn::softmax::simd {

namespace {

struct Avx2 {
  using reg = __m256;
  static constexpr std::size_t W = 8;
  static reg load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) noexcept { _mm256_storeu_ps(p, v); }
  static reg load_tail(const float* p, std::size_t rem) noexcept {
    alignas(32) float buf[W];
    for (std::size_t i = 0; i < W; ++i) buf[i] = i < rem ? p[i] : -kInfinity;
    return _mm256_load_ps(buf);
  }
  static void store_tail(float* p, reg v, std::size_t rem) noexcept {
    alignas(32) float buf[W];
    _mm256_store_ps(buf, v);
    for (std::size_t i = 0; i < rem; ++i) p[i] = buf[i];
  }
  static reg set1(float v) noexcept { return _mm256_set1_ps(v); }
  static reg zero() noexcept { return _mm256_setzero_ps(); }
  static reg add(reg a, reg b) noexcept { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) noexcept { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) noexcept { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) noexcept { return _mm256_fnmadd_ps(a, b, c); }
  static reg max(reg a, reg b) noexcept { return _mm256_max_ps(a, b); }
  static reg flush_below(reg x, float thr, reg v) noexcept {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(thr), _CMP_LT_OQ), v);
  }
  static reg pow2_from_magic(reg z) noexcept {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(z), 23));
  }
  static float hmax(reg v) noexcept {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static float hsum(reg v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace

void exp_p7_avx2(const float* x, float* y, std::size_t n) noexcept {
  exp_array<Avx2>(x, y, n);
}
RowStats stable_avx2_3pass(float* x, std::size_t n) noexcept {
  return stable_3pass<Avx2>(x, n);
}
RowStats stable_avx2_2pass(float* x, std::size_t n) noexcept {
  return stable_2pass<Avx2>(x, n);
}

}  // namespace attn::softmax::simd
