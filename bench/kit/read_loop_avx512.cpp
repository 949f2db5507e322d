// The AVX-512 streaming read loop (read_loop_simd.inl on simd/avx512.hpp). Compiled with the
// engine's AVX-512 flags; runs only where cpuid said AVX-512 (read_bandwidth.cpp).

// GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized inside its unmasked intrinsics
// (_mm512_undefined_ps as the pass-through; GCC PR 105593), as in the engine's AVX-512 units.
#if !defined(__clang__)  // a GCC-only warning; clang rejects the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "read_loop_simd.inl"
#include "read_loops.hpp"
#include "simd/avx512.hpp"

float attnbench::read_loop_avx512(const float* x, std::size_t n, std::size_t ahead, int streams) {
  return read_loop<attn::simd::Avx512>(x, n, ahead, streams);
}
