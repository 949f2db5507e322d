// The SIMD row softmax kernels, written once over an ISA's vector traits V (simd/avx2.hpp,
// simd/avx512.hpp: the interface is listed in simd/avx2.hpp) and included by softmax_avx2.cpp
// and softmax_avx512.cpp (each compiled with its own -m flags). Everything here has internal
// linkage, so the two ISAs' copies never meet at link time. Contracts: softmax_simd.hpp.
#pragma once

#include "simd/exp_poly.hpp"
#include "simd/kernel_name.hpp"
#include "softmax_simd.hpp"

namespace attn::softmax::simd {
namespace {

// Constants, not std::numeric_limits calls: at -O0 a call is emitted as a weak function
// compiled with this file's -m flags, which the linker may keep for every caller.
constexpr float kInfinity = __builtin_inff();
constexpr float kQuietNaN = __builtin_nanf("");

using attn::simd::exp_rr2_p7;

/// The first rem < W floats at p, the other lanes −inf (no access past them).
template <class V>
inline typename V::reg load_tail(const float* p, std::size_t rem) noexcept {
  return V::load_masked_or(p, V::first(static_cast<std::int64_t>(rem)), V::set1(-kInfinity));
}

template <class V>
inline void store_tail(float* p, typename V::reg v, std::size_t rem) noexcept {
  V::store_masked(p, V::first(static_cast<std::int64_t>(rem)), v);
}

template <class V>
void exp_array(const float* x, float* y, std::size_t n) noexcept {
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  std::size_t j = 0;
  for (; j + W <= n; j += W) V::store(y + j, exp_rr2_p7<V>(V::load(x + j)));
  if (j < n) store_tail<V>(y + j, exp_rr2_p7<V>(load_tail<V>(x + j, n - j)), n - j);
}

/// Max of x[0, n) ignoring NaN (−inf when empty), four accumulators.
template <class V>
float row_max(const float* x, std::size_t n) noexcept {
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  const auto ninf = V::set1(-kInfinity);
  auto m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  std::size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) {
    m0 = V::max(V::load(x + j), m0);
    m1 = V::max(V::load(x + j + W), m1);
    m2 = V::max(V::load(x + j + 2 * W), m2);
    m3 = V::max(V::load(x + j + 3 * W), m3);
  }
  for (; j + W <= n; j += W) m0 = V::max(V::load(x + j), m0);
  if (j < n) m1 = V::max(load_tail<V>(x + j, n - j), m1);
  return V::hmax(V::max(V::max(m0, m1), V::max(m2, m3)));
}

/// Σ exp(x − m) over x[0, n); with Store, also writes the exps back to x.
template <class V, bool Store>
float sum_exp(float* x, std::size_t n, float m) noexcept {
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  const auto vm = V::set1(m);
  auto s0 = V::zero(), s1 = s0, s2 = s0, s3 = s0;
  std::size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) {
    const auto e0 = exp_rr2_p7<V>(V::sub(V::load(x + j), vm));
    const auto e1 = exp_rr2_p7<V>(V::sub(V::load(x + j + W), vm));
    const auto e2 = exp_rr2_p7<V>(V::sub(V::load(x + j + 2 * W), vm));
    const auto e3 = exp_rr2_p7<V>(V::sub(V::load(x + j + 3 * W), vm));
    if constexpr (Store) {
      V::store(x + j, e0);
      V::store(x + j + W, e1);
      V::store(x + j + 2 * W, e2);
      V::store(x + j + 3 * W, e3);
    }
    s0 = V::add(s0, e0);
    s1 = V::add(s1, e1);
    s2 = V::add(s2, e2);
    s3 = V::add(s3, e3);
  }
  for (; j + W <= n; j += W) {
    const auto e = exp_rr2_p7<V>(V::sub(V::load(x + j), vm));
    if constexpr (Store) V::store(x + j, e);
    s0 = V::add(s0, e);
  }
  if (j < n) {
    const auto e = exp_rr2_p7<V>(V::sub(load_tail<V>(x + j, n - j), vm));  // padding: exp(−inf) = 0
    if constexpr (Store) store_tail<V>(x + j, e, n - j);
    s1 = V::add(s1, e);
  }
  return V::hsum(V::add(V::add(s0, s1), V::add(s2, s3)));
}

