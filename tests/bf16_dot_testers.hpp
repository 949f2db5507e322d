// Shared by the tests of the bf16 dot-product paths (vdpbf16ps: the fused kernel's S, the decode
// kernel's logits): which process has them, random bf16 inputs, and the fp64 dot product with
// its error scale.
#pragma once

#include "cpu_features.hpp"
#include "fused/ukernels.hpp"

#include <attn/attention.hpp>
#include <attn/dtype.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace attn::test {

/// The avx512 fused table's bf16 S path, or nullptr where this process has none (the decode
/// table carries its logits exactly where this is set: test_decode_bf16.cpp).
inline const fused::Ukernels::Bf16Dot* bf16_dot() {
  const fused::Ukernels* uk = fused::ukernels_for(fused::Isa::avx512);
  return uk != nullptr && uk->bf16_dot.qk != nullptr ? &uk->bf16_dot : nullptr;
}

#define SKIP_WITHOUT_BF16_DOT()                                                                     \
  if (::attn::test::bf16_dot() == nullptr)                                                          \
  GTEST_SKIP() << "no bf16 dot path in this process: the CPU lacks AVX512_BF16, or ATTN_ISA below " \
                  "avx512 or ATTN_BF16_DOT=off turned it off"

/// The kernels run the bf16 dot paths: the active table carries them.
#define SKIP_WITHOUT_ACTIVE_BF16_DOT() \
  SKIP_WITHOUT_BF16_DOT();             \
  if (::attn::fused::active_ukernels().bf16_dot.qk == nullptr) GTEST_SKIP() << "the active fused table is not avx512"

// Q and K bf16 take the paths whatever V, O and the mask are (the third).
inline const DTypes kBf16InF32Out{DType::bf16, DType::bf16, DType::bf16, DType::f32, DType::f32};
inline const DTypes kAllBf16{DType::bf16, DType::bf16, DType::bf16, DType::bf16, DType::bf16};
inline const DTypes kQkBf16{DType::bf16, DType::bf16, DType::f16, DType::f32, DType::bf16};

/// n bf16 values uniform in [-range, range), rounded to nearest even.
inline std::vector<bf16> random_bf16(std::size_t n, unsigned seed, float range = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-range, range);
  std::vector<bf16> x(n);
  for (bf16& e : x) e = to_bf16(u(gen));
  return x;
}

/// Σ_t q[t]·k[t] in fp64 and Σ|q[t]·k[t]| (the dot product's error scale), over t < d.
struct Dot {
  double exact = 0, mag = 0;
};
inline Dot fp64_dot(const bf16* q, const bf16* k, std::int64_t d) {
  Dot r;
  for (std::int64_t t = 0; t < d; ++t) {
    const double prod = static_cast<double>(to_float(q[t])) * to_float(k[t]);
    r.exact += prod, r.mag += std::abs(prod);
  }
  return r;
}

}  // namespace attn::test
