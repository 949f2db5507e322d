// AVX2 + FMA microkernels (ukernels.hpp states the contract; ukernel_scalar.cpp
// is the specification). This translation unit alone is compiled with
// -mavx2 -mfma (sources.cmake) and is only called after cpu.cpp saw both in cpuid.
//
// Register tile 6×16: 6 rows × 2 ymm = 12 accumulators, 2 loads of the
// streamed operand and 6 broadcasts per step, leaving 2 of the 16 ymm for the
// loaded vectors and 1 for the broadcast (BLIS haswell sgemm_6x16).
#include "exp2_poly.hpp"
#include "online_softmax.hpp"
#include "ukernels.hpp"

#include <immintrin.h>

namespace attn::fused {

namespace {

constexpr int kMR = 6, kNR = 16;

/// Lanes c < n of a pair of ymm (columns 0..7, 8..15) for n in [0, 16].
struct TailMask {
  __m256i lo, hi;
  explicit TailMask(int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), idx);
  }
};

/// exp2(x) for x <= 0, "rr1_p6" (exp2_poly.hpp explains the constants). NaN passes
/// through: max_ps returns its second operand when either is NaN, and the ordered
/// x < -126 compare is false for NaN, so the flush does not touch it either.
inline __m256 exp2_avx2_rr1_p6(__m256 x) {
  using namespace exp2c;
  const __m256 xc = _mm256_max_ps(_mm256_set1_ps(kFloor), x);  // n >= -127 fits the exponent field
  const __m256 magic = _mm256_set1_ps(kRoundMagic);
  const __m256 t = _mm256_add_ps(xc, magic);
  const __m256 n = _mm256_sub_ps(t, magic);
  const __m256 f = _mm256_sub_ps(xc, n);  // exact, in [-0.5, 0.5]
  __m256 p = _mm256_set1_ps(kC6);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kC5));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kC4));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kC3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kC2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kC1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127)), 23);
  const __m256 r = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kUnderflow), _CMP_LT_OQ), r);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {  // inputs hold no NaN (rowmax never lets one in)
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int M>
void qk_6x16(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int n) {
  __m256 c[M][2];
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (i64 k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(kp), b1 = _mm256_loadu_ps(kp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m256 a = _mm256_broadcast_ss(qp + r);
      c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
    }
    qp += kMR;
    kp += kNR;
  }
  if (n == kNR) {
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      _mm256_storeu_ps(s + r * lds, c[r][0]);
      _mm256_storeu_ps(s + r * lds + 8, c[r][1]);
    }
    return;
  }
  const TailMask mask(n);
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    _mm256_maskstore_ps(s + r * lds, mask.lo, c[r][0]);
    _mm256_maskstore_ps(s + r * lds + 8, mask.hi, c[r][1]);
  }
}

void qk_avx2(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int m, int n) {
  switch (m) {
    case 6:
      return qk_6x16<6>(kc, qp, kp, s, lds, n);
    case 5:
      return qk_6x16<5>(kc, qp, kp, s, lds, n);
    case 4:
      return qk_6x16<4>(kc, qp, kp, s, lds, n);
    case 3:
      return qk_6x16<3>(kc, qp, kp, s, lds, n);
    case 2:
      return qk_6x16<2>(kc, qp, kp, s, lds, n);
    default:
      return qk_6x16<1>(kc, qp, kp, s, lds, n);
  }
}

template <int M, bool kFull>
void pv_6x16(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int n, const float* scale) {
  __m256 c[M][2];
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  const TailMask mask(kFull ? kNR : n);
  for (i64 j = 0; j < kc; ++j) {
    const float* vr = v + j * ldv;
    const __m256 b0 = kFull ? _mm256_loadu_ps(vr) : _mm256_maskload_ps(vr, mask.lo);
    const __m256 b1 = kFull ? _mm256_loadu_ps(vr + 8) : _mm256_maskload_ps(vr + 8, mask.hi);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m256 a = _mm256_broadcast_ss(p + r * ldp + j);
      c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    float* orow = o + r * ldo;
    if (kFull) {
      if (scale) {
        const __m256 alpha = _mm256_broadcast_ss(scale + r);
        c[r][0] = _mm256_fmadd_ps(alpha, _mm256_loadu_ps(orow), c[r][0]);
        c[r][1] = _mm256_fmadd_ps(alpha, _mm256_loadu_ps(orow + 8), c[r][1]);
      }
      _mm256_storeu_ps(orow, c[r][0]);
      _mm256_storeu_ps(orow + 8, c[r][1]);
    } else {
      if (scale) {
        const __m256 alpha = _mm256_broadcast_ss(scale + r);
        c[r][0] = _mm256_fmadd_ps(alpha, _mm256_maskload_ps(orow, mask.lo), c[r][0]);
        c[r][1] = _mm256_fmadd_ps(alpha, _mm256_maskload_ps(orow + 8, mask.hi), c[r][1]);
      }
      _mm256_maskstore_ps(orow, mask.lo, c[r][0]);
      _mm256_maskstore_ps(orow + 8, mask.hi, c[r][1]);
    }
  }
}

