// The decode logits from bf16 Q and K by vdpbf16ps: kernels_simd.hpp's loops on
// simd/avx512_bf16.hpp's pairs read straight from the rows (32 elements a register, nothing
// packed), at the avx512 table's tiles (4 rows × 4 keys; one row: 4 keys, each read whole).
// Compiled alone with -mavx512bf16 (sources.cmake); dispatch.cpp attaches it to the avx512
// table only where cpuid reports AVX512_BF16.
//
// A pass of one row runs the avx512 table's pair loop with these logits (pv_scores_by): P·V of a
// step beside the next step's logits, as for the other dtypes.
//
// Why: a GQA pass of 4 rows is bound by its arithmetic on a core that reads memory fast
// (docs/performance.md, decode), and half of it is the logits; vdpbf16ps does two products a
// lane, and K needs no widening. P·V stays fp32 (a bf16 P breaks the accuracy rule: docs/api.md).

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized inside its unmasked intrinsics
// (kernels_avx512.cpp says more).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "decode/kernels_simd.hpp"
#include "simd/avx512_bf16.hpp"

namespace attn::decode {

using Bf16Dot = SimdDecode<simd::Avx512Bf16Rows, 4, 4, 4>;

ScoresBf16Dot avx512_bf16_scores() {
  return Bf16Dot::scores<bf16, bf16>;
}

/// The pair loop of a one-row pass (kernels_simd.hpp): the avx512 table's P·V beside these logits.
PvScoresBf16Dot avx512_bf16_pv_scores() {
  return SimdDecode<simd::Avx512, 4, 4, 4>::pv_scores_by<Bf16Dot, bf16, bf16>;
}

}  // namespace attn::decode
