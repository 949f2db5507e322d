// The AVX-512F register-resident loop: 16 chains of 16 lanes (16 of the 32 zmm
// registers). Compiled with -mavx512f.
#include "fma_loops.hpp"

#include <immintrin.h>

namespace attnbench {

namespace {

constexpr int kChains = 16;

float run_avx512(std::int64_t iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.5f + 0.01f * static_cast<float>(c));
  // a <- a·x + y converges to y / (1 - x) = 1: no overflow, no subnormals.
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  return total;
}

}  // namespace

FmaLoop fma_loop_avx512() {
  return {"avx512f", kChains * 16 * 2, nullptr, run_avx512};  // supported: fma_loops.cpp
}

}  // namespace attnbench
