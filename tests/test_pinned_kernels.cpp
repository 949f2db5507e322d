// Pinned kernels: the bits of the fused kernel (each of its microkernels on every sub-tile and
// tail, and attention() on every small tail: test_pinned_outputs.cpp pins larger calls of every
// kernel) and of the softmax row kernels on a fixed set of inputs, hashed and compared
// with the hashes recorded below. A refactoring that must not change results (issue 14: one
// SIMD scaffolding for every ISA) keeps these green; a change that alters results on purpose
// records the new hashes (the failure message prints them) and says why in its commit.
//
// Pinned: the scalar, AVX2 and AVX-512 tables, each where the CPU runs it (the AVX-512 pins
// were recorded on an AMD EPYC, family 1Ah, before the change; the operations are IEEE-exact,
// so any AVX-512 CPU gives the same bits).
// Inputs come from a fixed integer generator (no <random> distribution, whose algorithm is
// the standard library's choice), so the hashes depend only on the kernels' arithmetic.
#include "fused/ukernels.hpp"
#include "softmax_simd.hpp"

#include <attn/attention.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace attn::test {
namespace {

using fused::i64;
using fused::Isa;
using fused::Ukernels;
namespace simd = softmax::simd;

/// FNV-1a over the bit patterns of everything a case produced.
class Hash {
 public:
  void add(float x) { add_bits(std::bit_cast<std::uint32_t>(x)); }
  void add(const float* x, i64 n) {
    for (i64 i = 0; i < n; ++i) add(x[i]);
  }
  void add(const std::vector<float>& x) { add(x.data(), static_cast<i64>(x.size())); }
  std::uint64_t value() const { return h_; }

