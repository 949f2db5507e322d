// attn/softmax.hpp and the vectorised kernels of engine/src/softmax_simd.hpp:
// exact exp thresholds, every variant within the bound stated beside it in the
// header (against the long-double reference), the online merge, and the edge
// cases of the attention contract.
#include "fused/ukernels.hpp"  // supported_isas
#include "simd/exp_poly.hpp"
#include "softmax_simd.hpp"

#include <gtest/gtest.h>
#include <attn/softmax.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sm = attn::softmax;

namespace {

using L = long double;

template <class T>
const L kU = std::ldexp(1.0L, -std::numeric_limits<T>::digits);  // unit roundoff
template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

/// A seeded row: uniform in [centre − scale, centre + scale].
template <class T>
std::vector<T> random_row(std::size_t n, double scale, double centre, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(centre - scale, centre + scale);
  std::vector<T> x(n);
  for (T& v : x) v = static_cast<T>(dist(gen));
  return x;
}

template <class T>
T max_of(const std::vector<T>& x) {
  return *std::max_element(x.begin(), x.end());
}

/// Checks ŷ_i against the reference with |ŷ_i − y_i| ≤ c_i·u·y_i + floor, where
/// c_i = bound(|x_i − a|); the floor (smallest normal) covers exps that land in the
/// subnormal range, as the header says.
template <class T>
void expect_weights_within(const std::vector<T>& x, const std::vector<T>& got, const std::function<L(L)>& bound,
                           const std::string& what) {
  std::vector<L> ref(x.size());
  sm::reference(x.data(), ref.data(), x.size());
  const L a = max_of(x);
  L worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const L tol = bound(std::isfinite(x[i]) ? std::abs(static_cast<L>(x[i]) - a) : 0) * kU<T> * ref[i] +
                  std::numeric_limits<T>::min();
    const L err = std::abs(static_cast<L>(got[i]) - ref[i]);
    worst = std::max(worst, err / tol);
    if (!(err <= tol)) {
      ADD_FAILURE() << what << ": n=" << x.size() << " i=" << i << " x=" << x[i] << " got " << got[i] << " ref "
                    << static_cast<double>(ref[i]) << " err " << static_cast<double>(err) << " > tol "
                    << static_cast<double>(tol);
      return;
    }
  }
  EXPECT_LE(worst, 1.0L) << what;
}

template <class T>
class SoftmaxTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxTyped, Types);

// ---- Thresholds --------------------------------------------------------------

TYPED_TEST(SoftmaxTyped, OverflowThresholdIsExact) {
  using T = TypeParam;
  const T t = sm::exp_overflow_threshold<T>();
  EXPECT_TRUE(std::isfinite(std::exp(t))) << t;
  EXPECT_TRUE(std::isinf(std::exp(std::nextafter(t, kInf<T>)))) << t;
  // It is log(max) to within one step of T.
  EXPECT_NEAR(static_cast<double>(t), std::log(static_cast<double>(std::numeric_limits<T>::max())),
              2 * static_cast<double>(std::nextafter(t, kInf<T>) - t));
}

TYPED_TEST(SoftmaxTyped, UnderflowThresholdsAreExact) {
  using T = TypeParam;
  const T normal = sm::exp_normal_threshold<T>();
  EXPECT_GE(std::exp(normal), std::numeric_limits<T>::min()) << normal;
  EXPECT_LT(std::exp(std::nextafter(normal, -kInf<T>)), std::numeric_limits<T>::min()) << normal;
  const T zero = sm::exp_zero_threshold<T>();
  EXPECT_GT(std::exp(zero), T(0)) << zero;
  EXPECT_EQ(std::exp(std::nextafter(zero, -kInf<T>)), T(0)) << zero;
  EXPECT_LT(zero, normal);
}

TEST(SoftmaxThresholds, Float32ValuesTheLessonQuotes) {
  EXPECT_NEAR(sm::exp_overflow_threshold<float>(), 88.7228f, 1e-4f);
  EXPECT_NEAR(sm::exp_normal_threshold<float>(), -87.3365f, 1e-4f);
  EXPECT_NEAR(sm::exp_zero_threshold<float>(), -103.9721f, 1e-4f);
  EXPECT_TRUE(std::isinf(std::exp(88.73f)));
}

// ---- Naive overflows exactly where predicted --------------------------------

