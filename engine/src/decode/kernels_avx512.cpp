// The decode loops for AVX-512: kernels_simd.hpp on simd/avx512.hpp's traits, the AVX2 design
// at twice the width and twice the rows per tile. Compiled alone with the AVX-512 flags
// (sources.cmake); runs only after the fused dispatch saw AVX-512F/VL/BW/DQ in cpuid.
//
// Tiles (32 zmm): logits 4 rows × 4 keys = 16 accumulators + 4 key registers + 1 query
// register; P·V 4 rows × 4 registers (64 columns) = 16 accumulators + 4 of V (a pass of 2 rows:
// 2 × 8). A GQA group of 4 query heads is one tile: each K and V element is loaded into a
// register once for all 4.

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized inside its unmasked
// intrinsics (_mm512_undefined_ps as the pass-through; GCC PR 105593).
#if !defined(__clang__)  // a GCC-only warning; clang (TSan, fuzz builds) rejects the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "decode/kernels_simd.hpp"
#include "simd/avx512.hpp"

namespace attn::decode {

Kernels avx512_kernels() {
  return SimdDecode<simd::Avx512, 4, 4, 4>::table(Isa::avx512);
}

}  // namespace attn::decode