template <int M>
void pv_rows(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int n, const float* scale) {
  if (n == kNR) return pv_6x16<M, true>(kc, p, ldp, v, ldv, o, ldo, n, scale);
  pv_6x16<M, false>(kc, p, ldp, v, ldv, o, ldo, n, scale);
}

void pv_avx2(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int m, int n,
             const float* scale) {
  switch (m) {
    case 6:
      return pv_rows<6>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    case 5:
      return pv_rows<5>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    case 4:
      return pv_rows<4>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    case 3:
      return pv_rows<3>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    case 2:
      return pv_rows<2>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    default:
      return pv_rows<1>(kc, p, ldp, v, ldv, o, ldo, n, scale);
  }
}

/// r[i] (row i, elements 0..7) becomes column i: r[t][i] = old r[i][t].
inline void transpose8x8(__m256 r[8]) {
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

/// Kᵀ panels by 8 × 8 register transposes; the d tail by masked loads, missing keys as zeros.
void pack_kt_avx2(i64 n, i64 d, const float* k, i64 ldk, float* kp) {
  for (i64 jp = 0; jp * kNR < n; ++jp) {
    float* panel = kp + jp * d * kNR;
    for (int half = 0; half < 2; ++half) {
      const i64 j0 = jp * kNR + half * 8;
      const i64 rows = n - j0 < 0 ? 0 : (n - j0 < 8 ? n - j0 : 8);
      for (i64 t0 = 0; t0 < d; t0 += 8) {
        const int cols = static_cast<int>(d - t0 < 8 ? d - t0 : 8);
        const TailMask mask(cols);
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
          const float* src = k + (j0 + i) * ldk + t0;
          r[i] = i >= rows ? _mm256_setzero_ps() : cols == 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask.lo);
        }
        transpose8x8(r);
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t)
          if (t < cols) _mm256_storeu_ps(panel + (t0 + t) * kNR + half * 8, r[t]);
      }
    }
  }
}

void pack_v_avx2(i64 n, i64 dv, const float* v, i64 ldv, float* vp) {
  for (i64 s = 0; s * kNR < dv; ++s) {
    const i64 cols = dv - s * kNR < kNR ? dv - s * kNR : kNR;
    const float* src = v + s * kNR;
    float* dst = vp + s * n * kNR;
    if (cols == kNR) {
      for (i64 j = 0; j < n; ++j) {
        _mm256_storeu_ps(dst + j * kNR, _mm256_loadu_ps(src + j * ldv));
        _mm256_storeu_ps(dst + j * kNR + 8, _mm256_loadu_ps(src + j * ldv + 8));
      }
      continue;
    }
    const TailMask mask(static_cast<int>(cols));
    for (i64 j = 0; j < n; ++j) {
      _mm256_maskstore_ps(dst + j * kNR, mask.lo, _mm256_maskload_ps(src + j * ldv, mask.lo));
      _mm256_maskstore_ps(dst + j * kNR + 8, mask.hi, _mm256_maskload_ps(src + j * ldv + 8, mask.hi));
    }
  }
}

float rowmax_avx2(const float* x, i64 n) {
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  __m256 m0 = ninf, m1 = ninf;
  i64 j = 0;
  // max_ps(a, b) returns b when either is NaN: with the running max second, NaN is ignored.
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
  }
  for (; j < n; j += 8) {
    const TailMask mask(static_cast<int>(n - j < 8 ? n - j : 8));
    const __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + j, mask.lo), _mm256_castsi256_ps(mask.lo));
    m0 = _mm256_max_ps(v, m0);
  }
  return hmax(_mm256_max_ps(m0, m1));
}

float exp2_store_sum_avx2(float* x, i64 n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  i64 j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 e0 = exp2_avx2_rr1_p6(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    const __m256 e1 = exp2_avx2_rr1_p6(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm));
    _mm256_storeu_ps(x + j, e0);
    _mm256_storeu_ps(x + j + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  for (; j < n; j += 8) {
    const TailMask mask(static_cast<int>(n - j < 8 ? n - j : 8));
    const __m256 e = exp2_avx2_rr1_p6(_mm256_sub_ps(_mm256_maskload_ps(x + j, mask.lo), vm));
    _mm256_maskstore_ps(x + j, mask.lo, e);
    s0 = _mm256_add_ps(s0, _mm256_and_ps(e, _mm256_castsi256_ps(mask.lo)));
  }
  return hsum(_mm256_add_ps(s0, s1));
}

void exp2_avx2(const float* x, float* y, i64 n) {
  i64 j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, exp2_avx2_rr1_p6(_mm256_loadu_ps(x + j)));
  if (j < n) {
    const TailMask mask(static_cast<int>(n - j));
    _mm256_maskstore_ps(y + j, mask.lo, exp2_avx2_rr1_p6(_mm256_maskload_ps(x + j, mask.lo)));
  }
}

}  // namespace

Ukernels avx2_ukernels() {
  return {Isa::avx2,    kMR,         kNR,
          kNR,          qk_avx2,     pv_avx2,
          pack_kt_avx2, pack_v_avx2, online_softmax_step<rowmax_avx2, exp2_store_sum_avx2>,
          exp2_avx2,    1.0f};
}

}  // namespace attn::fused
