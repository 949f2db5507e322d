// Error of a result against an oracle, and timing statistics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace attnlab {

struct ErrorStats {
  double max_abs = 0;            ///< max |x - ref|; +inf where exactly one side is NaN
  double max_rel = 0;            ///< max_abs / max |ref| (normwise, stable near zeros)
  std::size_t nan_mismatch = 0;  ///< elements where exactly one side is NaN
};

inline ErrorStats compare_to(std::span<const float> x, std::span<const float> ref) {
  ErrorStats e;
  double ref_max = 0;
  for (std::size_t i = 0; i < x.size() && i < ref.size(); ++i) {
    const bool xn = std::isnan(x[i]), rn = std::isnan(ref[i]);
    if (xn != rn) {
      ++e.nan_mismatch;
      e.max_abs = std::numeric_limits<double>::infinity();
      continue;
    }
    if (xn) continue;
    if (std::isinf(ref[i]) || std::isinf(x[i])) {
      if (x[i] != ref[i]) e.max_abs = std::numeric_limits<double>::infinity();
      continue;
    }
    e.max_abs = std::max(e.max_abs, std::abs(static_cast<double>(x[i]) - ref[i]));
    ref_max = std::max(ref_max, std::abs(static_cast<double>(ref[i])));
  }
  e.max_rel = ref_max > 0 ? e.max_abs / ref_max : e.max_abs;
  return e;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace attnlab
