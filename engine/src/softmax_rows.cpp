// attn::softmax::stable_inplace: run-time dispatch to the vectorised row kernels
// of softmax_simd.hpp, and their portable scalar specification.
#include "cpu_features.hpp"
#include "softmax_simd.hpp"

#include <attn/softmax.hpp>

#include <limits>

namespace attn::softmax {

namespace simd {

RowStats stable_scalar(float* x, std::size_t n) noexcept {
  float m = -std::numeric_limits<float>::infinity();
  for (std::size_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  if (m == std::numeric_limits<float>::infinity()) return {m, std::numeric_limits<float>::quiet_NaN()};
  if (m == -std::numeric_limits<float>::infinity()) {
    for (std::size_t j = 0; j < n; ++j)
      if (x[j] != x[j]) return {m, x[j]};
    return {m, 0.0f};
  }
  float l = 0;
  for (std::size_t j = 0; j < n; ++j) {  // fused: store exp(x − m) and sum it
    x[j] = exp_p7(x[j] - m);
    l += x[j];
  }
  const float inv = 1.0f / l;
  for (std::size_t j = 0; j < n; ++j) x[j] *= inv;
  return {m, l};
}

bool have_avx2_fma() noexcept {
  return cpu::features().avx2_fma;
}

bool have_avx512f() noexcept {
  return cpu::features().avx512f && cpu::features().avx2_fma;
}

}  // namespace simd

namespace {

/// Rows shorter than this (1 MiB) stay in L2 through three passes and take the
/// three-pass kernel; longer rows take the blocked two-pass kernel, which streams
/// the row from memory twice instead of three times and overlaps that stream with
/// the exps. bench_softmax (docs/softmax-stability.md §10): the two are within
/// noise of each other from 16K to 256K floats; past L2 two passes win clearly.
constexpr std::size_t kTwoPassFrom = std::size_t{1} << 18;

}  // namespace

float stable_inplace(float* x, std::size_t n) noexcept {
  simd::RowStats s;
  if (simd::have_avx512f())
    s = n >= kTwoPassFrom ? simd::stable_avx512_2pass(x, n) : simd::stable_avx512_3pass(x, n);
  else if (simd::have_avx2_fma())
    s = n >= kTwoPassFrom ? simd::stable_avx2_2pass(x, n) : simd::stable_avx2_3pass(x, n);
  else
    s = simd::stable_scalar(x, n);
  if (s.l != s.l || s.m == std::numeric_limits<float>::infinity()) {  // NaN in the row, or inf − inf
    for (std::size_t j = 0; j < n; ++j) x[j] = std::numeric_limits<float>::quiet_NaN();
    return std::numeric_limits<float>::quiet_NaN();
  }
  if (s.l == 0) {  // only −inf (or n == 0): no mass, the masked-row contract
    for (std::size_t j = 0; j < n; ++j) x[j] = 0.0f;
    return -std::numeric_limits<float>::infinity();
  }
  return s.m + std::log(s.l);
}

}  // namespace attn::softmax
