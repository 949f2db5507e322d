// Which decode table runs: the one matching the fused kernel's ISA, so ATTN_ISA (read by
// fused/cpu.cpp) and fused::force_isa choose both.
#include "decode/kernels.hpp"

namespace attn::decode {

const Kernels& kernels_for(Isa isa) {
  static const Kernels scalar = scalar_kernels();
  if (isa == Isa::scalar) return scalar;
  // Built on first use, and only asked for once the fused dispatch has seen the ISA in cpuid.
  if (isa == Isa::avx512) {
    static const Kernels avx512 = [] {
      Kernels t = avx512_kernels();
      // vdpbf16ps for bf16 Q and K: exactly where the fused table has its bf16 S (engine/src/dispatch.cpp).
      if (const fused::Ukernels* uk = fused::ukernels_for(Isa::avx512); uk != nullptr && uk->bf16_dot.qk != nullptr) {
        t.scores_bf16_dot = avx512_bf16_scores();
        t.pv_scores_bf16_dot = avx512_bf16_pv_scores();
      }
      return t;
    }();
    return avx512;
  }
  static const Kernels avx2 = avx2_kernels();
  return avx2;
}

}  // namespace attn::decode