TYPED_TEST(SoftmaxTyped, NaiveOverflowsExactlyAtTheThreshold) {
  using T = TypeParam;
  const T t = sm::exp_overflow_threshold<T>();
  std::vector<T> x = {T(0), t}, y(2);
  sm::naive(x.data(), y.data(), 2);
  EXPECT_TRUE(std::isfinite(y[0]) && std::isfinite(y[1]));
  EXPECT_NEAR(static_cast<double>(y[1]), 1.0, 1e-6);
  x[1] = std::nextafter(t, kInf<T>);
  sm::naive(x.data(), y.data(), 2);
  EXPECT_EQ(y[0], T(0));            // e^0 / inf
  EXPECT_TRUE(std::isnan(y[1]));    // inf / inf
  sm::safe(x.data(), y.data(), 2);  // the shift removes the problem
  EXPECT_EQ(y[1], T(1) / (T(1) + std::exp(-x[1])));
}

TEST(SoftmaxLesson, ThousandsAreNaNNaiveAndSameAsOneTwoThreeSafe) {
  const std::vector<float> big = {1000, 1001, 1002}, small = {1, 2, 3};
  std::vector<float> y(3), z(3);
  sm::naive(big.data(), y.data(), 3);
  for (float v : y) EXPECT_TRUE(std::isnan(v));
  sm::safe(big.data(), y.data(), 3);
  sm::safe(small.data(), z.data(), 3);
  const float expect[3] = {0.0900306f, 0.2447285f, 0.6652410f};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(y[i], z[i]) << i;  // x − max is exact here, so the rows are bit-identical
    EXPECT_NEAR(y[i], expect[i], 1e-6f);
  }
}

// ---- Every variant within its stated bound ----------------------------------

struct RowCase {
  std::size_t n;
  double scale, centre;
};

std::vector<RowCase> row_cases() {
  std::vector<RowCase> cases;
  for (std::size_t n : {1u, 2u, 3u, 7u, 8u, 9u, 31u, 33u, 100u, 1000u, 4099u, 70000u})
    for (double scale : {0.5, 4.0, 30.0}) cases.push_back({n, scale, 0.0});
  cases.push_back({257, 5.0, 1000.0});   // far from 0: naive overflows, the others must not
  cases.push_back({257, 5.0, -1000.0});  // naive underflows to 0/0
  return cases;
}

TYPED_TEST(SoftmaxTyped, VariantsWithinTheirBounds) {
  using T = TypeParam;
  std::uint64_t seed = 11;
  for (const RowCase& c : row_cases()) {
    const std::vector<T> x = random_row<T>(c.n, c.scale, c.centre, seed++);
    const L n = static_cast<L>(c.n);
    std::vector<T> y(c.n);
    const std::string tag =
        " n=" + std::to_string(c.n) + " scale=" + std::to_string(c.scale) + " centre=" + std::to_string(c.centre);
    sm::safe(x.data(), y.data(), c.n);
    expect_weights_within<T>(
        x, y, [&](L d) { return d + 2 * n + 6; }, "safe" + tag);
    sm::online(x.data(), y.data(), c.n);
    expect_weights_within<T>(
        x, y, [&](L d) { return d + 6 * n + 6; }, "online" + tag);
    // naive: only where no exp overflows and every exp is a normal number.
    const bool naive_ok =
        std::all_of(x.begin(), x.end(),
                    [](T v) { return v <= sm::exp_overflow_threshold<T>() && v >= sm::exp_normal_threshold<T>(); }) &&
        std::log(n) + max_of(x) < sm::exp_overflow_threshold<T>();
    sm::naive(x.data(), y.data(), c.n);
    if (naive_ok) {
      expect_weights_within<T>(
          x, y, [&](L) { return n + 4; }, "naive" + tag);
    } else {
      EXPECT_TRUE(std::any_of(y.begin(), y.end(), [](T v) { return std::isnan(v); })) << "naive should fail" << tag;
    }
  }
}