/// sum_exp<V, true> over x[0, n) with max m, and at the same time the max of the
/// next block y[0, ny): the exps work from L1 while the next block streams in from
/// memory, so the two overlap instead of following each other.
template <class V>
float sum_exp_with_next_max(float* x, std::size_t n, float m, const float* y, std::size_t ny, float& ymax) noexcept {
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  const std::size_t common = (n < ny ? n : ny) / (4 * W) * (4 * W);
  const auto vm = V::set1(m);
  const auto ninf = V::set1(-kInfinity);
  auto s0 = V::zero(), s1 = s0, s2 = s0, s3 = s0;
  auto m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  for (std::size_t j = 0; j < common; j += 4 * W) {
    m0 = V::max(V::load(y + j), m0);
    m1 = V::max(V::load(y + j + W), m1);
    m2 = V::max(V::load(y + j + 2 * W), m2);
    m3 = V::max(V::load(y + j + 3 * W), m3);
    const auto e0 = exp_rr2_p7<V>(V::sub(V::load(x + j), vm));
    const auto e1 = exp_rr2_p7<V>(V::sub(V::load(x + j + W), vm));
    const auto e2 = exp_rr2_p7<V>(V::sub(V::load(x + j + 2 * W), vm));
    const auto e3 = exp_rr2_p7<V>(V::sub(V::load(x + j + 3 * W), vm));
    V::store(x + j, e0);
    V::store(x + j + W, e1);
    V::store(x + j + 2 * W, e2);
    V::store(x + j + 3 * W, e3);
    s0 = V::add(s0, e0);
    s1 = V::add(s1, e1);
    s2 = V::add(s2, e2);
    s3 = V::add(s3, e3);
  }
  const float rest_max = row_max<V>(y + common, ny - common);
  const float head_max = V::hmax(V::max(V::max(m0, m1), V::max(m2, m3)));
  ymax = rest_max > head_max ? rest_max : head_max;
  return V::hsum(V::add(V::add(s0, s1), V::add(s2, s3))) + sum_exp<V, true>(x + common, n - common, m);
}

/// x ← x·c.
template <class V>
void scale_row(float* x, std::size_t n, float c) noexcept {
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  const auto vc = V::set1(c);
  std::size_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    V::store(x + j, V::mul(V::load(x + j), vc));
    V::store(x + j + W, V::mul(V::load(x + j + W), vc));
  }
  for (; j + W <= n; j += W) V::store(x + j, V::mul(V::load(x + j), vc));
  if (j < n) store_tail<V>(x + j, V::mul(load_tail<V>(x + j, n - j), vc), n - j);
}

/// The rows the arithmetic cannot normalise: +inf max (NaN), or no finite-or-+inf
/// entry (l = 0 unless a NaN hides among the −infs). x is left untouched.
inline bool degenerate(const float* x, std::size_t n, float m, RowStats& out) noexcept {
  if (m == kInfinity) {
    out = {m, kQuietNaN};
    return true;
  }
  if (m == -kInfinity) {
    out = {m, 0.0f};
    for (std::size_t j = 0; j < n; ++j)
      if (x[j] != x[j]) out.l = x[j];
    return true;
  }
  return false;
}

template <class V>
RowStats stable_3pass(float* x, std::size_t n) noexcept {
  const float m = row_max<V>(x, n);  // pass 1
  RowStats out;
  if (degenerate(x, n, m, out)) return out;
  const float l = sum_exp<V, true>(x, n, m);  // pass 2: the max term is exactly 1, l ∈ [1, n]
  scale_row<V>(x, n, 1.0f / l);               // pass 3
  return {m, l};
}

