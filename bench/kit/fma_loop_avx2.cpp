// The AVX2+FMA register-resident loop: 12 chains of 8 lanes (12 of the 16 ymm
// registers; two more hold x and y). Compiled with -mavx2 -mfma.
#include "fma_loops.hpp"

#include <immintrin.h>

namespace attnbench {

namespace {

constexpr int kChains = 12;

float run_avx2(std::int64_t iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.5f + 0.01f * static_cast<float>(c));
  // a <- a·x + y converges to y / (1 - x) = 1: no overflow, no subnormals.
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.001f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  return total;
}

}  // namespace

FmaLoop fma_loop_avx2() {
  return {"avx2+fma", kChains * 8 * 2, nullptr, run_avx2};  // supported: fma_loops.cpp
}

}  // namespace attnbench
