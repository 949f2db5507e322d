// The decode loops for AVX2 + FMA: kernels_simd.hpp on simd/avx2.hpp's traits. Only this
// translation unit gets -mavx2 -mfma (sources.cmake); it runs only after the fused dispatch
// saw both in cpuid.
//
// Tiles (16 ymm): logits 2 rows × 4 keys = 8 accumulators + 4 key registers + 1 query
// register; P·V 4 rows × 2 registers (16 columns) = 8 accumulators + 2 value registers (a pass
// of 2 rows: 2 × 4), so 8 FMA chains hide the FMA latency (4 cycles × 2 ports) in both. P·V
// rows are 4, not 2: a GQA group of 4 rows reads each V row once per column tile instead of
// twice and loads and stores O half as often. Measured on the Zen 5 of docs/performance.md
// (fp32, Nk 32768, Hkv 8, 1 thread, K/V from DRAM, min of 8 alternated rounds in one
// process): H = 32 13.0 -> 10.6 ms, H = 64 20.4 -> 15.7; 16-bit K/V and H = 16 level.
#include "decode/kernels_simd.hpp"
#include "simd/avx2.hpp"

namespace attn::decode {

Kernels avx2_kernels() {
  return SimdDecode<simd::Avx2, 2, 4, 2>::table(Isa::avx2);
}

}  // namespace attn::decode
