// The AVX-512F instantiation of softmax_kernels.inl. Compiled with -mavx512f
// -mfma: nothing here may run before the dispatch (dispatch.cpp) chose AVX-512. Also
// compiled with -ffixed-xmm16 … -ffixed-xmm31 (engine/CMakeLists.txt): vzeroupper does not
// clean zmm16-31, and leaving them dirty slowed later libm calls ~100x here.
// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*(), which
// -Wuninitialized reports at every use (GCC PR 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "simd/avx512.hpp"
#include "softmax_kernels.inl"

namespace attn::softmax::simd {

RowKernels avx512_row_kernels() {
  return row_kernels<attn::simd::Avx512>();
}

}  // namespace attn::softmax::simd