/// Blocks of the two-pass kernel: at least 2048 floats (8 KiB, still in L1 when
/// the block's exp pass re-reads it after its max), and at most kMaxBlocks of
/// them so that their maxima fit in a stack array (rows up to 2^23 floats keep
/// 2048-float blocks; longer rows get proportionally longer blocks, in L2).
inline constexpr std::size_t kMinBlock = 2048;
inline constexpr std::size_t kMaxBlocks = 4096;

template <class V>
RowStats stable_2pass(float* x, std::size_t n) noexcept {
  std::size_t block = (n + kMaxBlocks - 1) / kMaxBlocks;
  constexpr std::size_t W = static_cast<std::size_t>(V::W);
  block = block < kMinBlock ? kMinBlock : (block + W - 1) / W * W;
  float mb[kMaxBlocks];
  // Pass 1 over memory: per block, its max m_b (memory), then e = exp(x − m_b)
  // stored in place and summed (L1) while the next block's max is taken (so the
  // memory stream and the exps overlap); the block states merge online into (m, l):
  // (m, l) ∘ (m_b, l_b) = (max, l·e^{m − max} + l_b·e^{m_b − max}).
  float m = -kInfinity, l = 0.0f;
  if (n) mb[0] = row_max<V>(x, n < block ? n : block);
  for (std::size_t b = 0, i = 0; b < n; b += block, ++i) {
    const std::size_t len = n - b < block ? n - b : block;
    const std::size_t next = b + block < n ? (n - b - block < block ? n - b - block : block) : 0;
    float* xb = x + b;
    if (mb[i] == kInfinity) return {mb[i], kQuietNaN};
    if (mb[i] == -kInfinity) {  // no mass here: weights 0, unless a NaN hides
      for (std::size_t j = 0; j < len; ++j) {
        if (xb[j] != xb[j]) l = xb[j];
        xb[j] = 0.0f;
      }
      if (next) mb[i + 1] = row_max<V>(xb + len, next);
      continue;
    }
    float lb;
    if (next)
      lb = sum_exp_with_next_max<V>(xb, len, mb[i], xb + len, next, mb[i + 1]);
    else
      lb = sum_exp<V, true>(xb, len, mb[i]);
    float f[W];
    if (mb[i] > m) {
      V::store(f, exp_rr2_p7<V>(V::set1(m - mb[i])));  // m = −inf: exactly 0
      l = l * f[0] + lb;
      m = mb[i];
    } else {
      V::store(f, exp_rr2_p7<V>(V::set1(mb[i] - m)));
      l = l + lb * f[0];
    }
  }
  if (m == -kInfinity || l != l) return {m, l};  // l: 0, or NaN carried
  // Pass 2: y = e · e^{m_b − m} / l, one multiplier per block.
  const float inv = 1.0f / l;
  for (std::size_t b = 0, i = 0; b < n; b += block, ++i) {
    if (mb[i] == -kInfinity) continue;  // already 0
    float f[W];
    V::store(f, exp_rr2_p7<V>(V::set1(mb[i] - m)));
    scale_row<V>(x + b, n - b < block ? n - b : block, f[0] * inv);
  }
  return {m, l};
}

/// The table of this ISA's row kernels, named for what they are (simd/kernel_name.hpp).
template <class V>
RowKernels row_kernels() {
  using attn::simd::KernelName;
  static constexpr KernelName kThree = KernelName()
                                       << "f32_softmax_3pass__" << V::kName << "_rr2_p7_u" << 4 * V::W << "_acc4";
  static constexpr KernelName kTwo = KernelName()
                                     << "f32_softmax_2pass__" << V::kName << "_rr2_p7_u" << 4 * V::W << "_acc4";
  static constexpr KernelName kExp = KernelName() << "f32_exp__" << V::kName << "_rr2_p7_u" << V::W;
  return {stable_3pass<V>, stable_2pass<V>, exp_array<V>, {kThree.s, kTwo.s, kExp.s}};
}

}  // namespace
}  // namespace attn::softmax::simd
