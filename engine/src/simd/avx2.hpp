// The AVX2 + FMA vector traits: everything the routines written once over a traits type V
// (simd/exp_poly.hpp, softmax_kernels.inl, fused/ukernels_simd.hpp) ask of an ISA, on 8-lane
// fp32 ymm registers. Include only from translation units compiled with -mavx2 -mfma (and
// -mf16c where the f16 loads are used), which run only after cpu_features.hpp said yes (its
// AVX2 level includes F16C). Internal linkage (see simd/exp_poly.hpp).
//
// The interface, shared with simd/avx512.hpp:
//   reg, mask (lanes that take part), W (floats per reg), kName / kFmaName (the ISA in kernel names),
//   kScalef (2^n by vscalefps instead of an exponent field built by hand)
//   first(n): lanes i < n (any n; none when n <= 0, all when n >= W)
//   load/store (unaligned), load_masked (masked-off lanes 0), load_masked_or (… = fill),
//   store_masked, keep(m, v) (masked-off lanes 0) — masked accesses never touch masked-off memory
//   broadcast(p) = set1(*p), set1, zero, add, sub, mul, fma (a·b + c), fnma (c − a·b),
//   max(a, b) (a > b ? a : b: b when either is NaN), zero_where_less(x, t, v) (0 where x < t, ordered)
//   add_i32(v, k), pow2_from_bits(v) (the float whose bits are bits(v) << 23)
//   hsum, hmax (fixed orders: halves, then pairs), transpose(r[W]) (r[t][i] = old r[i][t]),
//   hsum4(a, b, c, d) = {Σa, Σb, Σc, Σd} as one __m128 (four dot products finished at once)
//   load(const f16*), load(const bf16*), load_masked(const f16* or bf16*, first(n)): W 16-bit
//   storage values widened to fp32, exactly (f16 by F16C, bf16 by a 16-bit shift)
//   div(a, b) (IEEE a / b), store(f16*, v), store_masked(f16*, first(n), v): v narrowed to f16
//   round to nearest even (vcvtps2ph, bitwise attn::to_f16), masked-off lanes never written
#pragma once

#include <attn/dtype.hpp>

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace attn::simd {
namespace {

struct Avx2 {
  using reg = __m256;
  using mask = __m256i;  // all ones in the lanes that take part
  static constexpr int W = 8;
  static constexpr const char* kName = "avx2";         // in kernel names
  static constexpr const char* kFmaName = "avx2_fma";  // … of FMA tiles
  static constexpr bool kScalef = false;

  static mask first(std::int64_t n) noexcept {
    const int c = static_cast<int>(n < W ? (n < 0 ? 0 : n) : W);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static reg load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) noexcept { _mm256_storeu_ps(p, v); }
  static reg load_masked(const float* p, mask m) noexcept { return _mm256_maskload_ps(p, m); }
  static reg load_masked_or(const float* p, mask m, reg fill) noexcept {
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store_masked(float* p, mask m, reg v) noexcept { _mm256_maskstore_ps(p, m, v); }
  static reg keep(mask m, reg v) noexcept { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }
  static reg broadcast(const float* p) noexcept { return _mm256_broadcast_ss(p); }
  static reg set1(float v) noexcept { return _mm256_set1_ps(v); }
  static reg zero() noexcept { return _mm256_setzero_ps(); }
  static reg add(reg a, reg b) noexcept { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) noexcept { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) noexcept { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) noexcept { return _mm256_fnmadd_ps(a, b, c); }
  static reg max(reg a, reg b) noexcept { return _mm256_max_ps(a, b); }
  static reg div(reg a, reg b) noexcept { return _mm256_div_ps(a, b); }
  static reg zero_where_less(reg x, float t, reg v) noexcept {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(t), _CMP_LT_OQ), v);
  }
  static reg add_i32(reg v, int k) noexcept {
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(v), _mm256_set1_epi32(k)));
  }
  static reg pow2_from_bits(reg v) noexcept {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(v), 23));
  }
  static float hsum(reg v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(reg v) noexcept {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static reg load(const f16* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static reg load(const bf16* p) noexcept { return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  /// AVX2 has no 16-bit masked load: the first popcount(m) values are copied (m from first()).
  static reg load_masked(const f16* p, mask m) noexcept { return _mm256_cvtph_ps(first_halves(p, m)); }
  static reg load_masked(const bf16* p, mask m) noexcept { return widen_bf16(first_halves(p, m)); }
  static void store(f16* p, reg v) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static void store_masked(f16* p, mask m, reg v) noexcept {
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    std::memcpy(static_cast<void*>(p), &h,
                2 * static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_ps(_mm256_castsi256_ps(m)))));
  }
  static __m128i first_halves(const void* p, mask m) noexcept {
    __m128i h = _mm_setzero_si128();
    std::memcpy(&h, p, 2 * static_cast<std::size_t>(__builtin_popcount(_mm256_movemask_ps(_mm256_castsi256_ps(m)))));
    return h;
  }
  static reg widen_bf16(__m128i h) noexcept {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m128 hsum4(reg a, reg b, reg c, reg d) noexcept {
    const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));  // per 128-bit half
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
  }
  static void transpose(reg r[W]) noexcept {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }
};

}  // namespace
}  // namespace attn::simd
