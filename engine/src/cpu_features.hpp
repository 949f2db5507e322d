// What this CPU can run, read from cpuid once: the one place the engine asks.
// (GCC's __builtin_cpu_supports also checks XGETBV, i.e. that the OS saves the
// wider registers.) The kernel dispatch (dispatch.cpp: the fused microkernels and the
// softmax rows) and the blas path's OpenBLAS diagnosis read these flags.
//
// ATTN_ISA=scalar|avx2|avx512 lowers them: the process then behaves as a CPU whose widest
// ISA is that one (every SIMD routine, not only the fused kernel), which is how the suite
// runs as an AVX2-only machine on an AVX-512 one. A name that is unknown or wider than the
// CPU is ignored with a note on stderr, so a misspelt variable never crashes a run.
//
// ATTN_BF16_DOT=off turns off avx512_bf16 alone (the fused kernel's vdpbf16ps Q Kᵀ for bf16 Q
// and K then widens them to fp32 as on any other CPU); ATTN_ISA below avx512 turns it off too.
#pragma once

namespace attn::cpu {

struct Features {
  bool avx2_fma = false;     ///< AVX2, FMA and F16C
  bool avx512f = false;      ///< AVX-512 Foundation
  bool avx512_skx = false;   ///< AVX-512 F, VL, BW and DQ (Skylake-SP and later), with AVX2 and FMA
  bool avx512_bf16 = false;  ///< avx512_skx and AVX512_BF16 (vdpbf16ps: Cooper Lake, Sapphire Rapids, Zen 4)
};

/// Detected on first use, thread-safely, and lowered by ATTN_ISA.
const Features& features() noexcept;

/// The widest ISA the features allow, as ATTN_ISA spells it: "avx512", "avx2" or "scalar".
const char* widest_isa(const Features& f) noexcept;

/// Instruction sets the engine has kernels for, in increasing order of preference. Each has
/// its tables (fused microkernels, softmax rows: dispatch.cpp) and its tiling
/// (fused/tiling.hpp).
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };
inline constexpr int kIsaCount = 3;

/// Name as ATTN_ISA spells it ("scalar", "avx2", "avx512").
const char* isa_name(Isa isa);

/// Whether this process runs the ISA's kernels (features(), so ATTN_ISA lowers it too):
/// avx2 = AVX2 + FMA, avx512 = avx512_skx.
bool runs(Isa isa) noexcept;

}  // namespace attn::cpu
