// The decode loops written once over an ISA's vector traits V (simd/avx2.hpp, simd/avx512.hpp:
// W floats per register) and its register tiles; kernels_<isa>.cpp instantiates them with its
// flags. The contract is kernels.hpp's; kernels_scalar.cpp is the specification. Internal
// linkage (a unit per ISA: see simd/exp_poly.hpp).
//
// K and V elements of type T (float, f16, bf16) are read by V::load, which widens 16-bit
// storage exactly; all arithmetic is fp32. The logits take Q rows of any element type V::load
// reads: fp32 for every table, and bf16 for simd/avx512_bf16.hpp's pairs, whose "fma" is
// vdpbf16ps on 32 bf16 elements of Q and K as they lie in memory (kernels_avx512_bf16.cpp).
//
// Logits: a tile of QkRows query rows × 4 keys, one accumulator per (row, key) over d, finished
// four at a time by V::hsum4. Each K element is loaded once per tile and used by every row of
// it, so a GQA group reads a key row from memory once (the first row tile) and from L1 after.
// A pass of one row reads its keys one whole row after another instead (four accumulators a
// key), so K streams through memory in address order as the prefetchers like it.
// P·V: PvRows rows × PvVecs registers of columns (1 row × 8 registers when alone, half the
// rows × twice the registers for a pass of half as many rows: as many FMA chains): sums from
// zero, one FMA per key and column in key order, then O = alpha·O + sum by one FMA (the
// contract's sequence, whatever the tile), stored once per tile of keys. In a pass of one row,
// where a row of V takes several column tiles (AVX2: 2 at dv = 128), the first prefetches all
// of it. pv_scores runs that first tile and the next step's logits in one loop, a V row and a
// K row in turn: two address-order streams side by side, which one core reads faster than one
// stream at a time (docs/performance.md, "K and V side by side in one-row passes": AVX-512 fp32
// at d = 128 18-21 % more GB/s from DRAM, 16-bit 2-10 %, d = 256 7-15 %). Its loops over a row
// know d at compile time for the usual head sizes (with_head_size): from DRAM the pass reads
// faster the less it spends between its loads ("Head sizes known to the one-row loop").
//
// Measured on the Zen 5 of docs/performance.md (Nk 32768, H = Hkv = 8, d = 128, 1 thread, K/V
// from DRAM): a one-row pass reading 8 keys side by side and prefetching V per column tile took,
// as AVX2 code, f32/f16/bf16 10.0/5.8/5.9 ms against 7.7-8.0/4.1-4.2/4.3-4.6 now (2 column
// tiles: the second found V's other halves nowhere); AVX-512 f16 4.1 against 3.4 ms.
#pragma once

#include "decode/kernels.hpp"
#include "decode/plan.hpp"
#include "fused/ukernels_simd.hpp"

#include <immintrin.h>

namespace attn::decode {
namespace {

template <class V, int QkRows, int PvRows, int PvVecs>
struct SimdDecode {
  using Traits = V;
  using reg = typename V::reg;
  using mask = typename V::mask;
  static constexpr int W = V::W;

  /// Elements of T per 64-byte line: one prefetch per line read.
  template <class T>
  static constexpr i64 kLine = 64 / static_cast<i64>(sizeof(T));

  /// Asks for the 64-byte line at p (a hint; the loops spread these over their loads, one per
  /// line they read, so the requests overlap the arithmetic instead of queueing in a burst).
  static void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }
  /// The first `cols` elements of a row, a prefetch per line.
  template <class T>
  static void prefetch_row(const T* row, i64 cols) {
#pragma GCC unroll 16
    for (i64 u = 0; u < cols; u += kLine<T>) prefetch(row + u);
  }