TYPED_TEST(SoftmaxTyped, OnlineEqualsSafeWithinBothBounds) {
  using T = TypeParam;
  for (std::size_t n : {5u, 64u, 1000u, 30000u}) {
    // Increasing rows make every element a new max: the online worst case.
    std::vector<T> x = random_row<T>(n, 20.0, 0.0, n);
    std::sort(x.begin(), x.end());
    std::vector<T> ys(n), yo(n);
    sm::safe(x.data(), ys.data(), n);
    sm::online(x.data(), yo.data(), n);
    const T a = x.back();
    for (std::size_t i = 0; i < n; ++i) {
      const L d = std::abs(static_cast<L>(x[i]) - a);
      const L tol =
          ((d + 2 * n + 6) + (d + 6 * n + 6)) * kU<T> * ys[i] * (1 + 1e-3L) + 2 * std::numeric_limits<T>::min();
      ASSERT_LE(std::abs(static_cast<L>(yo[i]) - ys[i]), tol) << "n=" << n << " i=" << i;
    }
  }
}

// ---- The online merge --------------------------------------------------------

template <class T>
L merge_bound(L lse, std::size_t n, std::size_t merges) {
  // m is exact; l carries online_partial's (4.4n + 2)u plus 5u per merge; the
  // final log and add add 2u·log(l) + u|lse|.
  return (std::abs(lse) + 5 * static_cast<L>(n) + 5 * static_cast<L>(merges) + 4 +
          2 * std::log(static_cast<L>(n) + 1)) *
         kU<T>;
}

TYPED_TEST(SoftmaxTyped, MergeIsAssociativeAndEqualsTheWholeRow) {
  using T = TypeParam;
  const std::size_t n = 10000;
  const std::vector<T> x = random_row<T>(n, 30.0, 5.0, 99);
  std::vector<L> ref(n);
  const L f = sm::reference(x.data(), ref.data(), n);
  // Split at seeded boundaries into 7 chunks.
  std::mt19937_64 gen(5);
  std::vector<std::size_t> cut = {0, n};
  for (int i = 0; i < 6; ++i) cut.push_back(std::uniform_int_distribution<std::size_t>(0, n)(gen));
  std::sort(cut.begin(), cut.end());
  std::vector<sm::Partial<T>> parts;
  for (std::size_t i = 0; i + 1 < cut.size(); ++i)
    parts.push_back(sm::online_partial(x.data() + cut[i], cut[i + 1] - cut[i]));

  sm::Partial<T> left;  // ((p0 ∘ p1) ∘ p2) ∘ …
  for (const auto& p : parts) left = sm::merge(left, p);
  sm::Partial<T> right;  // p0 ∘ (p1 ∘ (… ∘ p6))
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) right = sm::merge(*it, right);
  sm::Partial<T> tree = sm::merge(sm::merge(sm::merge(parts[0], parts[1]), sm::merge(parts[2], parts[3])),
                                  sm::merge(sm::merge(parts[4], parts[5]), parts[6]));
  const L tol = merge_bound<T>(f, n, parts.size());
  for (const auto* p : {&left, &right, &tree}) {
    EXPECT_EQ(p->m, max_of(x));  // the max is exact
    EXPECT_LE(std::abs(static_cast<L>(sm::lse(*p)) - f), tol);
  }
  EXPECT_LE(std::abs(static_cast<L>(sm::lse(left)) - sm::lse(right)), 2 * tol);
  EXPECT_LE(std::abs(static_cast<L>(sm::lse(left)) - sm::lse(tree)), 2 * tol);
}

TYPED_TEST(SoftmaxTyped, MergeWithEmptyIsExactIdentity) {
  using T = TypeParam;
  const std::vector<T> x = random_row<T>(100, 3.0, 0.0, 3);
  const sm::Partial<T> p = sm::online_partial(x.data(), x.size());
  const sm::Partial<T> empty = sm::online_partial<T>(nullptr, 0);
  EXPECT_EQ(empty.m, -kInf<T>);
  EXPECT_EQ(empty.l, T(0));
  for (const auto& q : {sm::merge(p, empty), sm::merge(empty, p)}) {
    EXPECT_EQ(q.m, p.m);
    EXPECT_EQ(q.l, p.l);  // l·exp(0) + 0·exp(−inf) is exact
  }
  const sm::Partial<T> both = sm::merge(empty, empty);
  EXPECT_EQ(both.m, -kInf<T>);
  EXPECT_EQ(both.l, T(0));
  EXPECT_EQ(sm::lse(both), -kInf<T>);
}

// ---- log-sum-exp and log-softmax ----------------------------------------------

