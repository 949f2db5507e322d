// The AVX-512 BF16 S path (Ukernels::Bf16Dot): S = scale · Q Kᵀ from bf16 Q and K by vdpbf16ps,
// on ukernels_simd.hpp's Q Kᵀ tile and panel packing over simd/avx512_bf16.hpp's traits (16 lanes
// of bf16 pairs), at the avx512 tiling. Compiled alone with -mavx512bf16 (sources.cmake); attached
// to the avx512 table by dispatch.cpp only where cpuid reports AVX512_BF16.
//
// Why only S: a step of the 6×32 tile does 12 vdpbf16ps, each two fp32 FMAs' worth of products,
// and the packed Kᵀ and Q are half the bytes. P V stays fp32: rounding P to bf16 would cost 2^-9
// relative per weight, far past the accuracy rule (docs/api.md), so at best the Q Kᵀ half of
// the work runs twice as fast (docs/performance.md, "bf16 Q Kᵀ by vdpbf16ps").

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized inside its unmasked intrinsics
// (ukernel_avx512.cpp says more).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "fused/tiling.hpp"
#include "fused/ukernels_simd.hpp"
#include "simd/avx512_bf16.hpp"

#include <cstring>

namespace attn::fused {

namespace {

using Pairs = simd::Avx512Bf16Pairs;
constexpr Tiling kTiling = tiling(Isa::avx512);
constexpr int kW = Pairs::W, kMR = kTiling.mr, kNR = kTiling.nr;
using Simd = SimdUkernels<Pairs, kMR, kNR / kW, kTiling.pv_nr / kW>;

i64 pairs(i64 d) {
  return (d + 1) / 2;
}

void pack_q(i64 rows, i64 d, const bf16* q, i64 ldq, float* qp) {
  const i64 dp = pairs(d);
  for (i64 ip = 0; ip * kMR < rows; ++ip) {
    float* panel = qp + ip * kMR * d;
    for (i64 r = 0; r < kMR; ++r) {
      const i64 row = ip * kMR + r;
      const bf16* src = q + row * ldq;
      for (i64 p = 0; p < dp; ++p) {
        std::uint32_t pair = 0;
        if (row < rows) pair = src[2 * p].bits | (2 * p + 1 < d ? std::uint32_t{src[2 * p + 1].bits} << 16 : 0u);
        std::memcpy(panel + p * kMR + r, &pair, sizeof pair);
      }
    }
  }
}

void pack_kt(i64 n, i64 d, const bf16* k, i64 ldk, float* kp) {
  Simd::pack_panels(n, pairs(d), d * kNR, kp, [=](i64 j, i64 t0, i64, Pairs::mask) {
    return Pairs::load_pairs(k + j * ldk + 2 * t0, d - 2 * t0);
  });
}

void qk(i64 d, const float* qp, const float* kp, float* s, i64 lds, int m, int n, float scale) {
  with_rows<kMR>(m, [&]<int M>() { Simd::qk_tile<M, true, 2>(pairs(d), qp, kp, s, lds, n, scale); });
}

}  // namespace

Ukernels::Bf16Dot avx512_bf16_dot() {
  static constexpr simd::KernelName kName = simd::KernelName()
                                            << "bf16_qk_" << kMR << "x" << kNR << "__" << Pairs::kFmaName;
  return {pack_q, pack_kt, qk, kName.s};
}

}  // namespace attn::fused