 private:
  void add_bits(std::uint32_t b) {
    for (int i = 0; i < 4; ++i) h_ = (h_ ^ ((b >> (8 * i)) & 0xffu)) * 0x100000001b3ull;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

/// Floats in [lo, hi) from splitmix64: the same sequence on every platform.
std::vector<float> fill(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> x(n);
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& e : x) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    e = lo + (hi - lo) * static_cast<float>(z >> 40) * 0x1p-24f;
  }
  return x;
}

/// The microkernels of one table on every sub-tile and tail, as the driver calls them.
std::uint64_t microkernels(const Ukernels& uk) {
  Hash h;
  for (i64 k : {1, 7, 17, 64}) {
    const auto qp = fill(static_cast<std::size_t>(k * uk.mr), 1 + k), kp = fill(static_cast<std::size_t>(k * uk.nr), 2);
    for (int m = 1; m <= uk.mr; ++m)
      for (int n = 1; n <= uk.nr; ++n) {
        std::vector<float> s(static_cast<std::size_t>(uk.mr * uk.nr), 0.0f);
        uk.qk(k, qp.data(), kp.data(), s.data(), uk.nr, m, n);
        h.add(s);
      }
    const i64 ldv = uk.pv_nr + 3;
    const auto p = fill(static_cast<std::size_t>(uk.mr * k), 3 + k, 0.0f, 1.0f),
               v = fill(static_cast<std::size_t>(k * ldv), 4), alpha = fill(static_cast<std::size_t>(uk.mr), 5, 0, 1);
    for (bool acc : {false, true})
      for (int m = 1; m <= uk.mr; ++m)
        for (int n = 1; n <= uk.pv_nr; ++n) {
          std::vector<float> o = fill(static_cast<std::size_t>(uk.mr * uk.pv_nr), 6);
          uk.pv(k, p.data(), k, v.data(), ldv, o.data(), uk.pv_nr, m, n, acc ? alpha.data() : nullptr);
          h.add(o);
        }
  }
  for (i64 n : {1, 7, 16, 17, 33, 48})
    for (i64 d : {1, 7, 8, 9, 31, 64, 65}) {
      const auto k = fill(static_cast<std::size_t>(n * (d + 3)), 7);
      std::vector<float> kp(static_cast<std::size_t>((n + uk.nr - 1) / uk.nr * d * uk.nr));
      uk.pack_kt(n, d, k.data(), d + 3, kp.data());
      h.add(kp);
      std::vector<float> vp(static_cast<std::size_t>((d + uk.pv_nr - 1) / uk.pv_nr * n * uk.pv_nr), 0.0f);
      uk.pack_v(n, d, k.data(), d + 3, vp.data());
      h.add(vp);
    }
  for (i64 n = 1; n <= 70; ++n) {
    const i64 rows = 11, lds = n + 2;
    auto s = fill(static_cast<std::size_t>(rows * lds), 8 + n, -30.0f, 3.0f);
    std::vector<float> m = fill(rows, 9, -10.0f, 2.0f), l = fill(rows, 10, 0.0f, 5.0f), alpha(rows);
    m[0] = -std::numeric_limits<float>::infinity(), l[0] = 0.0f;
    uk.softmax_step(s.data(), lds, rows, n, m.data(), l.data(), alpha.data());
    h.add(s), h.add(m), h.add(l), h.add(alpha);
    std::vector<float> x = fill(static_cast<std::size_t>(n), 11 + n, -130.0f, 0.0f), y(x.size());
    uk.exp2(x.data(), y.data(), n);
    h.add(y);
  }
  return h.value();
}

/// The whole kernel through attention() on shapes around every tile, block and split boundary.
std::uint64_t attention_outputs() {
  struct Shape {
    i64 b, h, hkv, nq, nk, d, dv;
    Causal causal;
    bool mask;
  };
  std::vector<Shape> shapes;
  for (i64 nq : {1, 2, 5, 6, 7, 13, 33})
    for (i64 nk : {1, 3, 8, 15, 16, 17, 31, 32, 33})
      for (i64 d : {1, 4, 17, 64}) shapes.push_back({1, 2, 1, nq, nk, d, d, Causal::none, false});
  for (Causal c : {Causal::none, Causal::top_left, Causal::bottom_right})
    for (i64 d : {16, 33, 64, 65, 128}) {
      shapes.push_back({1, 2, 2, 97, 300, d, d, c, false});
      shapes.push_back({2, 4, 2, 600, 257, d, d == 33 ? 70 : d, c, c == Causal::none});
    }
  shapes.push_back({1, 4, 1, 1, 5000, 128, 128, Causal::none, false});  // decode: split KV
  shapes.push_back({1, 2, 2, 3, 4099, 64, 64, Causal::bottom_right, false});
  shapes.push_back({1, 1, 1, 1200, 1200, 64, 64, Causal::top_left, false});  // several key groups
  Hash h;
  std::uint64_t seed = 100;
  for (const Shape& s : shapes) {
    const auto q = fill(static_cast<std::size_t>(s.b * s.h * s.nq * s.d), ++seed, -2.0f, 2.0f);
    const auto k = fill(static_cast<std::size_t>(s.b * s.hkv * s.nk * s.d), ++seed, -2.0f, 2.0f);
    const auto v = fill(static_cast<std::size_t>(s.b * s.hkv * s.nk * s.dv), ++seed);
    auto mask = fill(static_cast<std::size_t>(s.nq * s.nk), ++seed, -3.0f, 1.0f);
    for (std::size_t i = 0; i < mask.size(); i += 5) mask[i] = -std::numeric_limits<float>::infinity();
    std::vector<float> o(static_cast<std::size_t>(s.b * s.h * s.nq * s.dv)),
        lse(static_cast<std::size_t>(s.b * s.h * s.nq));
    Options opts;
    opts.kernel = "fused";
    opts.threads = 2;
    opts.causal = s.causal;
    if (s.mask) opts.mask = Mask{mask.data(), s.nq, s.nk, 0};
    attention(ConstTensor::contiguous(q.data(), s.b, s.h, s.nq, s.d),
              ConstTensor::contiguous(k.data(), s.b, s.hkv, s.nk, s.d),
              ConstTensor::contiguous(v.data(), s.b, s.hkv, s.nk, s.dv),
              Tensor::contiguous(o.data(), s.b, s.h, s.nq, s.dv), lse_view(lse.data(), s.b, s.h, s.nq), opts);
    h.add(o), h.add(lse);
  }
  return h.value();
}

/// A softmax row kernel on rows of every tail length, long rows, and logits whose exp overflows unless
/// the max is subtracted.
template <class Kernel>
std::uint64_t softmax_rows(Kernel kernel) {
  Hash h;
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n <= 70; ++n) lengths.push_back(n);
  for (std::size_t n : {255u, 1000u, 4097u, 70000u, 300001u}) lengths.push_back(n);
  for (std::size_t n : lengths)
    for (int range = 0; range < 2; ++range) {
      auto x = range ? fill(n, n, 90.0f, 100.0f) : fill(n, n + 1, -20.0f, 20.0f);
      if (n > 3) x[n / 3] = -std::numeric_limits<float>::infinity();
      const simd::RowStats s = kernel(x.data(), n);
      h.add(x), h.add(s.m), h.add(s.l);
    }
  return h.value();
}