TYPED_TEST(SoftmaxTyped, LogSumExpFormsWithinBounds) {
  using T = TypeParam;
  std::uint64_t seed = 40;
  for (std::size_t n : {1u, 2u, 10u, 1000u, 50000u})
    for (double scale : {0.1, 3.0, 40.0})
      for (double centre : {0.0, -20.0, 50.0}) {
        const std::vector<T> x = random_row<T>(n, scale, centre, seed++);
        // Reference in long double, in the BHH form itself so that tiny results
        // (−s' for the max entry) keep their relative accuracy: f = a + c.
        const L a = max_of(x), N = static_cast<L>(n);
        L s1 = 0, D = 0;  // BHH's s' and D
        bool skipped = false;
        for (T v : x) {
          D = std::max(D, a - v);
          if (!skipped && v == a)
            skipped = true;
          else
            s1 += std::exp(static_cast<L>(v) - a);
        }
        const L c = std::log1p(s1), u = kU<T>, f = a + c;
        const std::string tag =
            " n=" + std::to_string(n) + " scale=" + std::to_string(scale) + " centre=" + std::to_string(centre);
        EXPECT_LE(std::abs(sm::logsumexp(x.data(), n) - f),
                  u * std::abs(f) + 2 * u * c + 2 * (N + 1) * u * std::min<L>(1, s1 * (1 + D)))
            << tag;
        EXPECT_LE(std::abs(sm::logsumexp_shifted(x.data(), n) - f),
                  u * std::abs(f) + 2 * u * std::log(N) + (2 * N + 2) * u)
            << tag;
        const bool basic_ok = std::all_of(x.begin(), x.end(), [](T v) { return v >= sm::exp_normal_threshold<T>(); }) &&
                              a + std::log(N) < sm::exp_overflow_threshold<T>();
        const T fb = sm::logsumexp_basic(x.data(), n);
        if (basic_ok) {
          EXPECT_LE(std::abs(fb - f), 3 * u * std::abs(f) + (N + 1) * u) << tag;
        }
        std::vector<T> y(n);
        sm::log_softmax(x.data(), y.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
          const L yi = (static_cast<L>(x[i]) - a) - c;
          const L tol = u * (std::abs(yi) + (a - x[i]) + 2 * c) + 2 * (N + 1) * u * std::min<L>(1, s1 * (1 + D));
          ASSERT_LE(std::abs(y[i] - yi), tol) << "log_softmax" << tag << " i=" << i;
        }
        if (basic_ok) {
          sm::log_softmax_basic(x.data(), y.data(), n);
          for (std::size_t i = 0; i < n; ++i) {
            const L yi = (static_cast<L>(x[i]) - a) - c;
            ASSERT_LE(std::abs(y[i] - yi), u * std::abs(yi) + 3 * u * std::abs(f) + (N + 1) * u) << "basic" << tag;
          }
        }
      }
}

TEST(SoftmaxLogSumExp, Log1pKeepsTheSmallSumThatLogLoses) {
  // lse(0, −30) = log(1 + e^-30) ≈ 9.36e-14: 1 + s' rounds to 1 in float, so the
  // shifted form returns exactly 0 (100% relative error); log1p keeps it.
  const float x[2] = {0.0f, -30.0f};
  const double exact = std::log1p(std::exp(-30.0));
  EXPECT_EQ(sm::logsumexp_shifted(x, 2), 0.0f);
  EXPECT_LE(std::abs(sm::logsumexp(x, 2) - exact), 4 * kU<float> * exact);
}

TEST(SoftmaxLogSumExp, BasicOverflowsWhereTheThresholdSays) {
  const float t = sm::exp_overflow_threshold<float>();
  const float x[2] = {t, -1.0f}, z[2] = {std::nextafter(t, kInf<float>), -1.0f};
  EXPECT_TRUE(std::isfinite(sm::logsumexp_basic(x, 2)));
  EXPECT_EQ(sm::logsumexp_basic(z, 2), kInf<float>);
  EXPECT_TRUE(std::isfinite(sm::logsumexp(z, 2)));
}

// ---- Edge cases of the attention contract --------------------------------------

using RowFn = std::function<void(const float*, float*, std::size_t)>;

std::vector<std::pair<std::string, RowFn>> float_variants() {
  return {
      {"naive", [](const float* x, float* y, std::size_t n) { sm::naive(x, y, n); }},
      {"safe", [](const float* x, float* y, std::size_t n) { sm::safe(x, y, n); }},
      {"online", [](const float* x, float* y, std::size_t n) { sm::online(x, y, n); }},
      {"stable_inplace",
       [](const float* x, float* y, std::size_t n) {
         std::copy(x, x + n, y);
         sm::stable_inplace(y, n);
       }},
  };
}

