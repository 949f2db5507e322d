#include "precision.hpp"

#include <cmath>
#include <stdexcept>

namespace attnlab {

double Format::max() const {
  return std::ldexp(2.0 - std::ldexp(1.0, 1 - digits), max_exp);
}
double Format::min_normal() const {
  return std::ldexp(1.0, min_exp);
}
double Format::denorm_min() const {
  return std::ldexp(1.0, min_exp - digits + 1);
}
double Format::unit_roundoff() const {
  return std::ldexp(1.0, -digits);
}

double Format::round(double x) const {
  if (!std::isfinite(x) || x == 0) return x;
  int e = std::ilogb(x);                                        // 2^e ≤ |x| < 2^(e+1)
  if (e < min_exp) e = min_exp;                                 // subnormals share the smallest normal's quantum
  const double q = std::ldexp(1.0, e - digits + 1);             // the spacing of the format around x
  const double r = std::nearbyint(x / q) * q;                   // x/q is exact (a power-of-2 scaling); ties to even
  return std::abs(r) > max() ? std::copysign(INFINITY, x) : r;  // rounding past max overflows
}

const std::vector<Format>& formats() {
  static const std::vector<Format> all = {
      {"fp16", 11, -14, 15},
      {"bf16", 8, -126, 127},
      {"fp32", 24, -126, 127},
      {"fp64", 53, -1022, 1023},
  };
  return all;
}

const Format& format_named(std::string_view name, std::string_view option) {
  for (const Format& f : formats())
    if (f.name == name) return f;
  throw std::invalid_argument(std::string(option) + ": unknown precision '" + std::string(name) +
                              "' (choose fp16, bf16, fp32 or fp64)");
}

}  // namespace attnlab
