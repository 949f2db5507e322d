// What this CPU can run, read from cpuid once: the one place the engine asks.
// (GCC's __builtin_cpu_supports also checks XGETBV, i.e. that the OS saves the
// wider registers.) The fused kernel's dispatch, the softmax kernels and the
// blas path's OpenBLAS diagnosis all read these flags.
#pragma once

namespace attn::cpu {

struct Features {
  bool avx2_fma = false;    ///< AVX2 and FMA
  bool avx512f = false;     ///< AVX-512 Foundation
  bool avx512_skx = false;  ///< AVX-512 F, VL, BW and DQ (Skylake-SP and later), with AVX2 and FMA
};

/// Detected on first use, thread-safely.
const Features& features() noexcept;

}  // namespace attn::cpu