TEST(SoftmaxEdges, NaNPropagatesToTheWholeRow) {
  for (std::size_t n : {1u, 5u, 40u, 100000u})
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      std::vector<float> x = random_row<float>(n, 2.0, 0.0, n + at);
      x[at] = std::numeric_limits<float>::quiet_NaN();
      for (const auto& [name, f] : float_variants()) {
        std::vector<float> y(n, 0.5f);
        f(x.data(), y.data(), n);
        for (std::size_t i = 0; i < n; ++i)
          ASSERT_TRUE(std::isnan(y[i])) << name << " n=" << n << " nan at " << at << " i=" << i;
      }
      EXPECT_TRUE(std::isnan(sm::logsumexp(x.data(), n)));
      EXPECT_TRUE(std::isnan(sm::lse(sm::online_partial(x.data(), n))));
      std::vector<float> y(n);
      EXPECT_TRUE(std::isnan(sm::stable_inplace(y.data(), 0) + sm::stable_inplace(x.data(), n)));
    }
  // A NaN among -inf only must not be mistaken for a masked row.
  std::vector<float> x = {-kInf<float>, std::numeric_limits<float>::quiet_NaN(), -kInf<float>};
  for (const auto& [name, f] : float_variants()) {
    std::vector<float> y(3);
    f(x.data(), y.data(), 3);
    for (float v : y) EXPECT_TRUE(std::isnan(v)) << name;
  }
}

TEST(SoftmaxEdges, MinusInfGetsExactlyZeroAndTheRestIsTheSoftmaxOfTheRest) {
  for (std::size_t n : {3u, 17u, 1000u, 70001u}) {
    std::vector<float> x = random_row<float>(n, 3.0, 0.0, n);
    std::vector<float> rest;
    for (std::size_t i = 0; i < n; ++i)
      if (i % 3 == 1)
        x[i] = -kInf<float>;
      else
        rest.push_back(x[i]);
    std::vector<float> want(rest.size());
    sm::safe(rest.data(), want.data(), rest.size());
    for (const auto& [name, f] : float_variants()) {
      std::vector<float> y(n);
      f(x.data(), y.data(), n);
      for (std::size_t i = 0, r = 0; i < n; ++i) {
        if (i % 3 == 1) {
          ASSERT_EQ(y[i], 0.0f) << name;
          ASSERT_FALSE(std::signbit(y[i])) << name;
        } else {
          ASSERT_NEAR(y[i], want[r], 1e-5f * want[r] + 1e-30f) << name << " n=" << n << " i=" << i;
          ++r;
        }
      }
    }
  }
}

TEST(SoftmaxEdges, AllMinusInfRowIsTheMaskedRowContract) {
  for (std::size_t n : {0u, 1u, 8u, 9u, 100000u}) {
    const std::vector<float> x(n, -kInf<float>);
    for (const auto& [name, f] : float_variants()) {
      std::vector<float> y(n, 0.5f);
      f(x.data(), y.data(), n);
      for (float v : y) ASSERT_EQ(v, 0.0f) << name << " n=" << n;
    }
    std::vector<float> y = x;
    EXPECT_EQ(sm::stable_inplace(y.data(), n), -kInf<float>);
    EXPECT_EQ(sm::safe(x.data(), y.data(), n), -kInf<float>);
    EXPECT_EQ(sm::online(x.data(), y.data(), n), -kInf<float>);
    EXPECT_EQ(sm::naive(x.data(), y.data(), n), -kInf<float>);
    EXPECT_EQ(sm::logsumexp(x.data(), n), -kInf<float>);
    EXPECT_EQ(sm::logsumexp_shifted(x.data(), n), -kInf<float>);
    EXPECT_EQ(sm::logsumexp_basic(x.data(), n), -kInf<float>);
    EXPECT_EQ(sm::lse(sm::online_partial(x.data(), n)), -kInf<float>);
    sm::log_softmax(x.data(), y.data(), n);
    for (float v : y) EXPECT_EQ(v, -kInf<float>);
  }
}

