// The AVX-512 microkernel table: ukernels_simd.hpp on simd/avx512.hpp's traits, the AVX2
// design at twice the width. Compiled alone with the AVX-512 flags (sources.cmake); called
// only after dispatch.cpp saw AVX-512F/VL/BW/DQ in cpuid with the OS saving zmm state.
//
// Tiles (tiling.hpp): Q Kᵀ 6×32: 6 rows × 2 zmm = 12 accumulators (FMA latency 4 × 2 ports needs at least
// 8 in flight), 2 loads of the streamed operand and 6 broadcasts per step.
// P V tile 6×64: 24 accumulators (of 32 zmm), 4 loads of V and 6 broadcasts of P per 24 FMAs:
// half the broadcasts per FMA of a 6×32 tile, whose P rows (6 streams, a row of S apart) kept
// it ~10 % slower than Q Kᵀ (measured: N = 4096, d = 128, min of 8 runs 67.3 → 60.2 ms).
// exp2: 2^n by vscalefps (simd/exp_poly.hpp), bitwise equal to AVX2's on [-126, 0].

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized inside its unmasked
// intrinsics (_mm512_undefined_ps as the pass-through; GCC PR 105593).
#if !defined(__clang__)  // a GCC-only warning; clang (TSan, fuzz builds) rejects the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "fused/tiling.hpp"
#include "fused/ukernels_simd.hpp"
#include "simd/avx512.hpp"

namespace attn::fused {

namespace {
constexpr Tiling kTiling = tiling(Isa::avx512);
constexpr int kW = simd::Avx512::W;
static_assert(kTiling.nr % kW == 0 && kTiling.pv_nr % kW == 0, "tiles of whole zmm registers");
}  // namespace

Ukernels avx512_ukernels() {
  return SimdUkernels<simd::Avx512, kTiling.mr, kTiling.nr / kW, kTiling.pv_nr / kW>::table(Isa::avx512, 1.0f);
}

}  // namespace attn::fused
