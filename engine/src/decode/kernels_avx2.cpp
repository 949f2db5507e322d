// The decode loops for AVX2 + FMA (kernels.hpp states the contract; kernels_scalar.cpp is
// the specification). Only this translation unit gets -mavx2 -mfma (sources.cmake); it runs
// only after the fused dispatch saw both in cpuid.
//
// Logits: a tile of 2 query rows × 4 keys (1 row × 8 keys when there is one row) = 8
// accumulators over d, so 8 FMA chains hide the FMA latency; each key row is loaded once per
// row pair (from memory for the first pair, from L1 after) and the sums are reduced 4 at a
// time by a hadd tree. P·V: 2 rows × 32 columns (1 row × 64) = 8 accumulators, loaded from
// O, scaled by alpha, then one FMA per key and column in key order (the contract's sequence).
#include "decode/kernels.hpp"

#include <immintrin.h>

namespace attn::decode {

namespace {

/// Lanes t < n of a ymm, for n in [0, 8].
inline __m256i lanes_below(i64 n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Eight K or V elements as fp32: the one place a K/V element is read (a 16-bit type
/// would convert here, F16C for f16, a shift for bf16). The masked form reads only lanes in `m`.
inline __m256 load_kv(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load_kv(const float* p, __m256i m) {
  return _mm256_maskload_ps(p, m);
}

/// The four lane sums of a, b, c, d as one __m128 {Σa, Σb, Σc, Σd}.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // per 128-bit half: {a, b, c, d} partial sums
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/// s[r·lds + u] = c · q_r · k_u for RR rows and KR keys (KR = 4, or 1 for the key tail).
template <int RR, int KR>
void scores_tile(const float* const* q, i64 d, const float* k, i64 ldk, float c, float* s, i64 lds) {
  __m256 acc[RR][KR];
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
    for (int u = 0; u < KR; ++u) acc[r][u] = _mm256_setzero_ps();
  i64 t = 0;
  for (; t + 8 <= d; t += 8) {
    __m256 kv[KR];
#pragma GCC unroll 8
    for (int u = 0; u < KR; ++u) kv[u] = load_kv(k + u * ldk + t);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      const __m256 qv = _mm256_loadu_ps(q[r] + t);
#pragma GCC unroll 8
      for (int u = 0; u < KR; ++u) acc[r][u] = _mm256_fmadd_ps(qv, kv[u], acc[r][u]);
    }
  }
  if (t < d) {  // masked lanes load as 0 and add nothing
    const __m256i m = lanes_below(d - t);
    __m256 kv[KR];
#pragma GCC unroll 8
    for (int u = 0; u < KR; ++u) kv[u] = load_kv(k + u * ldk + t, m);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      const __m256 qv = _mm256_maskload_ps(q[r] + t, m);
#pragma GCC unroll 8
      for (int u = 0; u < KR; ++u) acc[r][u] = _mm256_fmadd_ps(qv, kv[u], acc[r][u]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r) {
    if constexpr (KR % 4 == 0) {
#pragma GCC unroll 8
      for (int u = 0; u < KR; u += 4)
        _mm_storeu_ps(s + r * lds + u,
                      _mm_mul_ps(_mm_set1_ps(c), hsum4(acc[r][u], acc[r][u + 1], acc[r][u + 2], acc[r][u + 3])));
    } else {
      const __m256 z = _mm256_setzero_ps();
      s[r * lds] = c * _mm_cvtss_f32(hsum4(acc[r][0], z, z, z));
    }
  }
}

void scores_avx2_2x4(int rows, const float* const* q, i64 d, const float* k, i64 ldk, i64 n, float c, float* s,
                     i64 lds) {
  i64 j = 0;
  if (rows == 1)  // one row: 8 keys at a time, so 8 FMA chains hide the FMA latency
    for (; j + 8 <= n; j += 8) scores_tile<1, 8>(q, d, k + j * ldk, ldk, c, s + j, lds);
  for (; j + 4 <= n; j += 4) {  // keys outermost: a group of 4 key rows stays in L1 across the row pairs
    const float* kj = k + j * ldk;
    int r = 0;
    for (; r + 2 <= rows; r += 2) scores_tile<2, 4>(q + r, d, kj, ldk, c, s + r * lds + j, lds);
    if (r < rows) scores_tile<1, 4>(q + r, d, kj, ldk, c, s + r * lds + j, lds);
  }
  for (; j < n; ++j) {
    const float* kj = k + j * ldk;
    int r = 0;
    for (; r + 2 <= rows; r += 2) scores_tile<2, 1>(q + r, d, kj, ldk, c, s + r * lds + j, lds);
    if (r < rows) scores_tile<1, 1>(q + r, d, kj, ldk, c, s + r * lds + j, lds);
  }
}

/// Columns [c0, c0 + 8·U) of RR rows (the last ymm holding only the lanes in `last`):
/// o = alpha·o, then o += p_j · v_j for every key in order.
template <int RR, int U>
void pv_tile(const float* p, i64 ldp, const float* v, i64 ldv, i64 n, float* const* o, i64 c0, const float* alpha,
             __m256i last, bool partial) {
  __m256 acc[RR][U];
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r) {
    const __m256 a = _mm256_set1_ps(alpha[r]);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const float* src = o[r] + c0 + 8 * u;
      acc[r][u] = _mm256_mul_ps(a, partial && u == U - 1 ? _mm256_maskload_ps(src, last) : _mm256_loadu_ps(src));
    }
  }
  for (i64 j = 0; j < n; ++j) {
    __m256 vv[U];
    const float* vj = v + j * ldv + c0;
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) vv[u] = partial && u == U - 1 ? load_kv(vj + 8 * u, last) : load_kv(vj + 8 * u);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      const __m256 pb = _mm256_broadcast_ss(p + r * ldp + j);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[r][u] = _mm256_fmadd_ps(pb, vv[u], acc[r][u]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      float* dst = o[r] + c0 + 8 * u;
      if (partial && u == U - 1)
        _mm256_maskstore_ps(dst, last, acc[r][u]);
      else
        _mm256_storeu_ps(dst, acc[r][u]);
    }
}

template <int RR>
void pv_rows(const float* p, i64 ldp, const float* v, i64 ldv, i64 n, i64 dv, float* const* o, const float* alpha) {
  const __m256i all = _mm256_set1_epi32(-1);
  i64 c0 = 0;
  if constexpr (RR == 1)  // one row: 64 columns at a time, 8 FMA chains
    for (; c0 + 64 <= dv; c0 += 64) pv_tile<1, 8>(p, ldp, v, ldv, n, o, c0, alpha, all, false);
  for (; c0 + 32 <= dv; c0 += 32) pv_tile<RR, 4>(p, ldp, v, ldv, n, o, c0, alpha, all, false);
  for (; c0 + 8 <= dv; c0 += 8) pv_tile<RR, 1>(p, ldp, v, ldv, n, o, c0, alpha, all, false);
  if (c0 < dv) pv_tile<RR, 1>(p, ldp, v, ldv, n, o, c0, alpha, lanes_below(dv - c0), true);
}

void pv_avx2_2x32(int rows, const float* p, i64 ldp, const float* v, i64 ldv, i64 n, i64 dv, float* const* o,
                  const float* alpha) {
  int r = 0;
  for (; r + 2 <= rows; r += 2) pv_rows<2>(p + r * ldp, ldp, v, ldv, n, dv, o + r, alpha + r);
  if (r < rows) pv_rows<1>(p + r * ldp, ldp, v, ldv, n, dv, o + r, alpha + r);
}

}  // namespace

Kernels avx2_kernels() {
  return {Isa::avx2, scores_avx2_2x4, pv_avx2_2x32};
}

}  // namespace attn::decode