TEST(SoftmaxEdges, PlusInfMakesTheRowNaN) {
  std::vector<float> x = {1.0f, kInf<float>, 2.0f};
  for (const auto& [name, f] : float_variants()) {
    if (name == "naive") continue;  // naive: inf/inf = NaN there, finite/inf = 0 elsewhere (documented)
    std::vector<float> y(3);
    f(x.data(), y.data(), 3);
    for (float v : y) EXPECT_TRUE(std::isnan(v)) << name;
  }
  EXPECT_TRUE(std::isnan(sm::stable_inplace(x.data(), 3)));
}

// ---- The vectorised kernels -----------------------------------------------------

namespace simd = attn::softmax::simd;

using Kernel = simd::RowStats (*)(float*, std::size_t);

/// Every row kernel of every ISA this CPU runs, by name.
std::vector<std::pair<std::string, Kernel>> kernels() {
  std::vector<std::pair<std::string, Kernel>> k;
  for (attn::cpu::Isa isa : attn::fused::supported_isas()) {
    const simd::RowKernels& t = *simd::row_kernels_for(isa);
    k.emplace_back(t.names.three_pass, t.three_pass);
    if (t.two_pass != t.three_pass) k.emplace_back(t.names.two_pass, t.two_pass);
  }
  return k;
}

TEST(SoftmaxSimd, ExpRr2P7MeetsItsContract) {
  using attn::simd::exp_rr2_p7;
  using attn::simd::rr2_p7::kFlush;
  // Sweep float bit patterns from −0 down to −105 (every 127th: 8.7e6 values), and some positives.
  std::vector<float> xs;
  std::uint32_t lo_bits;
  const float lo = -105.0f;
  std::memcpy(&lo_bits, &lo, 4);
  for (std::uint32_t b = 0x80000000u; b <= lo_bits; b += 127) {
    float v;
    std::memcpy(&v, &b, 4);
    xs.push_back(v);
  }
  for (float v = 0.0f; v < 88.0f; v += 0.0173f) xs.push_back(v);
  xs.push_back(-kInf<float>);
  // Every ISA's vector exp against the scalar specification, bit for bit.
  std::vector<std::vector<float>> ys;
  std::vector<const char*> names;
  for (attn::cpu::Isa isa : attn::fused::supported_isas()) {
    const simd::RowKernels& t = *simd::row_kernels_for(isa);
    ys.emplace_back(xs.size());
    names.push_back(t.names.exp);
    t.exp(xs.data(), ys.back().data(), xs.size());
  }
  double worst_ulp = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const float s = exp_rr2_p7(xs[i]);
    for (std::size_t k = 0; k < ys.size(); ++k)
      ASSERT_EQ(std::memcmp(&s, &ys[k][i], 4), 0) << names[k] << " differs from the scalar spec at " << xs[i];
    const L e = std::exp(static_cast<L>(xs[i]));
    const L err = std::abs(static_cast<L>(s) - e);
    if (xs[i] < sm::exp_normal_threshold<float>()) {
      ASSERT_EQ(s, 0.0f) << "flushed range, x=" << xs[i];
    } else if (e >= std::numeric_limits<float>::min()) {
      const float ef = static_cast<float>(e);
      const L ulp = static_cast<L>(std::nextafter(ef, kInf<float>)) - ef;
      worst_ulp = std::max(worst_ulp, static_cast<double>(err / ulp));
      ASSERT_LE(err, 2 * ulp) << "x=" << xs[i];
    } else {
      ASSERT_LE(err, std::numeric_limits<float>::denorm_min()) << "x=" << xs[i];
    }
  }
  RecordProperty("worst_ulp", std::to_string(worst_ulp));
  EXPECT_EQ(exp_rr2_p7(0.0f), 1.0f);
  EXPECT_EQ(exp_rr2_p7(-kInf<float>), 0.0f);
  EXPECT_TRUE(std::isnan(exp_rr2_p7(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(kFlush, sm::exp_normal_threshold<float>());
  EXPECT_GT(exp_rr2_p7(kFlush), 0.0f);
  EXPECT_EQ(exp_rr2_p7(std::nextafter(kFlush, -kInf<float>)), 0.0f);
}

TEST(SoftmaxSimd, EveryKernelWithinTheStableInplaceBound) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n <= 70; ++n) sizes.push_back(n);  // every tail and unroll remainder
  for (std::size_t n : {127u, 1000u, 65535u, 65536u, 100003u, 262147u}) sizes.push_back(n);
  std::uint64_t seed = 1;
  for (std::size_t n : sizes)
    for (double scale : {1.0, 40.0}) {
      const std::vector<float> x = random_row<float>(n, scale, 300.0, seed++);  // naive would overflow
      for (const auto& [name, k] : kernels()) {
        std::vector<float> y = x;
        const simd::RowStats s = k(y.data(), n);
        EXPECT_EQ(s.m, max_of(x)) << name;
        expect_weights_within<float>(
            x, y, [&](L d) { return d + 2 * static_cast<L>(n) + 12; }, name + " n=" + std::to_string(n));
      }
      std::vector<float> y = x;
      std::vector<L> ref(n);
      const L f = sm::reference(x.data(), ref.data(), n);
      const float lse = sm::stable_inplace(y.data(), n);
      EXPECT_LE(std::abs(lse - f), kU<float> * (std::abs(f) + 2 * static_cast<L>(n) + 12)) << n;
      expect_weights_within<float>(
          x, y, [&](L d) { return d + 2 * static_cast<L>(n) + 12; }, "stable_inplace n=" + std::to_string(n));
    }
}

