// The AVX2 + FMA microkernel table: ukernels_simd.hpp on simd/avx2.hpp's traits. This unit
// alone is compiled with -mavx2 -mfma (sources.cmake) and only called after dispatch.cpp saw both.
//
// Register tiles (tiling.hpp) 6×16 for Q Kᵀ and P V: 6 rows × 2 ymm = 12 accumulators, 2 loads
// of the streamed operand and 6 broadcasts per step, leaving 2 of the 16 ymm for the loaded
// vectors and 1 for the broadcast (BLIS haswell sgemm_6x16).
#include "fused/tiling.hpp"
#include "fused/ukernels_simd.hpp"
#include "simd/avx2.hpp"

namespace attn::fused {

namespace {
constexpr Tiling kTiling = tiling(Isa::avx2);
constexpr int kW = simd::Avx2::W;
static_assert(kTiling.nr % kW == 0 && kTiling.pv_nr % kW == 0, "tiles of whole ymm registers");
}  // namespace

Ukernels avx2_ukernels() {
  return SimdUkernels<simd::Avx2, kTiling.mr, kTiling.nr / kW, kTiling.pv_nr / kW>::table(Isa::avx2, 1.0f);
}

}  // namespace attn::fused
