// The 16-bit storage formats (attn/dtype.hpp): widening is exact for every bit pattern, and
// narrowing rounds to nearest, ties to even, checked against a rounding written independently
// in double precision (a value's quantum at its exponent, std::nearbyint) over every f16/bf16
// value's neighbourhood, every tie, and a stride through all 2^32 fp32 patterns.
#include <attn/dtype.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace attn::test {
namespace {

struct Format {
  int digits, min_exp, max_exp;  // significand bits (hidden one included), exponent range of normals
};
constexpr Format kF16{11, -14, 15}, kBF16{8, -126, 127};

double largest(Format f) {
  return std::ldexp(2.0 - std::ldexp(1.0, 1 - f.digits), f.max_exp);
}

/// x rounded to the format: nearest, ties to even; past the largest value by half a quantum
/// or more: ±inf.
double round_reference(Format f, double x) {
  if (!std::isfinite(x) || x == 0) return x;
  const int e = std::max(std::ilogb(x), f.min_exp);  // subnormals share the smallest normal's quantum
  const double q = std::ldexp(1.0, e - f.digits + 1);
  const double r = std::nearbyint(x / q) * q;  // x / q is exact; nearbyint ties to even
  return std::abs(r) > largest(f) ? std::copysign(INFINITY, x) : r;
}

float from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

/// Widening of binary16 written from the definition.
double f16_value(std::uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  double v = exponent == 0 ? std::ldexp(fraction, -24) : std::ldexp(fraction + 1024, exponent - 25);
  if (exponent == 31) v = fraction ? NAN : INFINITY;
  return sign ? -v : v;
}

void expect_narrowing(float x) {
  const double f16_want = round_reference(kF16, x), bf16_want = round_reference(kBF16, x);
  const float f16_got = to_float(to_f16(x)), bf16_got = to_float(to_bf16(x));
  if (std::isnan(x)) {
    EXPECT_TRUE(std::isnan(f16_got) && std::isnan(bf16_got)) << "x bits " << std::hex << bits(x);
    EXPECT_EQ(std::signbit(f16_got), std::signbit(x));
    EXPECT_EQ(std::signbit(bf16_got), std::signbit(x));
    return;
  }
  // Signed zeros compare by bits.
  ASSERT_EQ(bits(f16_got), bits(static_cast<float>(f16_want)))
      << "f16 of " << x << " (bits " << std::hex << bits(x) << ")";
  ASSERT_EQ(bits(bf16_got), bits(static_cast<float>(bf16_want)))
      << "bf16 of " << x << " (bits " << std::hex << bits(x) << ")";
}

TEST(DType, EveryF16PatternWidensExactly) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const double want = f16_value(static_cast<std::uint16_t>(h));
    const float got = to_float(f16{static_cast<std::uint16_t>(h)});
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << "bits " << std::hex << h;
    ASSERT_EQ(std::signbit(got), (h >> 15) != 0);
    // And narrowing gives the same bits back.
    ASSERT_EQ(to_f16(got).bits, h) << std::hex << h;
  }
}

TEST(DType, EveryBf16PatternWidensExactlyAndRoundTrips) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float got = to_float(bf16{static_cast<std::uint16_t>(h)});
    ASSERT_EQ(bits(got), h << 16);
    if (!std::isnan(got)) {
      ASSERT_EQ(to_bf16(got).bits, h) << std::hex << h;
    }
  }
}

TEST(DType, NarrowingRoundsToNearestEvenAroundEveryValueAndTie) {
  // Every fp32 value within 2 ulps of every representable 16-bit value and of every midpoint
  // between neighbours (the ties), both signs: the cases a rounding gets wrong.
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = f16_value(static_cast<std::uint16_t>(h)), hi = f16_value(static_cast<std::uint16_t>(h + 1));
    for (const double c : {lo, (lo + hi) / 2})
      for (int k = -2; k <= 2; ++k) {
        const float x = from_bits(bits(static_cast<float>(c)) + static_cast<std::uint32_t>(k));
        if (c == 0 && k < 0) continue;
        expect_narrowing(x);
        expect_narrowing(-x);
      }
  }
  for (std::uint32_t h = 0; h < 0x7f80; ++h)
    for (const std::uint32_t c : {h << 16, (h << 16) | 0x8000u})
      for (int k = -2; k <= 2; ++k) {
        if (c == 0 && k < 0) continue;
        const float x = from_bits(c + static_cast<std::uint32_t>(k));
        expect_narrowing(x);
        expect_narrowing(-x);
      }
}

TEST(DType, NarrowingMatchesTheReferenceOnAStrideThroughAllPatterns) {
  // 2^32 / 65537 ≈ 65535 patterns, each a different residue of the low bits, NaNs and infs included.
  for (std::uint64_t u = 0; u < (1ull << 32); u += 65537) expect_narrowing(from_bits(static_cast<std::uint32_t>(u)));
}

TEST(DType, OverflowThresholdsAreExact) {
  // f16: 65504 is the largest; 65520 (halfway to 65536) rounds to inf, the float below it to 65504.
  EXPECT_EQ(to_float(to_f16(65504.0f)), 65504.0f);
  EXPECT_EQ(to_float(to_f16(std::nextafter(65520.0f, 0.0f))), 65504.0f);
  EXPECT_EQ(to_float(to_f16(65520.0f)), std::numeric_limits<float>::infinity());
  EXPECT_EQ(to_float(to_f16(-65520.0f)), -std::numeric_limits<float>::infinity());
  // The smallest subnormal 2^-24; half of it is a tie that goes to (even) zero, above it to 2^-24.
  EXPECT_EQ(to_float(to_f16(0x1p-24f)), 0x1p-24f);
  EXPECT_EQ(bits(to_float(to_f16(0x1p-25f))), 0u);
  EXPECT_EQ(to_float(to_f16(std::nextafter(0x1p-25f, 1.0f))), 0x1p-24f);
  // bf16 keeps fp32's range: FLT_MAX rounds up to inf, the largest bf16 stays.
  EXPECT_EQ(to_float(to_bf16(std::numeric_limits<float>::max())), std::numeric_limits<float>::infinity());
  EXPECT_EQ(to_float(to_bf16(from_bits(0x7f7f0000u))), from_bits(0x7f7f0000u));
  // 1001 is 1000 in bf16 (8 significant bits: the quantum at 512..1024 is 4), 1002 is a tie.
  EXPECT_EQ(to_float(to_bf16(1001.0f)), 1000.0f);
  EXPECT_EQ(to_float(to_bf16(1002.0f)), 1000.0f);
  EXPECT_EQ(to_float(to_bf16(1006.0f)), 1008.0f);
}

TEST(DType, NamesAndSizes) {
  for (const DType t : {DType::f32, DType::f16, DType::bf16}) EXPECT_EQ(parse_dtype(to_string(t)), t);
  EXPECT_EQ(parse_dtype("float16"), DType::f16);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("f64"), std::nullopt);
  EXPECT_EQ(size_of(DType::f32), 4u);
  EXPECT_EQ(size_of(DType::bf16), 2u);
  static_assert(dtype_of<const f16> == DType::f16 && dtype_of<float> == DType::f32);
  EXPECT_EQ(from_float<f16>(65520.0f), to_f16(65520.0f));
  EXPECT_EQ(from_float<bf16>(1002.0f), to_bf16(1002.0f));
  EXPECT_EQ(from_float<float>(0.1f), 0.1f);
}

}  // namespace
}  // namespace attn::test
