// simd/avx512.hpp's traits for registers of bf16 pairs: each 32-bit lane holds two bf16 values
// (the lower one first) and fma(a, b, c) is vdpbf16ps, c + a.lo·b.lo + a.hi·b.hi per lane,
// so ukernels_simd.hpp's Q Kᵀ tile runs on pairs unchanged (a depth of d/2 pairs). Every other
// operation is Avx512's: broadcasts, loads, stores and transposes move the pairs' bits as
// they are. Include only from a unit compiled with -mavx512bf16 (ukernel_avx512_bf16.cpp).
//
// What vdpbf16ps computes (Intel SDM; the same measured on a Zen 5): each product of two bf16
// values is exact in fp32, the two are added to c one after the other, each sum rounded to
// nearest even, so a d-term dot product keeps fp32's bound γ_d Σ|q k|; but it ignores MXCSR
// and flushes denormals: a bf16 input below 2^-126 is read as 0 and a sum or product below it
// becomes 0 (an absolute error under 2^-126 per term, besides the terms with a denormal input).
#pragma once

#include "simd/avx512.hpp"

namespace attn::simd {
namespace {

struct Avx512Bf16Pairs : Avx512 {
  static constexpr const char* kFmaName = "avx512bf16_dpbf16ps";

  static reg fma(reg a, reg b, reg c) noexcept { return _mm512_dpbf16_ps(c, as_pairs(a), as_pairs(b)); }
  /// The first n of a register's 32 bf16 elements (all from 32 on, none from 0 down).
  static __mmask32 first_elements(std::int64_t n) noexcept {
    return n >= 32 ? 0xffffffffu : n <= 0 ? 0u : (1u << n) - 1;
  }
  /// 32 bf16 values from p as 16 pairs, the elements outside m read as 0 and never touched.
  static reg load_elements(const bf16* p, __mmask32 m) noexcept {
    return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, p));
  }
  /// The first `elements` (at most 32) of those: an odd tail gets its pair's upper half zero.
  static reg load_pairs(const bf16* p, std::int64_t elements) noexcept {
    return load_elements(p, first_elements(elements));
  }

 private:
  static __m512bh as_pairs(reg v) noexcept { return reinterpret_cast<__m512bh>(_mm512_castps_si512(v)); }
};

/// The same pairs loaded straight from rows of bf16, as memory holds them (element 2p in the
/// lower half of lane p): W counts elements, 32 a register, and masks are per element, so a
/// loop written over W elements at a time (decode/kernels_simd.hpp's logits) takes a dot
/// product of d elements in ceil(d / 32) vdpbf16ps without packing either operand. Masked-off
/// elements read as 0 and are never touched.
struct Avx512Bf16Rows : Avx512Bf16Pairs {
  using mask = __mmask32;
  static constexpr int W = 32;

  static mask first(std::int64_t n) noexcept { return first_elements(n); }
  static reg load(const bf16* p) noexcept { return _mm512_castsi512_ps(_mm512_loadu_si512(p)); }
  static reg load_masked(const bf16* p, mask m) noexcept { return load_elements(p, m); }
};

}  // namespace
}  // namespace attn::simd
