// The decode path's two inner loops, one table per ISA (decode/driver.cpp is the
// rest). They read K and V rows where the caller keeps them: no packing, each row
// once per pass, shared by every query row of the pass (all the query heads of a
// GQA group and all Nq rows).
//
// kernels_scalar.cpp is the readable specification; the SIMD tables are one template
// (kernels_simd.hpp) over an ISA's vector traits (simd/avx2.hpp, simd/avx512.hpp) and must
// agree with it within fp32 rounding (an fp32 dot product and an fp32 sum per element).
// K and V may each be fp32, f16 or bf16 (attn/dtype.hpp): a table per element type, which
// widens on load (the SIMD traits' load, the scalar to_float) and computes in fp32.
//
// Shared rules: pointers need only float alignment; reads and writes stay inside
// the elements named (tails use masked loads and stores, never an over-read); no
// allocation, no exceptions, no global state.
#pragma once

#include "fused/ukernels.hpp"

#include <attn/dtype.hpp>

#include <type_traits>

namespace attn::decode {

using fused::i64;
using fused::Isa;

/// Rows to prefetch while a loop runs, a fixed distance ahead of the rows it reads: row j at
/// rows + j·ld (the ld of the rows read) for j < n. A hint: never dereferenced, and no pointer
/// is formed past row n − 1 (n = 0: nothing to prefetch).
template <class T>
struct Ahead {
  const T* rows = nullptr;
  i64 n = 0;
};

/// The two loops for K and V elements of type T (float, f16, bf16): a 16-bit element is
/// widened to fp32 exactly when it is loaded; everything else is fp32.
template <class T>
struct Loops {
  /// Logits of `rows` query rows against n key rows, times c:
  ///   s[r·lds + j] = c · Σ_{t<d} q[r][t] · k[j·ldk + t]   for r < rows, j < n.
  /// Reads exactly q[r][t < d] and key rows j < n (t < d); ldk may be anything >= 0. Prefetches
  /// the first d columns of ahead's rows j < min(ahead.n, n), each with key row j.
  /// Accuracy: an fp32 dot product of d terms (γ_d Σ|q k|), then one rounding for c.
  void (*scores)(int rows, const float* const* q, i64 d, const T* k, i64 ldk, i64 n, float c, float* s, i64 lds,
                 Ahead<T> ahead);

  /// The online-softmax rescale and P·V for `rows` output rows, in place:
  ///   a = 0, then a += p[r·ldp + j] · v[j·ldv + t] for j = 0, 1, …, n − 1 in that order, then
  ///   o[r][t] = alpha[r] · o[r][t] + a
  /// for r < rows, t < dv (fused multiply-adds in the SIMD tables, a multiply and an add in the
  /// scalar one). The step's keys are summed from zero and added to the rescaled O once, as the
  /// fused kernel's P·V does: added into the running O key by key, each rounding was against O's
  /// size (about 3× the error at a thousand keys, docs/api.md). Every element's arithmetic is
  /// this sequence whatever `rows` and the column tiles are, so a row computed alone, or a few
  /// columns at a time, gets the same bits as in a larger call (the masked-NaN path in driver.cpp
  /// relies on it). Reads exactly p[r·ldp + j < n], v rows j < n (t < dv) and alpha[r < rows].
  /// Prefetches the first dv columns of ahead's rows j < min(ahead.n, n), each with V row j.
  /// Accuracy: γ_{n+1} (|alpha o| + Σ_j |p_j v_j|).
  void (*pv)(int rows, const float* p, i64 ldp, const T* v, i64 ldv, i64 n, i64 dv, float* const* o, const float* alpha,
             Ahead<T> ahead);

  /// A pass of one row, two steps at once: pv(1, p, 1, v, ldv, npv, dv, &o, &alpha, v_ahead) for
  /// one step's keys and scores(1, &q, d, k, ldk, nsc, c, s, 1, k_ahead) for the next step's, in
  /// one loop that reads a V row and a K row in turn where it can, so memory sees two streams
  /// side by side instead of one after the other. Bitwise those two calls: every element's
  /// arithmetic is theirs, in their order.
  void (*pv_scores)(const float* p, const T* v, i64 ldv, i64 npv, i64 dv, float* o, float alpha, Ahead<T> v_ahead,
                    const float* q, i64 d, const T* k, i64 ldk, i64 nsc, float c, float* s, Ahead<T> k_ahead);
};

/// Logits from bf16 Q and K rows as they are, by vdpbf16ps (kernels_avx512_bf16.cpp): Loops::scores'
/// contract with q's rows in bf16, and the accuracy of fused's bf16 Q·Kᵀ (fused/ukernels.hpp,
/// Bf16Dot): each product of two bf16 values exact, d fp32 additions (γ_d Σ|q k|) in another
/// order than the widened loop's, one rounding for c; vdpbf16ps flushes denormal inputs, products
/// and sums to 0 (simd/avx512_bf16.hpp).
using ScoresBf16Dot = void (*)(int rows, const attn::bf16* const* q, i64 d, const attn::bf16* k, i64 ldk, i64 n,
                               float c, float* s, i64 lds, Ahead<attn::bf16> ahead);
/// Loops<bf16>::pv_scores with the logits of ScoresBf16Dot (Q in bf16): bitwise pv(1, …) then
/// scores_bf16_dot(1, …), a V row and a K row in turn.
using PvScoresBf16Dot = void (*)(const float* p, const attn::bf16* v, i64 ldv, i64 npv, i64 dv, float* o, float alpha,
                                 Ahead<attn::bf16> v_ahead, const attn::bf16* q, i64 d, const attn::bf16* k, i64 ldk,
                                 i64 nsc, float c, float* s, Ahead<attn::bf16> k_ahead);

struct Kernels {
  Isa isa;
  Loops<float> for_f32;
  Loops<attn::f16> for_f16;
  Loops<attn::bf16> for_bf16;
  /// Set in the avx512 table exactly where the fused avx512 table has its bf16_dot (cpuid's
  /// AVX512_BF16, which ATTN_ISA and ATTN_BF16_DOT=off lower); null elsewhere.
  ScoresBf16Dot scores_bf16_dot = nullptr;
  PvScoresBf16Dot pv_scores_bf16_dot = nullptr;  ///< set with scores_bf16_dot

  /// The loops for K or V elements of type T.
  template <class T>
  const Loops<T>& loops() const {
    if constexpr (std::is_same_v<T, attn::f16>)
      return for_f16;
    else if constexpr (std::is_same_v<T, attn::bf16>)
      return for_bf16;
    else
      return for_f32;
  }
};

Kernels scalar_kernels();
Kernels avx2_kernels();
Kernels avx512_kernels();
/// The avx512 table's scores_bf16_dot and pv_scores_bf16_dot (only valid to call with AVX512_BF16).
ScoresBf16Dot avx512_bf16_scores();
PvScoresBf16Dot avx512_bf16_pv_scores();

/// The table for the ISA the fused kernel runs (ATTN_ISA and fused::force_isa apply to both).
const Kernels& kernels_for(Isa isa);

}  // namespace attn::decode
