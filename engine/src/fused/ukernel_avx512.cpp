// AVX-512 (F, VL, BW, DQ) microkernels: the AVX2 design at twice the width
// (ukernels.hpp states the contract; ukernel_scalar.cpp is the specification).
// Compiled alone with the AVX-512 flags (sources.cmake); called only after
// cpu.cpp saw AVX-512F/VL/BW/DQ in cpuid with the OS saving zmm state.
//
// Q Kᵀ tile 6×32: 6 rows × 2 zmm = 12 accumulators (FMA latency 4 × 2 ports needs
// at least 8 in flight), 2 loads of the streamed operand and 6 broadcasts per step.
// P V tile 6×64: 24 accumulators (of 32 zmm), 4 loads of V and 6 broadcasts of P per
// 24 FMAs: half the broadcasts per FMA of a 6×32 tile, whose P rows (6 streams, a row
// of S apart) kept it ~10 % slower than Q Kᵀ (measured: N = 4096, d = 128, min of 8
// runs 67.3 → 60.2 ms). Tails use AVX-512 lane masks, which never fault on masked-off lanes.
#include "exp2_poly.hpp"
#include "online_softmax.hpp"
#include "ukernels.hpp"

#include <immintrin.h>

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized inside its unmasked
// intrinsics (_mm512_undefined_ps as the pass-through; GCC PR 105593).
#if !defined(__clang__)  // a GCC-only warning; clang (TSan, fuzz builds) rejects the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace attn::fused {

namespace {

constexpr int kMR = 6, kNR = 32, kPvNR = 64;

/// Lanes c < n of a pair of zmm (columns 0..15, 16..31) for n in [0, 32].
struct TailMask {
  __mmask16 lo, hi;
  explicit TailMask(int n)
      : lo(static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << (n < 0 ? 0 : n)) - 1)),
        hi(static_cast<__mmask16>(n >= 32   ? 0xffff
                                  : n <= 16 ? 0
                                            : (1u << (n - 16)) - 1)) {}
};

__mmask16 lanes(i64 n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
}

/// Lanes c < n of four zmm (columns 0..63) for n in [0, 64].
struct TailMask4 {
  __mmask16 k[4];
  explicit TailMask4(int n) {
    for (int q = 0; q < 4; ++q) k[q] = lanes(n - 16 * q);
  }
};

/// exp2(x) for x <= 0, "rr1_p6": the AVX2 kernel's reduction and polynomial (so the same
/// values on [-126, 0]), with 2^n applied by vscalefps instead of an exponent field built by
/// hand: one instruction for three, and no clamp of x needed (scalef takes any n; x = -inf
/// gives NaN there, which the flush replaces). NaN passes: the ordered compare is false.
inline __m512 exp2_avx512_rr1_p6(__m512 x) {
  using namespace exp2c;
  const __m512 magic = _mm512_set1_ps(kRoundMagic);
  const __m512 t = _mm512_add_ps(x, magic);
  const __m512 n = _mm512_sub_ps(t, magic);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(kC6);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kC5));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kC4));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kC3));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kC2));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kC1));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512 r = _mm512_scalef_ps(p, n);  // exact: for x >= -126 the result is normal
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, _mm512_set1_ps(kUnderflow), _CMP_LT_OQ), _mm512_setzero_ps());
}

template <int M>
void qk_6x32(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int n) {
  __m512 c[M][2];
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (i64 k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(kp), b1 = _mm512_loadu_ps(kp + 16);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m512 a = _mm512_set1_ps(qp[r]);
      c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
    }
    qp += kMR;
    kp += kNR;
  }
  const TailMask mask(n);
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    _mm512_mask_storeu_ps(s + r * lds, mask.lo, c[r][0]);
    _mm512_mask_storeu_ps(s + r * lds + 16, mask.hi, c[r][1]);
  }
}

void qk_avx512(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int m, int n) {
  switch (m) {
    case 6:
      return qk_6x32<6>(kc, qp, kp, s, lds, n);
    case 5:
      return qk_6x32<5>(kc, qp, kp, s, lds, n);
    case 4:
      return qk_6x32<4>(kc, qp, kp, s, lds, n);
    case 3:
      return qk_6x32<3>(kc, qp, kp, s, lds, n);
    case 2:
      return qk_6x32<2>(kc, qp, kp, s, lds, n);
    default:
      return qk_6x32<1>(kc, qp, kp, s, lds, n);
  }
}

