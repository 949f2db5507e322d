// tools/attnlab/precision.hpp: round-to-nearest-even into fp16, bf16, fp32, fp64,
// with gradual underflow and overflow to inf, checked against the compiler's own
// conversions where it has them and against hand-worked ties where it does not.
#include "precision.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace {

using attnlab::format_named;

TEST(Precision, Fp32MatchesTheHardwareConversion) {
  const auto& f = format_named("fp32");
  std::mt19937_64 gen(1);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-160, 130);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(mant(gen), expo(gen)) * (i % 2 ? -1 : 1);
    ASSERT_EQ(f.round(x), static_cast<double>(static_cast<float>(x))) << x;
  }
  // Exact ties: 1 + 2^-24 is halfway between 1 and 1 + 2^-23 → 1 (even).
  EXPECT_EQ(f.round(1.0 + std::ldexp(1.0, -24)), 1.0);
  EXPECT_EQ(f.round(1.0 + 3 * std::ldexp(1.0, -24)), 1.0 + std::ldexp(1.0, -22));
  // Overflow: max + half an ulp rounds to inf, just below it to max.
  const double max = std::numeric_limits<float>::max();
  EXPECT_EQ(f.max(), max);
  EXPECT_EQ(f.round(max + std::ldexp(1.0, 103)), INFINITY);
  EXPECT_EQ(f.round(max + std::ldexp(1.0, 102)), max);
  EXPECT_EQ(f.round(-(max + std::ldexp(1.0, 103))), -INFINITY);
}

#if defined(__FLT16_MAX__)
TEST(Precision, Fp16MatchesTheCompilersFloat16) {
  const auto& f = format_named("fp16");
  EXPECT_EQ(f.max(), 65504.0);
  std::mt19937_64 gen(2);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-27, 17);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(mant(gen), expo(gen)) * (i % 2 ? -1 : 1);
    ASSERT_EQ(f.round(x), static_cast<double>(static_cast<_Float16>(x))) << x;
  }
}
#endif

TEST(Precision, Fp16Edges) {
  const auto& f = format_named("fp16");
  EXPECT_EQ(f.round(65519.0), 65504.0);   // below max + ulp/2 = 65520
  EXPECT_EQ(f.round(65520.0), INFINITY);  // the tie goes to the even neighbour 65536: inf
  EXPECT_EQ(f.denorm_min(), std::ldexp(1.0, -24));
  EXPECT_EQ(f.round(std::ldexp(1.0, -25)), 0.0);                   // tie with 0 → 0
  EXPECT_EQ(f.round(std::ldexp(1.5, -25)), std::ldexp(1.0, -24));  // above the tie
  EXPECT_EQ(f.round(std::ldexp(3.0, -25)), std::ldexp(2.0, -24));  // 1.5 quanta → 2 (even)
  EXPECT_EQ(f.round(2049.0), 2048.0);                              // 11 bits: spacing 2 above 2048, tie → even
  EXPECT_EQ(f.round(2051.0), 2052.0);
}

TEST(Precision, Bf16Edges) {
  const auto& f = format_named("bf16");
  EXPECT_EQ(f.round(1.0 + std::ldexp(1.0, -8)), 1.0);                            // tie → even
  EXPECT_EQ(f.round(1.0 + 3 * std::ldexp(1.0, -8)), 1.0 + std::ldexp(1.0, -6));  // tie → even (up)
  EXPECT_EQ(f.round(1001.0), 1000.0);
  EXPECT_EQ(f.round(1002.0), 1000.0);  // tie between 1000 and 1004 → 1000 (even)
  EXPECT_EQ(f.round(1003.0), 1004.0);
  EXPECT_EQ(f.max(), std::ldexp(255.0, 120));  // 0x7F7F = 3.3895e38
  EXPECT_EQ(f.round(f.max() + std::ldexp(1.0, 119)), INFINITY);
  EXPECT_EQ(f.round(f.max() + std::ldexp(1.0, 118)), f.max());
  EXPECT_EQ(f.denorm_min(), std::ldexp(1.0, -133));
  EXPECT_EQ(f.round(std::ldexp(1.0, -134)), 0.0);
  // bf16 is the top half of fp32: rounding a float's bits to nearest-even agrees.
  std::mt19937 gen(3);
  for (int i = 0; i < 100000; ++i) {
    std::uint32_t bits = gen();
    if (((bits >> 23) & 0xFF) == 0xFF) continue;  // skip inf/NaN
    float x;
    std::memcpy(&x, &bits, 4);
    std::uint32_t r = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;
    float y;
    std::memcpy(&y, &r, 4);
    ASSERT_EQ(f.round(x), static_cast<double>(y)) << x;
  }
}

TEST(Precision, SpecialValuesPassThroughAndNamesAreChecked) {
  for (const auto& f : attnlab::formats()) {
    EXPECT_TRUE(std::isnan(f.round(NAN)));
    EXPECT_EQ(f.round(INFINITY), INFINITY);
    EXPECT_EQ(f.round(-INFINITY), -INFINITY);
    EXPECT_TRUE(std::signbit(f.round(-0.0)));
  }
  EXPECT_THROW(format_named("fp8"), std::invalid_argument);
  EXPECT_EQ(format_named("fp64").round(0.1), 0.1);
}

}  // namespace
