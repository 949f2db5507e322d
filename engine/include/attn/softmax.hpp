// Row softmax and log-sum-exp building blocks.
#pragma once

#include <cstddef>

namespace attn::softmax {

/// Stable in-place fp32 softmax of one row: max, one fused pass that stores
/// exp(x - max) and sums it, then a multiply by 1/sum. Returns the natural
/// log-sum-exp of the row. A -inf entry gets weight exactly 0; a row of only
/// -inf (or n == 0) becomes all 0 and returns -inf; a NaN anywhere makes the
/// row and the result NaN.
/// Accuracy: each weight within (n + 4)·u relative of exact softmax of the
/// given fp32 inputs (u = 2^-24), the same bound as the classic safe softmax.
float stable_inplace(float* x, std::size_t n) noexcept;

}  // namespace attn::softmax