template <int M, bool kFull>
void pv_6x64(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int n, const float* scale) {
  __m512 c[M][4];
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) c[r][0] = c[r][1] = c[r][2] = c[r][3] = _mm512_setzero_ps();
  const TailMask4 mask(kFull ? kPvNR : n);
  // Full tiles load and store unmasked.
  auto load = [&](int q, const float* x) { return kFull ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(mask.k[q], x); };
  for (i64 j = 0; j < kc; ++j) {
    const float* vr = v + j * ldv;
    const __m512 b0 = load(0, vr), b1 = load(1, vr + 16), b2 = load(2, vr + 32), b3 = load(3, vr + 48);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m512 a = _mm512_set1_ps(p[r * ldp + j]);
      c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
      c[r][2] = _mm512_fmadd_ps(a, b2, c[r][2]);
      c[r][3] = _mm512_fmadd_ps(a, b3, c[r][3]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    float* orow = o + r * ldo;
    if (scale) {
      const __m512 alpha = _mm512_set1_ps(scale[r]);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) c[r][q] = _mm512_fmadd_ps(alpha, load(q, orow + 16 * q), c[r][q]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      if (kFull)
        _mm512_storeu_ps(orow + 16 * q, c[r][q]);
      else
        _mm512_mask_storeu_ps(orow + 16 * q, mask.k[q], c[r][q]);
    }
  }
}

template <int M>
void pv_rows(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int n, const float* scale) {
  if (n == kPvNR) return pv_6x64<M, true>(kc, p, ldp, v, ldv, o, ldo, n, scale);
  pv_6x64<M, false>(kc, p, ldp, v, ldv, o, ldo, n, scale);
}

void pv_avx512(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int m, int n,
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

/// 16 rows of 16 floats transposed in registers (4 rounds of unpack/shuffle).
inline void transpose16x16(__m512 r[16]) {
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

/// Kᵀ panels by 16 × 16 register transposes; the d tail by masked loads, missing keys as zeros.
void pack_kt_avx512(i64 n, i64 d, const float* k, i64 ldk, float* kp) {
  for (i64 jp = 0; jp * kNR < n; ++jp) {
    float* panel = kp + jp * d * kNR;
    for (int half = 0; half < 2; ++half) {
      const i64 j0 = jp * kNR + half * 16;
      const i64 rows = n - j0 < 0 ? 0 : (n - j0 < 16 ? n - j0 : 16);
      for (i64 t0 = 0; t0 < d; t0 += 16) {
        const i64 cols = d - t0 < 16 ? d - t0 : 16;
        const __mmask16 mask = lanes(cols);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i)
          r[i] = i < rows ? _mm512_maskz_loadu_ps(mask, k + (j0 + i) * ldk + t0) : _mm512_setzero_ps();
        transpose16x16(r);
#pragma GCC unroll 16
        for (int t = 0; t < 16; ++t)
          if (t < cols) _mm512_storeu_ps(panel + (t0 + t) * kNR + half * 16, r[t]);
      }
    }
  }
}

void pack_v_avx512(i64 n, i64 dv, const float* v, i64 ldv, float* vp) {
  for (i64 s = 0; s * kPvNR < dv; ++s) {
    const TailMask4 mask(static_cast<int>(dv - s * kPvNR < kPvNR ? dv - s * kPvNR : kPvNR));
    const float* src = v + s * kPvNR;
    float* dst = vp + s * n * kPvNR;
    for (i64 j = 0; j < n; ++j)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q)
        _mm512_mask_storeu_ps(dst + j * kPvNR + 16 * q, mask.k[q],
                              _mm512_maskz_loadu_ps(mask.k[q], src + j * ldv + 16 * q));
  }
}

float rowmax_avx512(const float* x, i64 n) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 m0 = ninf, m1 = ninf;
  i64 j = 0;
  // max_ps(a, b) returns b when either is NaN: with the running max second, NaN is ignored.
  for (; j + 32 <= n; j += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + j), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + j + 16), m1);
  }
  for (; j < n; j += 16) m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, lanes(n - j), x + j), m0);
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

float exp2_store_sum_avx512(float* x, i64 n, float m) {
  const __m512 vm = _mm512_set1_ps(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  i64 j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m512 e0 = exp2_avx512_rr1_p6(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
    const __m512 e1 = exp2_avx512_rr1_p6(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm));
    _mm512_storeu_ps(x + j, e0);
    _mm512_storeu_ps(x + j + 16, e1);
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; j < n; j += 16) {
    const __mmask16 mask = lanes(n - j);
    const __m512 e = exp2_avx512_rr1_p6(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + j), vm));
    _mm512_mask_storeu_ps(x + j, mask, e);
    s0 = _mm512_add_ps(s0, _mm512_maskz_mov_ps(mask, e));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void exp2_avx512(const float* x, float* y, i64 n) {
  i64 j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, exp2_avx512_rr1_p6(_mm512_loadu_ps(x + j)));
  if (j < n) {
    const __mmask16 mask = lanes(n - j);
    _mm512_mask_storeu_ps(y + j, mask, exp2_avx512_rr1_p6(_mm512_maskz_loadu_ps(mask, x + j)));
  }
}

}  // namespace

Ukernels avx512_ukernels() {
  return {Isa::avx512,    kMR,           kNR,
          kPvNR,          qk_avx512,     pv_avx512,
          pack_kt_avx512, pack_v_avx512, online_softmax_step<rowmax_avx512, exp2_store_sum_avx512>,
          exp2_avx512,    1.0f};
}

}  // namespace attn::fused
