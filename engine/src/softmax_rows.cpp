// attn::softmax::stable_inplace on the active ISA's row kernels (softmax_simd.hpp),
// and their portable scalar specification.
#include "simd/exp_poly.hpp"
#include "softmax_simd.hpp"

#include <attn/softmax.hpp>

#include <cmath>
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
    x[j] = attn::simd::exp_rr2_p7(x[j] - m);
    l += x[j];
  }
  const float inv = 1.0f / l;
  for (std::size_t j = 0; j < n; ++j) x[j] *= inv;
  return {m, l};
}

namespace {
void exp_scalar_array(const float* x, float* y, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) y[j] = attn::simd::exp_rr2_p7(x[j]);
}
}  // namespace

RowKernels scalar_row_kernels() {
  return {stable_scalar,
          stable_scalar,
          exp_scalar_array,
          {"f32_softmax_3pass__scalar_rr2_p7", "f32_softmax_3pass__scalar_rr2_p7", "f32_exp__scalar_rr2_p7"}};
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
  const simd::RowKernels& k = simd::active_row_kernels();
  const simd::RowStats s = n >= kTwoPassFrom ? k.two_pass(x, n) : k.three_pass(x, n);
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
