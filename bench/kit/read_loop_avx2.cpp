// The AVX2 streaming read loop (read_loop_simd.inl on simd/avx2.hpp). Compiled with the
// engine's AVX2 flags; runs only where cpuid said AVX2 (read_bandwidth.cpp).
#include "read_loop_simd.inl"
#include "read_loops.hpp"
#include "simd/avx2.hpp"

float attnbench::read_loop_avx2(const float* x, std::size_t n, std::size_t ahead, int streams) {
  return read_loop<attn::simd::Avx2>(x, n, ahead, streams);
}
