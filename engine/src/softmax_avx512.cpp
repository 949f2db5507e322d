// The AVX-512F instantiation of softmax_kernels.inl. Compiled with -mavx512f
// -mfma: nothing here may run before have_avx512f() said yes. Also compiled with
// -ffixed-xmm16 … -ffixed-xmm31 (engine/CMakeLists.txt): vzeroupper does not
// clean zmm16-31, and leaving them dirty slowed later libm calls ~100x here.
// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*(), which
// -Wuninitialized reports at every use (GCC PR 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "softmax_kernels.inl"

namespace attn::softmax::simd {

namespace {

struct Avx512 {
  using reg = __m512;
  static constexpr std::size_t W = 16;
  static __mmask16 first(std::size_t rem) noexcept { return static_cast<__mmask16>((1u << rem) - 1); }
  static reg load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) noexcept { _mm512_storeu_ps(p, v); }
  // Masked loads and stores touch no memory in the masked-off lanes.
  static reg load_tail(const float* p, std::size_t rem) noexcept {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(-kInfinity), first(rem), p);
  }
  static void store_tail(float* p, reg v, std::size_t rem) noexcept { _mm512_mask_storeu_ps(p, first(rem), v); }
  static reg set1(float v) noexcept { return _mm512_set1_ps(v); }
  static reg zero() noexcept { return _mm512_setzero_ps(); }
  static reg add(reg a, reg b) noexcept { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) noexcept { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) noexcept { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) noexcept { return _mm512_fnmadd_ps(a, b, c); }
  static reg max(reg a, reg b) noexcept { return _mm512_max_ps(a, b); }
  static reg flush_below(reg x, float thr, reg v) noexcept {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(thr), _CMP_NLT_UQ), v);
  }
  static reg pow2_from_magic(reg z) noexcept {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(z), 23));
  }
  static float hmax(reg v) noexcept {
    __m256 h =
        _mm256_max_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static float hsum(reg v) noexcept {
    __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace

void exp_p7_avx512(const float* x, float* y, std::size_t n) noexcept {
  exp_array<Avx512>(x, y, n);
}
RowStats stable_avx512_3pass(float* x, std::size_t n) noexcept {
  return stable_3pass<Avx512>(x, n);
}
RowStats stable_avx512_2pass(float* x, std::size_t n) noexcept {
  return stable_2pass<Avx512>(x, n);
}

}  // namespace attn::softmax::simd
