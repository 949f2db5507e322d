// The AVX-512 vector traits: simd/avx2.hpp's interface on 16-lane fp32 zmm registers with
// __mmask16 lane masks (masked loads and stores never fault on masked-off lanes). Only
// AVX-512F instructions, so a unit compiled with -mavx512f alone can include it (except the
// masked 16-bit loads, which need AVX-512BW and VL); include only from such units, which run
// after cpu_features.hpp said yes. Internal linkage.
//
// Against simd/avx2.hpp: 2^n by vscalefps (kScalef: exact for any n, so exp2_rr1_p6 needs no
// clamp); the reductions use the same fixed order (256-bit halves, 128-bit halves, then
// pairs), which is also the order of GCC's _mm512_reduce_add_ps, so sums are bitwise
// those of the earlier code on either compiler.
#pragma once

#include <attn/dtype.hpp>

#include <immintrin.h>

#include <cstdint>

namespace attn::simd {
namespace {

struct Avx512 {
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int W = 16;
  static constexpr const char* kName = "avx512f";
  static constexpr const char* kFmaName = "avx512f";
  static constexpr bool kScalef = true;

  static mask first(std::int64_t n) noexcept {
    return static_cast<__mmask16>(n >= W ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
  }
  static reg load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) noexcept { _mm512_storeu_ps(p, v); }
  static reg load_masked(const float* p, mask m) noexcept { return _mm512_maskz_loadu_ps(m, p); }
  static reg load_masked_or(const float* p, mask m, reg fill) noexcept { return _mm512_mask_loadu_ps(fill, m, p); }
  static void store_masked(float* p, mask m, reg v) noexcept { _mm512_mask_storeu_ps(p, m, v); }
  static reg keep(mask m, reg v) noexcept { return _mm512_maskz_mov_ps(m, v); }
  static reg broadcast(const float* p) noexcept { return _mm512_set1_ps(*p); }
  static reg set1(float v) noexcept { return _mm512_set1_ps(v); }
  static reg zero() noexcept { return _mm512_setzero_ps(); }
  static reg add(reg a, reg b) noexcept { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) noexcept { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) noexcept { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) noexcept { return _mm512_fnmadd_ps(a, b, c); }
  static reg max(reg a, reg b) noexcept { return _mm512_max_ps(a, b); }
  static reg div(reg a, reg b) noexcept { return _mm512_div_ps(a, b); }
  static reg zero_where_less(reg x, float t, reg v) noexcept {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(t), _CMP_NLT_UQ), v);
  }
  static reg add_i32(reg v, int k) noexcept {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(v), _mm512_set1_epi32(k)));
  }
  static reg pow2_from_bits(reg v) noexcept {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(v), 23));
  }
  static reg scalef(reg p, reg n) noexcept { return _mm512_scalef_ps(p, n); }
  static float hsum(reg v) noexcept {
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(reg v) noexcept {
    const __m256 h =
        _mm256_max_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  /// 16-bit storage widened to fp32, exactly: f16 by vcvtph2ps, bf16 by a 16-bit shift.
  static reg load(const f16* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg load(const bf16* p) noexcept {
    return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg load_masked(const f16* p, mask m) noexcept { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
  static reg load_masked(const bf16* p, mask m) noexcept { return widen_bf16(_mm256_maskz_loadu_epi16(m, p)); }
  /// fp32 narrowed to f16, round to nearest even (vcvtps2ph: bitwise attn::to_f16).
  static void store(f16* p, reg v) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void store_masked(f16* p, mask m, reg v) noexcept {
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static reg widen_bf16(__m256i h) noexcept {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  /// {Σa, Σb, Σc, Σd}: 128-bit blocks folded across the four registers first (6 block shuffles,
  /// 3 adds for all four), then each block's four lanes.
  static __m128 hsum4(reg a, reg b, reg c, reg d) noexcept {
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    // blocks of ab: a0+a2, a1+a3, b0+b2, b1+b3; of abcd: one 4-lane partial sum per register
    __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    s = _mm512_add_ps(s, _mm512_shuffle_ps(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
    s = _mm512_add_ps(s, _mm512_shuffle_ps(s, s, _MM_SHUFFLE(1, 0, 3, 2)));  // every lane of a block: its sum
    return _mm512_castps512_ps128(
        _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s));
  }
  /// 16 rows of 16 floats transposed in registers (4 rounds of unpack/shuffle).
  static void transpose(reg r[W]) noexcept {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    // Now r[4q + j], 128-bit lane L, holds element 4L + j of rows 4q..4q+3; two rounds of
    // 128-bit lane shuffles gather each element's 16 rows into one register.
    for (int j = 0; j < 4; ++j) {
      t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
      t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
      t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
      t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    }
    for (int j = 0; j < 4; ++j) {
      r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
      r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
      r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
    }
  }
};

}  // namespace
}  // namespace attn::simd
