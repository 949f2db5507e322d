// Which decode table runs: the one matching the fused kernel's ISA, so ATTN_ISA (read by
// fused/cpu.cpp) and fused::force_isa choose both.
#include "cpu_features.hpp"
#include "decode/kernels.hpp"

namespace attn::decode {

const Kernels& kernels_for(Isa isa) {
  static const Kernels scalar = scalar_kernels();
  if (isa == Isa::scalar) return scalar;
  // Built on first use, and only asked for once the fused dispatch has seen the ISA in cpuid.
  if (isa == Isa::avx512) {
    static const Kernels avx512 = [] {
      Kernels t = avx512_kernels();
      // vdpbf16ps for bf16 Q and K: where the fused table has it (engine/src/dispatch.cpp).
      if (cpu::features().avx512_bf16) t.scores_bf16_dot = avx512_bf16_scores();
      return t;
    }();
    return avx512;
  }
  static const Kernels avx2 = avx2_kernels();
  return avx2;
}

}  // namespace attn::decode