TEST(SoftmaxSimd, KernelsAreDeterministic) {
  const std::vector<float> x = random_row<float>(200003, 10.0, 0.0, 8);
  for (const auto& [name, k] : kernels()) {
    std::vector<float> a = x, b = x;
    k(a.data(), a.size());
    k(b.data(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << name;
  }
}

TEST(SoftmaxSimd, KernelsNeverTouchPastTheRow) {
  for (const auto& [name, k] : kernels())
    for (std::size_t n : {1u, 7u, 9u, 33u, 47u}) {
      std::vector<float> buf(n + 16, 12345.0f);
      const std::vector<float> x = random_row<float>(n, 2.0, 0.0, n);
      std::copy(x.begin(), x.end(), buf.begin() + 8);
      k(buf.data() + 8, n);
      for (std::size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(buf[i], 12345.0f) << name;
        EXPECT_EQ(buf[n + 8 + i], 12345.0f) << name;
      }
    }
}

}  // namespace

namespace {

// The blocked two-pass kernels treat a block with no finite entry separately;
// rows of 10 blocks with such blocks first, in the middle and last.
TEST(SoftmaxSimd, BlocksWithoutMassNaNAndInfInTheTwoPassKernels) {
  std::vector<std::pair<std::string, Kernel>> two_pass;
  for (const auto& [name, k] : kernels())
    if (name.find("2pass") != std::string::npos) two_pass.emplace_back(name, k);
  if (two_pass.empty()) GTEST_SKIP() << "no SIMD two-pass kernel on this CPU";
  const std::size_t n = 10 * 2048 + 5;
  for (const auto& [name, k] : two_pass) {
    std::vector<float> x = random_row<float>(n, 5.0, 0.0, 21);
    for (std::size_t i = 0; i < 3 * 2048; ++i) x[i] = -kInf<float>;         // blocks 0-2
    for (std::size_t i = 5 * 2048; i < 6 * 2048; ++i) x[i] = -kInf<float>;  // block 5
    for (std::size_t i = 10 * 2048; i < n; ++i) x[i] = -kInf<float>;        // the tail block
    std::vector<float> y = x;
    const simd::RowStats s = k(y.data(), n);
    EXPECT_GT(s.l, 0.0f) << name;
    expect_weights_within<float>(
        x, y, [&](L d) { return d + 2 * static_cast<L>(n) + 12; }, name);
    for (std::size_t i = 0; i < n; ++i)
      if (x[i] == -kInf<float>) {
        ASSERT_EQ(y[i], 0.0f) << name << " i=" << i;
      }

    std::vector<float> z = x;  // a NaN hidden in a block of only −inf
    z[5 * 2048 + 7] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(std::isnan(k(z.data(), n).l)) << name;
    z = x;  // +inf in the last block with mass
    z[9 * 2048 + 1] = kInf<float>;
    const simd::RowStats t = k(z.data(), n);
    EXPECT_TRUE(std::isnan(t.l) || t.m == kInf<float>) << name;
    std::vector<float> all(n, -kInf<float>);
    EXPECT_EQ(k(all.data(), n).l, 0.0f) << name;
  }
}

}  // namespace
