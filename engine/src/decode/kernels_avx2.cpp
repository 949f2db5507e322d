// The decode loops for AVX2 + FMA: kernels_simd.hpp on simd/avx2.hpp's traits. Only this
// translation unit gets -mavx2 -mfma (sources.cmake); it runs only after the fused dispatch
// saw both in cpuid.
//
// Tiles (16 ymm): logits 2 rows × 4 keys = 8 accumulators + 4 key registers + 1 query
// register; P·V 2 rows × 4 registers (32 columns) = 8 accumulators, so 8 FMA chains hide the
// FMA latency (4 cycles × 2 ports) in both.
#include "decode/kernels_simd.hpp"
#include "simd/avx2.hpp"

namespace attn::decode {

Kernels avx2_kernels() {
  return SimdDecode<simd::Avx2, 2, 2, 4>::table(Isa::avx2);
}

}  // namespace attn::decode
