// The scalar softmax / log-sum-exp variants of attn/softmax.hpp, written as the
// textbook would, one function per algorithm. Contracts live in the header.
#include <attn/softmax.hpp>

#include <cmath>
#include <limits>

namespace attn::softmax {

namespace {

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();
template <class T>
constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();

/// Max ignoring NaN (-inf for n == 0), and whether a NaN was seen.
template <class T>
T max_of(const T* x, std::size_t n, bool& nan) noexcept {
  T m = -kInf<T>;
  nan = false;
  for (std::size_t j = 0; j < n; ++j) {
    m = x[j] > m ? x[j] : m;
    nan |= x[j] != x[j];
  }
  return m;
}

template <class T>
void fill(T* y, std::size_t n, T v) noexcept {
  for (std::size_t j = 0; j < n; ++j) y[j] = v;
}

/// The rows every variant treats alike: NaN anywhere, no mass (all -inf or
/// empty), or a +inf maximum. Returns true (and fills y, lse) when it applies.
template <class T>
bool special_row(T m, bool nan, T* y, std::size_t n, T& lse_out) noexcept {
  if (nan || m == kInf<T>) {
    fill(y, n, kNaN<T>);
    lse_out = kNaN<T>;
    return true;
  }
  if (m == -kInf<T>) {
    fill(y, n, T(0));
    lse_out = -kInf<T>;
    return true;
  }
  return false;
}

/// Σ_{j≠k} exp(x_j − a) for k the first index with x_k == a: BHH's s'.
template <class T>
T sum_except_max(const T* x, std::size_t n, T a) noexcept {
  T s = 0;
  bool skipped = false;
  for (std::size_t j = 0; j < n; ++j) {
    if (!skipped && x[j] == a) {
      skipped = true;
      continue;
    }
    s += std::exp(x[j] - a);
  }
  return s;
}

/// Thresholds: the T grid point next to log(boundary), decided in long double.
template <class T>
T largest_below(long double bound) noexcept {
  T t = static_cast<T>(bound);
  while (static_cast<long double>(t) >= bound) t = std::nextafter(t, -kInf<T>);
  while (static_cast<long double>(std::nextafter(t, kInf<T>)) < bound) t = std::nextafter(t, kInf<T>);
  return t;
}
template <class T>
T smallest_above(long double bound, bool inclusive) noexcept {
  T t = static_cast<T>(bound);
  auto ok = [&](T v) { return inclusive ? static_cast<long double>(v) >= bound : static_cast<long double>(v) > bound; };
  while (!ok(t)) t = std::nextafter(t, kInf<T>);
  while (ok(std::nextafter(t, -kInf<T>))) t = std::nextafter(t, -kInf<T>);
  return t;
}

}  // namespace

// exp(x) rounds to +inf once exp(x) ≥ max + ulp(max)/2 = 2^emax·(2 − 2^-p).
template <class T>
T exp_overflow_threshold() noexcept {
  using L = long double;
  constexpr int p = std::numeric_limits<T>::digits;
  const L boundary = std::ldexp(2.0L - std::ldexp(1.0L, -(p - 1) - 1), std::numeric_limits<T>::max_exponent - 1);
  return largest_below<T>(std::log(boundary));
}

// exp(x) rounds to a normal number once exp(x) ≥ min − denorm_min/2 (that tie
// goes to min, whose significand is even).
template <class T>
T exp_normal_threshold() noexcept {
  using L = long double;
  const L boundary =
      static_cast<L>(std::numeric_limits<T>::min()) - static_cast<L>(std::numeric_limits<T>::denorm_min()) / 2;
  return smallest_above<T>(std::log(boundary), true);
}

// exp(x) rounds to 0 while exp(x) ≤ denorm_min/2 (the tie goes to 0, even).
template <class T>
T exp_zero_threshold() noexcept {
  const long double boundary = static_cast<long double>(std::numeric_limits<T>::denorm_min()) / 2;
  return smallest_above<T>(std::log(boundary), false);
}

template <class T>
T naive(const T* x, T* y, std::size_t n) noexcept {
  T s = 0;
  bool mass = false, nan = false;
  for (std::size_t j = 0; j < n; ++j) {
    s += std::exp(x[j]);  // overflows to inf for x > 88.72 (float)
    mass |= x[j] > -kInf<T>;
    nan |= x[j] != x[j];
  }
  if (!mass && !nan) {  // all -inf (masked) or empty: the attention contract
    fill(y, n, T(0));
    return -kInf<T>;
  }
  for (std::size_t j = 0; j < n; ++j) y[j] = std::exp(x[j]) / s;  // inf/inf = NaN, 0/0 = NaN
  return std::log(s);
}

template <class T>
T safe(const T* x, T* y, std::size_t n) noexcept {
  bool nan = false;
  const T a = max_of(x, n, nan);  // pass 1
  T out;
  if (special_row(a, nan, y, n, out)) return out;
  T s = 0;
  for (std::size_t j = 0; j < n; ++j) s += std::exp(x[j] - a);          // pass 2: the max term is exactly 1
  const T inv = T(1) / s;                                               // s ∈ [1, n]: never 0, never inf
  for (std::size_t j = 0; j < n; ++j) y[j] = std::exp(x[j] - a) * inv;  // pass 3
  return a + std::log(s);
}

template <class T>
Partial<T> online_partial(const T* x, std::size_t n) noexcept {
  Partial<T> p;
  for (std::size_t j = 0; j < n; ++j) {
    const T v = x[j];
    if (v > p.m) {  // the max grows: rescale the sum to the new max
      p.l = p.l * std::exp(p.m - v) + T(1);
      p.m = v;
    } else if (v != -kInf<T>) {  // -inf adds exactly 0; NaN poisons l
      p.l += std::exp(v - p.m);
    }
  }
  if (p.m == kInf<T>) p.l = kNaN<T>;  // inf − inf: no meaningful normaliser
  return p;
}

template <class T>
Partial<T> merge(Partial<T> a, Partial<T> b) noexcept {
  const T m = a.m > b.m ? a.m : b.m;
  if (m == -kInf<T>) return {m, a.l + b.l};  // both empty (or NaN-only): 0, or NaN carried
  return {m, a.l * std::exp(a.m - m) + b.l * std::exp(b.m - m)};
}

template <class T>
T lse(Partial<T> p) noexcept {
  return p.m + std::log(p.l);
}

template <class T>
T online(const T* x, T* y, std::size_t n) noexcept {
  const Partial<T> p = online_partial(x, n);  // pass 1: m and l together
  if (p.l != p.l) {
    fill(y, n, kNaN<T>);
    return kNaN<T>;
  }
  if (p.m == -kInf<T>) {
    fill(y, n, T(0));
    return -kInf<T>;
  }
  const T inv = T(1) / p.l;
  for (std::size_t j = 0; j < n; ++j) y[j] = std::exp(x[j] - p.m) * inv;  // pass 2
  return lse(p);
}

template <class T>
T logsumexp_basic(const T* x, std::size_t n) noexcept {
  T s = 0;
  for (std::size_t j = 0; j < n; ++j) s += std::exp(x[j]);
  return std::log(s);
}

template <class T>
T logsumexp_shifted(const T* x, std::size_t n) noexcept {
  bool nan = false;
  const T a = max_of(x, n, nan);
  if (nan || a == kInf<T>) return nan ? kNaN<T> : kInf<T>;
  if (a == -kInf<T>) return a;
  T s = 0;
  for (std::size_t j = 0; j < n; ++j) s += std::exp(x[j] - a);
  return a + std::log(s);
}

template <class T>
T logsumexp(const T* x, std::size_t n) noexcept {
  bool nan = false;
  const T a = max_of(x, n, nan);
  if (nan || a == kInf<T>) return nan ? kNaN<T> : kInf<T>;
  if (a == -kInf<T>) return a;
  return a + std::log1p(sum_except_max(x, n, a));
}

template <class T>
void log_softmax_basic(const T* x, T* y, std::size_t n) noexcept {
  const T f = logsumexp_basic(x, n);
  for (std::size_t j = 0; j < n; ++j) y[j] = x[j] - f;
}

template <class T>
void log_softmax(const T* x, T* y, std::size_t n) noexcept {
  bool nan = false;
  const T a = max_of(x, n, nan);
  if (nan || a == kInf<T>) return fill(y, n, kNaN<T>);
  if (a == -kInf<T>) return fill(y, n, -kInf<T>);  // weight 0 everywhere: log 0
  const T c = std::log1p(sum_except_max(x, n, a));
  for (std::size_t j = 0; j < n; ++j) y[j] = (x[j] - a) - c;
}

template <class T>
long double reference(const T* x, long double* y, std::size_t n) noexcept {
  using L = long double;
  L a = -std::numeric_limits<L>::infinity();
  bool nan = false;
  for (std::size_t j = 0; j < n; ++j) {
    a = x[j] > a ? static_cast<L>(x[j]) : a;
    nan |= x[j] != x[j];
  }
  if (nan || a == std::numeric_limits<L>::infinity()) {
    for (std::size_t j = 0; j < n; ++j) y[j] = std::numeric_limits<L>::quiet_NaN();
    return std::numeric_limits<L>::quiet_NaN();
  }
  if (a == -std::numeric_limits<L>::infinity()) {
    for (std::size_t j = 0; j < n; ++j) y[j] = 0;
    return a;
  }
  L s = 0;
  for (std::size_t j = 0; j < n; ++j) s += std::exp(static_cast<L>(x[j]) - a);
  for (std::size_t j = 0; j < n; ++j) y[j] = std::exp(static_cast<L>(x[j]) - a) / s;
  return a + std::log(s);
}

#define ATTN_SOFTMAX_INSTANTIATE(T)                                       \
  template T exp_overflow_threshold<T>() noexcept;                        \
  template T exp_normal_threshold<T>() noexcept;                          \
  template T exp_zero_threshold<T>() noexcept;                            \
  template T naive<T>(const T*, T*, std::size_t) noexcept;                \
  template T safe<T>(const T*, T*, std::size_t) noexcept;                 \
  template Partial<T> online_partial<T>(const T*, std::size_t) noexcept;  \
  template Partial<T> merge<T>(Partial<T>, Partial<T>) noexcept;          \
  template T lse<T>(Partial<T>) noexcept;                                 \
  template T online<T>(const T*, T*, std::size_t) noexcept;               \
  template T logsumexp_basic<T>(const T*, std::size_t) noexcept;          \
  template T logsumexp_shifted<T>(const T*, std::size_t) noexcept;        \
  template T logsumexp<T>(const T*, std::size_t) noexcept;                \
  template void log_softmax_basic<T>(const T*, T*, std::size_t) noexcept; \
  template void log_softmax<T>(const T*, T*, std::size_t) noexcept;       \
  template long double reference<T>(const T*, long double*, std::size_t) noexcept;

ATTN_SOFTMAX_INSTANTIATE(float)
ATTN_SOFTMAX_INSTANTIATE(double)
#undef ATTN_SOFTMAX_INSTANTIATE

}  // namespace attn::softmax