std::uint64_t exp_outputs(void (*exp)(const float*, float*, std::size_t) noexcept) {
  Hash h;
  for (std::size_t n = 1; n <= 70; ++n) {
    const auto x = fill(n, 200 + n, -100.0f, 0.0f);
    std::vector<float> y(n);
    exp(x.data(), y.data(), n);
    h.add(y);
  }
  return h.value();
}

void expect_pinned(const char* what, std::uint64_t got, std::uint64_t want) {
  EXPECT_EQ(got, want) << what << ": outputs changed; if on purpose, pin 0x" << std::hex << got << "ull";
}

class ForcedIsa {
 public:
  explicit ForcedIsa(Isa isa) : saved_(fused::active_ukernels().isa) { ok_ = fused::force_isa(isa); }
  ~ForcedIsa() { fused::force_isa(saved_); }
  bool ok() const { return ok_; }

 private:
  Isa saved_;
  bool ok_;
};

TEST(PinnedKernels, FusedScalar) {
  ForcedIsa isa(Isa::scalar);
  ASSERT_TRUE(isa.ok());
  expect_pinned("scalar microkernels", microkernels(*fused::ukernels_for(Isa::scalar)), 0xebfee3e1baddb881ull);
  expect_pinned("fused attention, scalar", attention_outputs(), 0x4edcf0dbf185200dull);
}

TEST(PinnedKernels, FusedAvx2) {
  ForcedIsa isa(Isa::avx2);
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no AVX2";
  expect_pinned("avx2 microkernels", microkernels(*fused::ukernels_for(Isa::avx2)), 0xee9b74283ebd55faull);
  expect_pinned("fused attention, avx2", attention_outputs(), 0x6ca300ee55cffb16ull);
}

TEST(PinnedKernels, FusedAvx512) {
  ForcedIsa isa(Isa::avx512);
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no AVX-512";
  expect_pinned("avx512 microkernels", microkernels(*fused::ukernels_for(Isa::avx512)), 0xbb981449e8d0a536ull);
  expect_pinned("fused attention, avx512", attention_outputs(), 0xe9c0df88a349527aull);
}

TEST(PinnedKernels, SoftmaxRowsAvx512) {
  const simd::RowKernels* avx512 = simd::row_kernels_for(Isa::avx512);
  if (avx512 == nullptr) GTEST_SKIP() << "this CPU has no AVX-512";
  expect_pinned("softmax rows, avx512 3-pass", softmax_rows(avx512->three_pass), 0x18292c519de6fac5ull);
  expect_pinned("softmax rows, avx512 2-pass", softmax_rows(avx512->two_pass), 0xbcfb3c307b133700ull);
  expect_pinned("exp_rr2_p7, avx512", exp_outputs(avx512->exp), 0x50c441588ac6960dull);
}

TEST(PinnedKernels, SoftmaxRows) {
  expect_pinned("softmax rows, scalar", softmax_rows(simd::row_kernels_for(Isa::scalar)->three_pass),
                0x7b8de29e1e39c567ull);
  const simd::RowKernels* avx2 = simd::row_kernels_for(Isa::avx2);
  if (avx2 == nullptr) GTEST_SKIP() << "this CPU has no AVX2";
  expect_pinned("softmax rows, avx2 3-pass", softmax_rows(avx2->three_pass), 0x3a24ed7c319592f7ull);
  expect_pinned("softmax rows, avx2 2-pass", softmax_rows(avx2->two_pass), 0xb0e5bdf338dfb080ull);
  expect_pinned("exp_rr2_p7, avx2", exp_outputs(avx2->exp), 0x50c441588ac6960dull);
}

}  // namespace
}  // namespace attn::test
