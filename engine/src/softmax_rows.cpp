// The vectorisable stable row softmax used by the blas path.
#include <attn/softmax.hpp>

#include <cmath>
#include <limits>

namespace attn::softmax {

float stable_inplace(float* x, std::size_t n) noexcept {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float m = kNegInf;
  bool nan = false;
  for (std::size_t j = 0; j < n; ++j) {
    m = x[j] > m ? x[j] : m;
    nan |= x[j] != x[j];
  }
  if (nan || m == kNegInf) {  // NaN poisons the row; an all -inf row has no mass
    const float fill = nan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    for (std::size_t j = 0; j < n; ++j) x[j] = fill;
    return nan ? fill : kNegInf;
  }
  if (m == INFINITY) {  // inf - inf: the reference's answer is NaN as well
    for (std::size_t j = 0; j < n; ++j) x[j] = std::numeric_limits<float>::quiet_NaN();
    return std::numeric_limits<float>::quiet_NaN();
  }
  float sum = 0.0f;
  for (std::size_t j = 0; j < n; ++j) {  // fused: store exp(x - max) and sum it
    const float e = std::exp(x[j] - m);
    x[j] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  for (std::size_t j = 0; j < n; ++j) x[j] *= inv;
  return m + std::log(sum);
}

}  // namespace attn::softmax
