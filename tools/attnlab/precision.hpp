// Storage formats for teaching: round a value to fp16, bf16, fp32 or fp64 as if
// it were stored in that format (IEEE 754 round-to-nearest-even, with gradual
// underflow and overflow to ±inf), so that a computation can be simulated in a
// precision the machine does not compute in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attnlab {

struct Format {
  std::string_view name;
  int digits;   ///< significand bits, including the implicit one (fp16: 11)
  int min_exp;  ///< exponent of the smallest normal, 2^min_exp (fp16: −14)
  int max_exp;  ///< exponent of the largest finite value's leading bit (fp16: 15)

  double max() const;            ///< largest finite value (fp16: 65504)
  double min_normal() const;     ///< 2^min_exp
  double denorm_min() const;     ///< 2^(min_exp − digits + 1)
  double unit_roundoff() const;  ///< 2^−digits
  /// x rounded to this format: nearest, ties to even; |x| ≥ max + ulp(max)/2 → ±inf;
  /// values below min_normal rounded on the subnormal grid; NaN, ±inf, ±0 unchanged.
  double round(double x) const;
};

/// fp16 (IEEE binary16), bf16 (bfloat16), fp32, fp64.
const std::vector<Format>& formats();
/// The format called `name`; throws std::invalid_argument naming `option` and the choices.
const Format& format_named(std::string_view name, std::string_view option = "--precision");

}  // namespace attnlab