  /// s[r·lds + u] = c · q_r · k_u for RR rows and KR keys (KR a multiple of 4, or 1); prefetches
  /// the rows pf + u·ldk for u < pfn alongside.
  template <int RR, int KR, class T, class Tq>
  static void scores_tile(const Tq* const* q, i64 d, const T* k, i64 ldk, float c, float* s, i64 lds, const T* pf,
                          i64 pfn) {
    reg acc[RR][KR];
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int u = 0; u < KR; ++u) acc[r][u] = V::zero();
    i64 t = 0;
    for (; t + W <= d; t += W) {
      reg kv[KR];
#pragma GCC unroll 8
      for (int u = 0; u < KR; ++u) kv[u] = V::load(k + u * ldk + t);
      if (t % kLine<T> == 0)
#pragma GCC unroll 8
        for (int u = 0; u < KR; ++u)
          if (u < pfn) prefetch(pf + u * ldk + t);
#pragma GCC unroll 8
      for (int r = 0; r < RR; ++r) {
        const reg qv = V::load(q[r] + t);
#pragma GCC unroll 8
        for (int u = 0; u < KR; ++u) acc[r][u] = V::fma(qv, kv[u], acc[r][u]);
      }
    }
    if (t < d) {  // masked lanes load as 0 and add nothing
      const mask m = V::first(d - t);
      if (t % kLine<T> == 0)
#pragma GCC unroll 8
        for (int u = 0; u < KR; ++u)
          if (u < pfn) prefetch(pf + u * ldk + t);
      reg kv[KR];
#pragma GCC unroll 8
      for (int u = 0; u < KR; ++u) kv[u] = V::load_masked(k + u * ldk + t, m);
#pragma GCC unroll 8
      for (int r = 0; r < RR; ++r) {
        const reg qv = V::load_masked(q[r] + t, m);
#pragma GCC unroll 8
        for (int u = 0; u < KR; ++u) acc[r][u] = V::fma(qv, kv[u], acc[r][u]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      if constexpr (KR % 4 == 0) {
#pragma GCC unroll 8
        for (int u = 0; u < KR; u += 4)
          _mm_storeu_ps(s + r * lds + u,
                        _mm_mul_ps(_mm_set1_ps(c), V::hsum4(acc[r][u], acc[r][u + 1], acc[r][u + 2], acc[r][u + 3])));
      } else {
        s[r * lds] = c * V::hsum(acc[r][0]);
      }
    }
  }

  /// q · k over d columns (D when not 0: with_head_size), k read whole in address order (four
  /// accumulators, W columns each in turn), left in a register for V::hsum4; prefetches the row
  /// pf (when not null) alongside.
  template <class T, class Tq, i64 D = 0>
  static reg key_dot(const Tq* q, i64 d_given, const T* k, const T* pf) {
    const i64 d = D != 0 ? D : d_given;
    reg acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    i64 t = 0;
    for (; t + 4 * W <= d; t += 4 * W) {
      if (pf)  // kLine divides 4·W for every ISA and element type
        for (i64 x = 0; x < 4 * W; x += kLine<T>) prefetch(pf + t + x);
#pragma GCC unroll 4
      for (int x = 0; x < 4; ++x) acc[x] = V::fma(V::load(q + t + x * W), V::load(k + t + x * W), acc[x]);
    }
#pragma GCC unroll 4
    for (int x = 0; x < 4 && t < d; ++x) {  // fewer than 4·W columns left: full registers, then masked
      if (pf && t % kLine<T> == 0) prefetch(pf + t);
      if (t + W <= d) {
        acc[x] = V::fma(V::load(q + t), V::load(k + t), acc[x]);
        t += W;
      } else {
        const mask m = V::first(d - t);
        acc[x] = V::fma(V::load_masked(q + t, m), V::load_masked(k + t, m), acc[x]);
        t = d;
      }
    }
    return V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3]));
  }

  /// s[u] = c · q · k_u for 4 keys, each read whole before the next (key_dot); prefetches the
  /// rows pf + u·ldk for u < pfn alongside.
  template <class T, class Tq>
  static void scores_one_row(const Tq* q, i64 d, const T* k, i64 ldk, float c, float* s, const T* pf, i64 pfn) {
    reg sum[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) sum[u] = key_dot(q, d, k + u * ldk, u < pfn ? pf + u * ldk : nullptr);
    _mm_storeu_ps(s, _mm_mul_ps(_mm_set1_ps(c), V::hsum4(sum[0], sum[1], sum[2], sum[3])));
  }

  template <class T, class Tq = float>
  static void scores(int rows, const Tq* const* q, i64 d, const T* k, i64 ldk, i64 n, float c, float* s, i64 lds,
                     Ahead<T> ahead) {
    // Prefetch rows for keys [j, j + KR): pointers formed only for rows below ahead.n.
    auto pf_n = [&](i64 j, i64 kr) { return ahead.n - j < 0 ? 0 : (ahead.n - j < kr ? ahead.n - j : kr); };
    auto pf_at = [&](i64 j) { return j < ahead.n ? ahead.rows + j * ldk : static_cast<const T*>(nullptr); };
    i64 j = 0;
    if (rows == 1)  // one row: 4 keys at a time, each read whole
      for (; j + 4 <= n; j += 4) scores_one_row(q[0], d, k + j * ldk, ldk, c, s + j, pf_at(j), pf_n(j, 4));
    // Keys outermost: a group of key rows stays in L1 across the row tiles; the first tile prefetches.
    auto keys = [&]<int KR>(i64 jj) {
      const T* kj = k + jj * ldk;
      const T* pf = pf_at(jj);
      i64 pfn = pf_n(jj, KR);
      int r = 0;
      for (; r + QkRows <= rows; r += QkRows, pfn = 0)
        scores_tile<QkRows, KR>(q + r, d, kj, ldk, c, s + r * lds + jj, lds, pf, pfn);
      if (r < rows)
        fused::with_rows<QkRows>(
            rows - r, [&]<int M>() { scores_tile<M, KR>(q + r, d, kj, ldk, c, s + r * lds + jj, lds, pf, pfn); });
    };
    for (; j + 4 <= n; j += 4) keys.template operator()<4>(j);
    for (; j < n; ++j) keys.template operator()<1>(j);
  }

  /// Columns [c0, c0 + W·U) of RR rows (the last register holding only the lanes in `last`
  /// when `partial`): a = Σ_j p_j · v_j from zero in key order, then o = alpha·o + a; prefetches
  /// ahead's rows alongside: their first `whole` columns when kWholeRows, else these columns.
  template <int RR, int U, bool kPartial, bool kWholeRows, class T>
  static void pv_tile(const float* p, i64 ldp, const T* v, i64 ldv, i64 n, float* const* o, i64 c0, const float* alpha,
                      mask last, Ahead<T> ahead, i64 whole) {
    auto ld = [&](const auto* x, int u) { return kPartial && u == U - 1 ? V::load_masked(x, last) : V::load(x); };
    reg acc[RR][U];
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[r][u] = V::zero();
    for (i64 j = 0; j < n; ++j) {
      const T* vj = v + j * ldv + c0;
      if (j < ahead.n) {
        if constexpr (kWholeRows)
          prefetch_row(ahead.rows + j * ldv, whole);
        else
#pragma GCC unroll 8
          for (int u = 0; u < U * W; u += kLine<T>) prefetch(ahead.rows + j * ldv + c0 + u);
      }
      // Each register of V is used by every row as soon as it is loaded: a 16-bit V register is a
      // load and a widening, and holding all U of them beside the RR·U sums needs more than AVX2's
      // 16 registers (a sum went to the stack: AVX2 bf16 one-row P·V took twice f16's time).
      reg pb[RR];
#pragma GCC unroll 8
      for (int r = 0; r < RR; ++r) pb[r] = V::broadcast(p + r * ldp + j);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        const reg vv = ld(vj + W * u, u);
#pragma GCC unroll 8
        for (int r = 0; r < RR; ++r) acc[r][u] = V::fma(pb[r], vv, acc[r][u]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      const reg a = V::set1(alpha[r]);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        float* dst = o[r] + c0 + W * u;
        const reg out = V::fma(a, ld(dst, u), acc[r][u]);
        if (kPartial && u == U - 1)
          V::store_masked(dst, last, out);
        else
          V::store(dst, out);
      }
    }
  }

  template <int RR, class T>
  [[gnu::always_inline]] static void pv_rows(const float* p, i64 ldp, const T* v, i64 ldv, i64 n, i64 dv,
                                             float* const* o, const float* alpha, Ahead<T> ahead) {
    const mask all = V::first(W);
    // One row: its first column tile prefetches whole rows of V (memory sees V in address order),
    // the others nothing. More rows (short steps, in L1): each tile its own columns; whole rows
    // from the first tile made AVX2 GQA groups of 4 rows 27 % slower (fp32, Nk 32768, 2026-12-01).
    i64 c0 = 0;
    auto tile = [&]<int U, bool kPartial>(mask last) {
      if constexpr (RR == 1) {
        if (c0 == 0)
          pv_tile<RR, U, kPartial, true>(p, ldp, v, ldv, n, o, c0, alpha, last, ahead, dv);
        else
          pv_tile<RR, U, kPartial, false>(p, ldp, v, ldv, n, o, c0, alpha, last, {}, 0);
      } else {
        pv_tile<RR, U, kPartial, false>(p, ldp, v, ldv, n, o, c0, alpha, last, ahead, 0);
      }
      c0 += U * W;
    };
    // Wider tiles first where the pass has fewer rows than a tile, so it keeps its FMA chains: one
    // row 8 registers of columns, half a tile's rows twice PvVecs.
    constexpr int kWide = RR == 1 ? kOneRowPvVecs : 2 * RR <= PvRows ? 2 * PvVecs : PvVecs;
    if constexpr (kWide > PvVecs)
      while (c0 + kWide * W <= dv) tile.template operator()<kWide, false>(all);
    while (c0 + PvVecs * W <= dv) tile.template operator()<PvVecs, false>(all);
    while (c0 + W <= dv) tile.template operator()<1, false>(all);
    if (c0 < dv) tile.template operator()<1, true>(V::first(dv - c0));
  }

  template <class T>
  static void pv(int rows, const float* p, i64 ldp, const T* v, i64 ldv, i64 n, i64 dv, float* const* o,
                 const float* alpha, Ahead<T> ahead) {
    ahead.n = ahead.n < n ? ahead.n : n;
    int r = 0;
    for (; r + PvRows <= rows; r += PvRows, ahead.n = 0)  // the first row tile prefetches
      pv_rows<PvRows, T>(p + r * ldp, ldp, v, ldv, n, dv, o + r, alpha + r, ahead);
    if (r < rows)
      fused::with_rows<PvRows>(
          rows - r, [&]<int M>() { pv_rows<M, T>(p + r * ldp, ldp, v, ldv, n, dv, o + r, alpha + r, ahead); });
  }

  /// One row, two steps in one loop (kernels.hpp, Loops::pv_scores): P·V of the keys [0, npv) of
  /// one step and the logits of the keys [0, nsc) of the next, a V row and a K row in turn. The
  /// arithmetic is pv's and scores' (the first kOneRowPvVecs registers of columns here, or half
  /// as many where dv is shorter, key by key as pv_tile does; the columns past them and the keys
  /// past the shorter step by pv_rows and scores themselves).
  template <class T>
  static void pv_scores(const float* p, const T* v, i64 ldv, i64 npv, i64 dv, float* o, float alpha, Ahead<T> v_ahead,
                        const float* q, i64 d, const T* k, i64 ldk, i64 nsc, float c, float* s, Ahead<T> k_ahead) {
    pv_scores_by<SimdDecode>(p, v, ldv, npv, dv, o, alpha, v_ahead, q, d, k, ldk, nsc, c, s, k_ahead);
  }

  /// pv_scores with the logits of Dot's loops (Dot::scores, Dot::key_dot) over Q rows of type Tq:
  /// this table's own for Loops::pv_scores, the bf16 pairs' for the vdpbf16ps logits
  /// (kernels_avx512_bf16.cpp). P·V is this table's either way.
  template <class Dot, class T, class Tq>
  static void pv_scores_by(const float* p, const T* v, i64 ldv, i64 npv, i64 dv, float* o, float alpha,
                           Ahead<T> v_ahead, const Tq* q, i64 d, const T* k, i64 ldk, i64 nsc, float c, float* s,
                           Ahead<T> k_ahead) {
    constexpr int kNarrow = kOneRowPvVecs / 2;
    if (dv < kNarrow * W) {  // no tile of columns to read beside K
      pv<T>(1, p, 1, v, ldv, npv, dv, &o, &alpha, v_ahead);
      return Dot::template scores<T, Tq>(1, &q, d, k, ldk, nsc, c, s, 1, k_ahead);
    }
    // Columns of V beside K: kOneRowPvVecs registers, or half as many where a row is shorter
    // (AVX-512 at d = 64).
    with_head_size(d == dv ? d : 0, [&]<i64 D>() {
      auto run = [&]<int U>() {
        pv_scores_sized<Dot, T, Tq, D, U>(p, v, ldv, npv, dv, o, alpha, v_ahead, q, d, k, ldk, nsc, c, s, k_ahead);
      };
      if constexpr (D != 0)
        run.template operator()<D >= kOneRowPvVecs * W ? kOneRowPvVecs : kNarrow>();
      else if (dv >= kOneRowPvVecs * W)
        run.template operator()<kOneRowPvVecs>();
      else
        run.template operator()<kNarrow>();
    });
  }

  /// f.template operator()<D>() with D = d where d is a head size models use, else D = 0 (the
  /// loops take d at run time). With D known the loops over a row unroll, their prefetches
  /// included; a prefetch loop costs three more instructions a line, and a one-row pass at
  /// d = 128 spends about as many on them as on its loads and FMAs.
  template <class F>
  static void with_head_size(i64 d, F&& f) {
    switch (d) {
      case 64:
        return f.template operator()<64>();
      case 128:
        return f.template operator()<128>();
      case 256:
        return f.template operator()<256>();
      default:
        return f.template operator()<0>();
    }
  }

  /// pv_scores where d = dv = D, or D = 0 and any d, with U registers of columns beside K
  /// (dv >= U · W).
  template <class Dot, class T, class Tq, i64 D, int U>
  static void pv_scores_sized(const float* p, const T* v, i64 ldv, i64 npv, i64 dv_given, float* o, float alpha,
                              Ahead<T> v_ahead, const Tq* q, i64 d_given, const T* k, i64 ldk, i64 nsc, float c,
                              float* s, Ahead<T> k_ahead) {
    const i64 d = D != 0 ? D : d_given, dv = D != 0 ? D : dv_given;
    reg acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = V::zero();
    auto pv_key = [&](i64 j) {
      if (j < v_ahead.n) prefetch_row(v_ahead.rows + j * ldv, dv);
      const reg pb = V::broadcast(p + j);
      const T* vj = v + j * ldv;
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = V::fma(pb, V::load(vj + W * u), acc[u]);
    };
    i64 j = 0;
    for (; j + 4 <= npv && j + 4 <= nsc; j += 4) {
      typename Dot::reg sum[4];
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u) {
        sum[u] = Dot::template key_dot<T, Tq, D>(q, d, k + (j + u) * ldk,
                                                 j + u < k_ahead.n ? k_ahead.rows + (j + u) * ldk : nullptr);
        pv_key(j + u);
      }
      _mm_storeu_ps(s + j, _mm_mul_ps(_mm_set1_ps(c), Dot::Traits::hsum4(sum[0], sum[1], sum[2], sum[3])));
    }
    for (i64 jv = j; jv < npv; ++jv) pv_key(jv);
    const reg a = V::set1(alpha);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) V::store(o + W * u, V::fma(a, V::load(o + W * u), acc[u]));
    if (dv > U * W) {  // the other columns: V's rows are in cache now, nothing to prefetch
      float* rest = o + U * W;
      pv<T>(1, p, 1, v + U * W, ldv, npv, dv - U * W, &rest, &alpha, {});
    }
    if (j < nsc) {
      const Ahead<T> later = j < k_ahead.n ? Ahead<T>{k_ahead.rows + j * ldk, k_ahead.n - j} : Ahead<T>{};
      Dot::template scores<T, Tq>(1, &q, d, k + j * ldk, ldk, nsc - j, c, s + j, 1, later);
    }
  }

  template <class T>
  static Loops<T> loops() {
    return {scores<T>, pv<T>, pv_scores<T>};
  }
  static Kernels table(Isa isa) {
    return {isa, loops<float>(), loops<f16>(), loops<bf16>()};
  }
};

}  // namespace
}  // namespace attn::decode
