// The fused kernel beyond the shared grid: its exp2 contract (every float of
// the domain), the microkernels on every sub-tile, block boundaries, guard
// pages, thread-count determinism including split-KV decode, its error next to
// blas, large logits, masked leading blocks and its memory bounds. Every test
// that runs the kernel runs once per ISA this CPU supports.
#include "fused/blocking.hpp"
#include "fused/ukernels.hpp"
#include "fused_testers.hpp"
#include "masking.hpp"
#include "simd/exp_poly.hpp"
#include "testkit.hpp"

#include <omp.h>
#include <attn/kernels.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

namespace attn::test {
namespace {

using fused::Isa;
using fused::Ukernels;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

class PerIsa : public UsableIsaTest {
 protected:
  const Ukernels& uk() const { return *fused::ukernels_for(GetParam()); }
  fused::BlockSizes blocks(i64 d) const { return fused::block_sizes(GetParam(), d); }
};
INSTANTIATE_TEST_SUITE_P(Fused, PerIsa, ::testing::ValuesIn(isas()),
                         [](const auto& p) { return std::string(fused::isa_name(p.param)); });

// --- exp2: the accuracy contract, over every float of the domain -------------

std::uint32_t bits(float x) {
  return std::bit_cast<std::uint32_t>(x);
}

/// 2^x in fp64 to about 1e-16 relative (1e-8 of an fp32 ulp), branch-free so the sweep
/// vectorises: n = round(x) by the 1.5·2^52 trick, f = x − n in [−½, ½] exactly,
/// e^(f ln 2) by its Taylor series to degree 13 (remainder < 0.35^14 / 14! < 4e-18),
/// 2^n from the exponent field (the low 12 bits of bits(t) + 1023 are n + 1023).
inline double exp2_reference(float x) {
  const double t = static_cast<double>(x) + 0x1.8p52, n = t - 0x1.8p52, g = (x - n) * 0.69314718055994530942;
  double s = 1.0 / 6227020800.0;  // 1/13!
  s = s * g + 1.0 / 479001600, s = s * g + 1.0 / 39916800, s = s * g + 1.0 / 3628800, s = s * g + 1.0 / 362880;
  s = s * g + 1.0 / 40320, s = s * g + 1.0 / 5040, s = s * g + 1.0 / 720, s = s * g + 1.0 / 120;
  s = s * g + 1.0 / 24, s = s * g + 1.0 / 6, s = s * g + 0.5, s = s * g + 1.0, s = s * g + 1.0;
  return s * std::bit_cast<double>((std::bit_cast<std::uint64_t>(t) + 1023u) << 52);
}

/// |y − ref| in units of ulp(ref) = 2^(e − 23), e the fp64 exponent of ref (a normal float here).
inline double ulp_error(float y, double ref) {
  const std::uint64_t e = std::bit_cast<std::uint64_t>(ref) >> 52;  // biased, sign bit 0
  return std::abs(static_cast<double>(y) - ref) * std::bit_cast<double>((2 * 1023u + 23u - e) << 52);
}

TEST(Fused, Exp2ReferenceAgreesWithLibm) {
  double worst = 0;
  for (std::uint32_t b = 0x80000000u; b <= bits(-126.0f); b += 4099) {
    const float x = std::bit_cast<float>(b);
    worst = std::max(worst, std::abs(exp2_reference(x) / std::exp2(static_cast<double>(x)) - 1.0));
  }
  EXPECT_LT(worst, 1e-15);
  EXPECT_EQ(ulp_error(1.0f + 0x1p-23f, 1.0), 1.0);
  EXPECT_EQ(ulp_error(0.5f, 0.5 + 0x1p-25), 0.5);
}

TEST(Fused, Exp2MeetsItsUlpContractOnEveryFloatInItsDomainForEveryIsa) {
  // Every x in [-126, -0]: bit patterns 0x80000000 (-0) .. bits(-126.0f), about 1.1e9 floats,
  // the fp64 reference computed once per float and compared with every ISA's exp2.
  const std::vector<Isa> all = usable_isas();
  const std::size_t nisa = all.size();
  const std::uint32_t first = 0x80000000u, last = bits(-126.0f);
  const i64 chunk = 1 << 14, chunks = (static_cast<i64>(last) - first + chunk) / chunk;
  std::vector<double> worst(nisa, 0.0);
  std::vector<float> worst_x(nisa, 0.0f);
  // AVX2 and AVX-512 share the reduction and the polynomial: their values must be bitwise equal.
  const auto avx2_at = std::find(all.begin(), all.end(), Isa::avx2),
             avx512_at = std::find(all.begin(), all.end(), Isa::avx512);
  const bool compare_simd = avx2_at != all.end() && avx512_at != all.end();
  i64 simd_differ = 0;
#pragma omp parallel num_threads(2) reduction(+ : simd_differ)
  {
    std::vector<float> x(chunk), y(chunk), y_avx2(chunk);
    std::vector<double> ref(chunk);
    std::vector<double> my_worst(nisa, 0.0);
    std::vector<float> my_x(nisa, 0.0f);
#pragma omp for schedule(dynamic, 64)
    for (i64 c = 0; c < chunks; ++c) {
      const std::uint32_t b0 = first + static_cast<std::uint32_t>(c * chunk);
      const i64 n = std::min<i64>(chunk, static_cast<i64>(last) - b0 + 1);
      for (i64 i = 0; i < n; ++i) x[i] = std::bit_cast<float>(b0 + static_cast<std::uint32_t>(i));
      if (std::abs(x[n - 1]) < 0x1p-25f) {  // chunks are monotone in |x|: this one is all tiny
        // 2^x = 1 + x ln2 + (x ln2)²/2 + O(2^-77) for |x| < 2^-25: three quarters of the floats, cheaply.
#pragma omp simd
        for (i64 i = 0; i < n; ++i) {
          const double g = x[i] * 0.69314718055994530942;
          ref[i] = 1.0 + g + 0.5 * g * g;
        }
      } else {
#pragma omp simd
        for (i64 i = 0; i < n; ++i) ref[i] = exp2_reference(x[i]);
      }
      if (compare_simd) fused::ukernels_for(Isa::avx2)->exp2(x.data(), y_avx2.data(), n);
      for (std::size_t s = 0; s < nisa; ++s) {
        fused::ukernels_for(all[s])->exp2(x.data(), y.data(), n);
        if (compare_simd && all[s] == Isa::avx512)
          for (i64 i = 0; i < n; ++i) simd_differ += bits(y[i]) != bits(y_avx2[i]);
        double w = 0;
#pragma omp simd reduction(max : w)
        for (i64 i = 0; i < n; ++i) w = std::max(w, std::isnan(y[i]) ? 1e300 : ulp_error(y[i], ref[i]));
        if (w > my_worst[s]) {  // rare: find where
          for (i64 i = 0; i < n; ++i)
            if (!(ulp_error(y[i], ref[i]) < w)) my_x[s] = x[i];
          my_worst[s] = w;
        }
      }
    }
#pragma omp critical
    for (std::size_t s = 0; s < nisa; ++s)
      if (my_worst[s] > worst[s]) worst[s] = my_worst[s], worst_x[s] = my_x[s];
  }
  EXPECT_EQ(simd_differ, 0) << "floats where the AVX-512 and AVX2 exp2 differ";
  for (std::size_t s = 0; s < nisa; ++s) {
    std::printf("exp2 %s: max error %.4f ulp on [-126, 0], at x = %a\n", fused::isa_name(all[s]), worst[s],
                static_cast<double>(worst_x[s]));
    RecordProperty(std::string("max_ulp_") + fused::isa_name(all[s]), std::to_string(worst[s]));
    EXPECT_LE(worst[s], fused::ukernels_for(all[s])->exp2_max_ulp)
        << fused::isa_name(all[s]) << " at x = " << worst_x[s];
  }
}

TEST_P(PerIsa, Exp2FlushesToPlusZeroBelowTheUnderflowBoundAndPassesNaN) {
  // Every float below -126 down to -inf gives exactly +0.
  const std::uint32_t first = bits(-126.0f) + 1, last = bits(-kInf);
  const i64 chunk = 1 << 16, chunks = (static_cast<i64>(last) - first + chunk) / chunk;
  long bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
  {
    std::vector<float> x(chunk), y(chunk);
#pragma omp for schedule(dynamic, 16)
    for (i64 c = 0; c < chunks; ++c) {
      const std::uint32_t b0 = first + static_cast<std::uint32_t>(c * chunk);
      const i64 n = std::min<i64>(chunk, static_cast<i64>(last) - b0 + 1);
      for (i64 i = 0; i < n; ++i) x[i] = std::bit_cast<float>(b0 + static_cast<std::uint32_t>(i));
      uk().exp2(x.data(), y.data(), n);
      for (i64 i = 0; i < n; ++i) bad += bits(y[i]) != 0u;
    }
  }
  EXPECT_EQ(bad, 0) << "values below -126 that did not flush to +0";
  std::vector<float> x = {std::bit_cast<float>(0x7fc00000u),
                          std::bit_cast<float>(0xffc00000u),
                          std::bit_cast<float>(0x7f800001u),
                          std::bit_cast<float>(0xffffffffu),
                          -0.0f,
                          0.0f,
                          -126.0f};
  std::vector<float> y(x.size());
  uk().exp2(x.data(), y.data(), static_cast<i64>(x.size()));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(y[i])) << "NaN pattern " << i;
  EXPECT_EQ(y[4], 1.0f);
  EXPECT_EQ(y[5], 1.0f);
  EXPECT_EQ(y[6], 0x1p-126f);
}

/// The online-softmax step against its contract (ukernels.hpp), computed here in fp64 from the
/// ISA's own exp2 (the stored p must be exactly exp2's; the sums within γ_n).
TEST_P(PerIsa, SoftmaxStepOnEveryTailLength) {
  const i64 rows = 3, lds = 41;
  for (i64 n = 1; n <= 40; ++n) {
    // Row 0: a max above the running one (alpha < 1); row 1: below it (alpha = 1);
    // row 2: nothing visible before (m = -inf, l = 0). Then again with a NaN logit in row 1.
    for (bool with_nan : {false, true}) {
      GuardedFloats s(static_cast<std::size_t>((rows - 1) * lds + n));  // the last row ends at a guard page
      fill_random(s.data(), s.size(), 31 + static_cast<std::uint32_t>(n), -20.0f, 3.0f);
      if (n > 3) s[2] = -kInf;  // a masked logit contributes 0
      if (with_nan) s[static_cast<std::size_t>(lds + n / 2)] = kNaN;
      float m[rows] = {-5.0f, 10.0f, -kInf}, l[rows] = {2.5f, 7.0f, 0.0f}, alpha[rows];
      const std::vector<float> before(s.data(), s.data() + s.size());
      const std::vector<float> m0(m, m + rows), l0(l, l + rows);
      uk().softmax_step(s.data(), lds, rows, n, m, l, alpha);
      for (i64 r = 0; r < rows; ++r) {
        const float* x = before.data() + r * lds;
        float mb = m0[r];
        for (i64 j = 0; j < n; ++j)
          if (x[j] > mb) mb = x[j];  // NaN compares false: ignored
        ASSERT_EQ(m[r], mb) << "n=" << n << " row " << r;
        // alpha is the specification's exp2_rr1_p6, bit for bit (no FMA contraction: sources.cmake).
        const float want_alpha = mb > m0[r] ? simd::exp2_rr1_p6(m0[r] - mb) : 1.0f;
        ASSERT_EQ(alpha[r], want_alpha) << "n=" << n << " row " << r;
        std::vector<float> ref(x, x + n);
        for (float& v : ref) v -= mb;
        uk().exp2(ref.data(), ref.data(), n);
        double exact = static_cast<double>(l0[r]) * alpha[r];
        bool nan = false;
        for (i64 j = 0; j < n; ++j) {
          const float got = s[static_cast<std::size_t>(r * lds + j)];
          if (std::isnan(ref[j])) {
            EXPECT_TRUE(std::isnan(got));
            nan = true;
          } else {
            EXPECT_EQ(got, ref[j]) << "n=" << n << " row " << r << " j=" << j;  // the stored values are exp2's
          }
          exact += got;
        }
        if (nan)
          EXPECT_TRUE(std::isnan(l[r])) << "n=" << n << ": a NaN logit must reach the sum";
        else
          EXPECT_LE(std::abs(l[r] - exact), gamma(n + 2) * exact) << "n=" << n << " row " << r;
      }
    }
  }
  // Every key masked so far and now: p = 0, l stays 0, m stays -inf, alpha 1 (no -inf − -inf).
  float s[5] = {-kInf, -kInf, -kInf, -kInf, -kInf}, m = -kInf, l = 0.0f, alpha = kNaN;
  uk().softmax_step(s, 5, 1, 5, &m, &l, &alpha);
  EXPECT_EQ(m, -kInf);
  EXPECT_EQ(l, 0.0f);
  EXPECT_EQ(alpha, 1.0f);
  for (float p : s) EXPECT_EQ(p, 0.0f);
}

// --- microkernels: every sub-tile, depths around the unroll and the tile -----

TEST_P(PerIsa, QkEverySubTile) {
  QkTester().mr(uk().mr).nr(uk().nr).TestEverySubTile(uk().qk);
}

TEST_P(PerIsa, PvEverySubTile) {
  PvTester().mr(uk().mr).nr(uk().pv_nr).TestEverySubTile(uk().pv);
  PvTester().mr(uk().mr).nr(uk().pv_nr).m(uk().mr).n(uk().pv_nr).k(33).ldv(0).Test(uk().pv);  // broadcast V row (ldv 0)
  // kc = 0 (a row panel that sees no key of the block): β = 0 writes zeros, α = 1 leaves o as it was.
  std::vector<float> o(static_cast<std::size_t>(uk().mr * uk().pv_nr), kNaN);
  uk().pv(0, nullptr, 0, nullptr, 0, o.data(), uk().pv_nr, uk().mr, uk().pv_nr, nullptr);
  for (float x : o) EXPECT_EQ(x, 0.0f);
  std::fill(o.begin(), o.end(), 3.5f);
  const std::vector<float> ones(static_cast<std::size_t>(uk().mr), 1.0f), halves(ones.size(), 0.5f);
  uk().pv(0, nullptr, 0, nullptr, 0, o.data(), uk().pv_nr, uk().mr, uk().pv_nr, ones.data());
  for (float x : o) EXPECT_EQ(x, 3.5f);
  uk().pv(0, nullptr, 0, nullptr, 0, o.data(), uk().pv_nr, uk().mr, uk().pv_nr, halves.data());
  for (float x : o) EXPECT_EQ(x, 1.75f);
}

TEST_P(PerIsa, PackKtIsTheTransposeWithZeroPadding) {
  for (i64 n : {1, 7, 15, 16, 17, 33, 48})
    for (i64 d : {1, 7, 8, 9, 31, 64, 65}) {
      const i64 ldk = d + 3, panels = (n + uk().nr - 1) / uk().nr;
      GuardedFloats k(static_cast<std::size_t>((n - 1) * ldk + d));  // the last row ends at the guard page
      fill_random(k.data(), k.size(), 41);
      std::vector<float> kp(static_cast<std::size_t>(panels * d * uk().nr), kNaN);
      uk().pack_kt(n, d, k.data(), ldk, kp.data());
      for (i64 jp = 0; jp < panels; ++jp)
        for (i64 t = 0; t < d; ++t)
          for (i64 c = 0; c < uk().nr; ++c) {
            const i64 j = jp * uk().nr + c;
            const float want = j < n ? k[static_cast<std::size_t>(j * ldk + t)] : 0.0f;
            ASSERT_EQ(kp[static_cast<std::size_t>((jp * d + t) * uk().nr + c)], want) << "n=" << n << " d=" << d;
          }
    }
}

TEST_P(PerIsa, PackVCopiesColumnStrips) {
  for (i64 n : {1, 5, 16, 33})
    for (i64 dv : {1, 7, 16, 17, 33, 63, 64, 65, 127, 129}) {
      const i64 ldv = dv + 5, strips = (dv + uk().pv_nr - 1) / uk().pv_nr;
      GuardedFloats v(static_cast<std::size_t>((n - 1) * ldv + dv));  // the last row ends at the guard page
      fill_random(v.data(), v.size(), 43);
      std::vector<float> vp(static_cast<std::size_t>(strips * n * uk().pv_nr), kSentinel);
      uk().pack_v(n, dv, v.data(), ldv, vp.data());
      for (i64 st = 0; st < strips; ++st)
        for (i64 j = 0; j < n; ++j)
          for (i64 c = 0; c < uk().pv_nr; ++c) {
            const float got = vp[static_cast<std::size_t>((st * n + j) * uk().pv_nr + c)];
            if (st * uk().pv_nr + c < dv)
              ASSERT_EQ(got, v[static_cast<std::size_t>(j * ldv + st * uk().pv_nr + c)]) << "n=" << n << " dv=" << dv;
            else
              ASSERT_EQ(got, kSentinel) << "wrote past dv: n=" << n << " dv=" << dv;
          }
    }
}

// --- an f16 O row as it is stored --------------------------------------------

/// Every f16 value, the midpoints between neighbours (ties to even), one fp32 ulp either side
/// of each, and the values around the overflow (65520) and underflow (2^-25) bounds, NaNs with
/// payloads, infinities and signed zeros: the rounding decisions of fp32 -> f16.
std::vector<float> f16_rounding_cases() {
  std::vector<float> x = {0.0f,
                          -0.0f,
                          kInf,
                          -kInf,
                          kNaN,
                          -kNaN,
                          std::bit_cast<float>(0x7f800001u),
                          std::bit_cast<float>(0xffa00001u),
                          65504.0f,
                          65519.99f,
                          65520.0f,
                          0x1p-25f,
                          std::nextafter(0x1p-25f, 1.0f),
                          0x1p-24f,
                          0x1p-14f,
                          0x1p-149f,
                          3e38f};
  for (std::uint32_t h = 0; h < 0x7c00u; ++h) {
    const float v = to_float(f16{static_cast<std::uint16_t>(h)});
    const float next = to_float(f16{static_cast<std::uint16_t>(h + 1)});
    const float mid = static_cast<float>((static_cast<double>(v) + next) / 2);  // exact: 11 bits + 1
    for (float c : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, kInf)}) x.insert(x.end(), {c, -c});
  }
  return x;
}

TEST_P(PerIsa, StoreOF16RoundsAsToF16OnEveryCaseAndWritesOnlyN) {
  const std::vector<float> x = f16_rounding_cases();
  for (float l : {1.0f, 3.0f, 0.7f}) {
    std::vector<f16> out(x.size());
    uk().store_o_f16(x.data(), l, out.data(), static_cast<i64>(x.size()));
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(out[i].bits, to_f16(x[i] / l).bits) << "x=" << x[i] << " (bits " << bits(x[i]) << ") l=" << l;
  }
  for (i64 n = 1; n <= 33; ++n) {  // tails: exactly out[0, n) written, exactly o[0, n) read
    GuardedFloats o(static_cast<std::size_t>(n));
    fill_random(o.data(), o.size(), 47);
    std::vector<f16> out(static_cast<std::size_t>(n) + 16, f16{0x7777});
    uk().store_o_f16(o.data(), 2.0f, out.data(), n);
    for (i64 t = 0; t < n; ++t) ASSERT_EQ(out[t].bits, to_f16(o[t] / 2.0f).bits) << "n=" << n << " t=" << t;
    for (std::size_t t = static_cast<std::size_t>(n); t < out.size(); ++t)
      ASSERT_EQ(out[t].bits, 0x7777) << "wrote past n=" << n;
  }
}

TEST_P(PerIsa, WidenF16IsToFloatOnEveryValueAndReadsOnlyN) {
  std::vector<f16> x(1u << 16);
  for (std::uint32_t h = 0; h < x.size(); ++h) x[h] = f16{static_cast<std::uint16_t>(h)};
  std::vector<float> y(x.size());
  uk().widen_f16(x.data(), y.data(), static_cast<i64>(x.size()));
  for (std::size_t h = 0; h < x.size(); ++h) {
    const float want = to_float(x[h]);
    if (std::isnan(want))  // F16C quiets a signalling NaN (to_float keeps it): a NaN either way
      ASSERT_TRUE(std::isnan(y[h])) << "f16 bits " << h;
    else
      ASSERT_EQ(bits(y[h]), bits(want)) << "f16 bits " << h;
  }
  for (i64 n = 1; n <= 33; ++n) {  // tails: exactly x[0, n) read (guard page), y[0, n) written
    GuardedArray<f16> g(static_cast<std::size_t>(n));
    for (i64 t = 0; t < n; ++t) g[t] = f16{static_cast<std::uint16_t>(0x3c00 + 7 * t)};
    std::vector<float> out(static_cast<std::size_t>(n) + 16, kSentinel);
    uk().widen_f16(g.data(), out.data(), n);
    for (i64 t = 0; t < n; ++t) ASSERT_EQ(out[t], to_float(g[t])) << "n=" << n;
    for (std::size_t t = static_cast<std::size_t>(n); t < out.size(); ++t) ASSERT_EQ(out[t], kSentinel) << "n=" << n;
  }
}

// --- the whole kernel, per ISA ----------------------------------------------

void expect_fused_matches_reference(const Case& c, const std::string& what, int threads = 0) {
  Buffers ref(c), got(c);
  run(ref, "reference");
  run(got, "fused", threads);
  expect_matches_reference(got, ref, what);
}

TEST_P(PerIsa, BlockBoundariesPlusMinusOne) {
  ScopedIsa isa(GetParam());
  const i64 nr = uk().nr;
  // Keys and head dimension: Nk at Bc ± 1 and 2 Bc + 1, d (= dv) at NR ± 1 and PV_NR ± 1 (and
  // across the table's rows).
  const i64 pv_nr = uk().pv_nr;
  for (i64 d : {nr - 1, nr, nr + 1, pv_nr - 1, pv_nr + 1, i64{64}, i64{65}, i64{129}}) {
    const i64 bc = blocks(d).bc;
    for (i64 nk : {bc - 1, bc, bc + 1, 2 * bc + 1}) {
      Case c = Case{}.shape(13, nk, d);
      expect_fused_matches_reference(c, "key blocks");
      c.causal = Causal::bottom_right;
      expect_fused_matches_reference(c, "key blocks causal");
    }
  }
  // Query rows at Br ± 1, with 8 heads so the table's Br is kept (query_block_rows).
  const fused::BlockSizes b = blocks(nr + 1);
  const i64 br = fused::query_block_rows(b.br, uk().mr, 8, b.br + 1);
  ASSERT_EQ(br, b.br);
  for (i64 nq : {br - 1, br, br + 1}) {
    Case c = Case{}.shape(nq, b.bc + 1, nr + 1);
    c.H = 8, c.Hkv = 2;
    expect_fused_matches_reference(c, "query blocks");
    c.causal = Causal::top_left;
    expect_fused_matches_reference(c, "query blocks causal");
  }
  // Slices of Bs rows inside one work item (8 heads keep the item whole): Bs ± 1 and 2 Bs + 1 rows,
  // both causal alignments (a slice past the diagonal skips the block) and a mask with NaN in V
  // at masked keys (the row-by-row path, on its own V copy, must not disturb the packed V).
  const i64 bs = b.bs;
  for (i64 nq : {bs - 1, bs, bs + 1, 2 * bs + 1}) {
    Case c = Case{}.shape(nq, 2 * b.bc + 3, nr + 1);
    c.H = 8, c.Hkv = 8;
    ASSERT_GE(fused::query_block_rows(b.br, uk().mr, 8, nq), nq) << "one work item per head";
    expect_fused_matches_reference(c, "slices");
    for (Causal causal : {Causal::top_left, Causal::bottom_right}) {
      c.causal = causal;
      expect_fused_matches_reference(c, "slices causal");
    }
    c.mask = true;
    expect_fused_matches_reference(c, "slices causal mask");
  }
  // Masked non-finite K and V in the second key block, for every row of three slices: the
  // masked slices take the row-by-row path on their own V copy while the packed V serves the rest.
  Case c = Case{}.shape(2 * bs + 1, 3 * b.bc + 5, nr + 1);
  c.H = 8, c.Hkv = 8, c.mask = true, c.causal = Causal::bottom_right;
  Buffers poisoned(c), clean(c);
  for (Buffers* x : {&poisoned, &clean})
    for (i64 i = 0; i < c.Nq; ++i)
      for (i64 j = b.bc; j < b.bc + 3; ++j) x->mask[static_cast<std::size_t>(i * c.Nk + j)] = -kInf;
  for (i64 h = 0; h < c.Hkv; ++h)
    for (i64 j = b.bc; j < b.bc + 3; ++j)
      for (i64 t = 0; t < c.d; ++t) {
        const std::size_t at = static_cast<std::size_t>((h * c.Nk + j) * c.d + t);
        poisoned.k[at] = t % 2 ? kNaN : kInf;
        poisoned.v[at] = t % 2 ? -kInf : kNaN;
        clean.k[at] = clean.v[at] = 7.0f;
      }
  run(poisoned, "fused");
  run(clean, "fused");
  EXPECT_EQ(poisoned.out, clean.out);
  EXPECT_EQ(poisoned.lse, clean.lse);
}

TEST_P(PerIsa, ManyKeyBlocksMergeInGroups) {
  ScopedIsa isa(GetParam());
  // 64 rows of one head make several work items (no KV split), so every item walks all the key
  // blocks: group boundaries at kBlocksPerGroup·Bc ± 1 and two whole groups plus a tail.
  const i64 d = 16, bc = blocks(d).bc, g = fused::kBlocksPerGroup * bc;
  for (i64 nk : {g - 1, g, g + 1, 2 * g + 3}) {
    Case c = Case{}.shape(64, nk, d);
    expect_fused_matches_reference(c, "groups");
    for (Causal causal : {Causal::top_left, Causal::bottom_right}) {
      c.causal = causal;
      expect_fused_matches_reference(c, "groups causal");
    }
    c.mask = true;
    expect_fused_matches_reference(c, "groups causal mask");
  }
}

TEST_P(PerIsa, DecodeSplitKvMatchesReference) {
  ScopedIsa isa(GetParam());
  for (i64 nk : {2048, 4099, 9001})
    for (i64 nq : {1, 2, 5}) {
      Case c = Case{}.shape(nq, nk, 40);
      c.H = 4, c.Hkv = 2;
      expect_fused_matches_reference(c, "decode");
      c.causal = Causal::bottom_right;
      c.mask = true;
      expect_fused_matches_reference(c, "decode causal mask");
    }
}

TEST_P(PerIsa, DecodeSplitKvFullyMaskedAndNaNRows) {
  ScopedIsa isa(GetParam());
  expect_masked_row_zero_and_nan_query_nan("fused", 5000);
}

TEST_P(PerIsa, InputsEndingAtAGuardPage) {
  ScopedIsa isa(GetParam());
  struct Shape {
    i64 nq, nk, d, dv;
    Causal causal;
    bool mask;
  };
  for (const Shape& s : {Shape{3, 3, 4, 4, Causal::none, false}, Shape{37, 301, 19, 13, Causal::bottom_right, true},
                         Shape{37, 301, 19, 13, Causal::none, false}, Shape{1, 4100, 19, 13, Causal::none, true},
                         Shape{200, 70, 16, 16, Causal::top_left, false}}) {
    Case c = Case{}.shape(s.nq, s.nk, s.d);
    c.dv = s.dv, c.causal = s.causal, c.mask = s.mask;
    Buffers ref(c), got(c);
    run(ref, "reference");
    expect_matches_reference_on_guarded_inputs(ref, got, "fused");
  }
}

TEST_P(PerIsa, BitwiseSameForThreads1237) {
  ScopedIsa isa(GetParam());
  auto make = [](i64 H, i64 Hkv, i64 nq, i64 nk, i64 d, Causal causal, bool mask) {
    Case c = Case{}.shape(nq, nk, d);
    c.H = H, c.Hkv = Hkv, c.causal = causal, c.mask = mask;
    return c;
  };
  for (const Case& c :
       {make(2, 2, 200, 333, 40, Causal::none, false), make(2, 1, 300, 300, 32, Causal::top_left, false),
        make(1, 1, 100, 700, 24, Causal::bottom_right, true), make(1, 1, 333, 333, 40, Causal::bottom_right, false),
        make(3, 1, 1, 5000, 64, Causal::none, false), make(2, 2, 3, 6000, 16, Causal::bottom_right, true),
        // one item of 576 rows at 1 thread, 8 items at more; past a group of 16 key blocks
        make(1, 1, 600, 2100, 64, Causal::top_left, true)}) {
    Buffers one(c);
    run(one, "fused", 1);
    for (int threads : {2, 3, 7}) {
      Buffers many(c);
      run(many, "fused", threads);
      EXPECT_EQ(one.out, many.out) << c.name() << ", " << threads << " threads";
      EXPECT_EQ(one.lse, many.lse) << c.name() << ", " << threads << " threads";
    }
  }
}

/// max |kernel − reference| over out, for one case.
double max_error(const Case& c, const std::string& kernel) {
  Buffers ref(c), got(c);
  run(ref, "reference");
  run(got, kernel);
  double e = 0;
  for (std::size_t i = 0; i < ref.out.size(); ++i)
    e = std::max(e, std::abs(static_cast<double>(got.out[i]) - ref.out[i]));
  return e;
}

TEST_P(PerIsa, ErrorNoWorseThanBlas) {
  ScopedIsa isa(GetParam());
  // Both compute fp32 logits with one dot product each and fp32 sums of Nk terms, so
  // their error bounds (testkit.cpp) are the same up to the terms that differ: fused
  // rounds once more per logit (Q·scale·log2 e) and its exp2 is 2 ulp where expf is 1.
  // Each at most doubles one term of the bound, so the factor allowed is 2; the
  // additive u·max|V| covers cases where blas happens to be nearly exact.
  for (float range : {1.0f, 4.0f})
    for (Causal causal : {Causal::none, Causal::top_left})
      for (i64 n : {129, 520}) {
        Case c = Case{}.shape(n, n, 64);
        c.value_range = range, c.causal = causal;
        const double fused_err = max_error(c, "fused"), blas_err = max_error(c, "blas");
        EXPECT_LE(fused_err, 2.0 * blas_err + kU) << c.name() << ": fused " << fused_err << ", blas " << blas_err;
      }
  // A long sequence: here the sums dominate, and fused sums O and l in two levels (groups of
  // kBlocksPerGroup key blocks) where blas's sgemm adds its k-blocks in one running sum, so
  // fused must not be worse at all (measured at 64 × 32768: about half of blas's error).
  Case c = Case{}.shape(64, 32768, 64);
  const double fused_err = max_error(c, "fused"), blas_err = max_error(c, "blas");
  EXPECT_LE(fused_err, blas_err) << c.name() << ": fused " << fused_err << ", blas " << blas_err;
  std::printf("[ info ] %s: max error fused %.3g, blas %.3g\n", c.name().c_str(), fused_err, blas_err);
}

TEST_P(PerIsa, LogitsBetween90And100) {
  ScopedIsa isa(GetParam());
  // d = 1, scale 1: logit q·k with q, k in [9.5, 10] lies in [90.25, 100]; exp would
  // overflow at 88.7 unless the running max is subtracted, across several KV blocks.
  const i64 bc = blocks(1).bc;
  Case c = Case{}.shape(7, 3 * bc + 5, 1);
  c.scale = 1.0f;
  Buffers ref(c), got(c);
  for (Buffers* b : {&ref, &got}) {
    fill_random(b->q.data(), b->q.size(), 51, 9.5f, 10.0f);
    fill_random(b->k.data(), b->k.size(), 52, 9.5f, 10.0f);
  }
  run(ref, "reference");
  run(got, "fused");
  for (float x : got.out) ASSERT_TRUE(std::isfinite(x));
  expect_matches_reference(got, ref, "logits in [90, 100]");
}

TEST_P(PerIsa, RowsWhoseLeadingKvBlocksAreFullyMasked) {
  ScopedIsa isa(GetParam());
  const i64 bc = blocks(16).bc, nk = 3 * bc + 7;
  const i64 leading[] = {0, 1, bc - 1, bc, bc + 1, 2 * bc + 3, nk - 1, nk};  // keys [0, L) masked in row i
  Case c = Case{}.shape(static_cast<i64>(std::size(leading)), nk, 16);
  c.mask = true;
  Buffers ref(c), got(c);
  for (Buffers* b : {&ref, &got}) {
    for (i64 i = 0; i < c.Nq; ++i)
      for (i64 j = 0; j < nk; ++j) {
        float& m = b->mask[static_cast<std::size_t>(i * nk + j)];
        m = j < leading[i] ? -kInf : (std::isfinite(m) ? m : 0.5f);
      }
  }
  run(ref, "reference");
  run(got, "fused");
  expect_matches_reference(got, ref, "masked leading blocks");
  for (i64 t = 0; t < c.dv; ++t) EXPECT_EQ(got.out[static_cast<std::size_t>((c.Nq - 1) * c.dv + t)], 0.0f);
  EXPECT_EQ(got.lse[static_cast<std::size_t>(c.Nq - 1)], -kInf);
}

TEST_P(PerIsa, MaskedNonFiniteKeysInLeadingBlocksNeverReachTheOutput) {
  ScopedIsa isa(GetParam());
  const i64 bc = blocks(16).bc, nk = 2 * bc + 9;
  Case c = Case{}.shape(5, nk, 16);
  c.mask = true;
  Buffers b(c), clean(c);
  for (Buffers* x : {&b, &clean})
    for (i64 i = 0; i < c.Nq; ++i)
      for (i64 j = 0; j < nk; ++j) {
        float& m = x->mask[static_cast<std::size_t>(i * nk + j)];
        m = j < bc + 2 ? -kInf : 0.25f;  // the whole first block and two keys of the second, for every row
      }
  for (i64 j = 0; j < bc + 2; ++j)
    for (i64 t = 0; t < c.d; ++t) {
      b.k[static_cast<std::size_t>(j * c.d + t)] = t % 2 ? kNaN : kInf;
      b.v[static_cast<std::size_t>(j * c.dv + t)] = t % 2 ? -kInf : kNaN;
      clean.k[static_cast<std::size_t>(j * c.d + t)] = clean.v[static_cast<std::size_t>(j * c.dv + t)] = 7.0f;
    }
  run(b, "fused");
  run(clean, "fused");
  EXPECT_EQ(b.out, clean.out);
  EXPECT_EQ(b.lse, clean.lse);
  for (float x : b.out) EXPECT_TRUE(std::isfinite(x));
}

TEST_P(PerIsa, BottomRightRowsThatSeeNoKeyInTheBlockedPath) {
  ScopedIsa isa(GetParam());
  Case c = Case{}.shape(300, 100, 24);  // rows 0..199 see no key
  c.causal = Causal::bottom_right;
  expect_fused_matches_reference(c, "bottom-right Nq > Nk");
  Buffers b(c);
  run(b, "fused");
  EXPECT_EQ(b.out[0], 0.0f);
  EXPECT_EQ(b.lse[199], -kInf);
  EXPECT_TRUE(std::isfinite(b.lse[200]));
}

// --- memory and selection -----------------------------------------------------

Problem problem(i64 H, i64 nq, i64 nk, i64 d, int threads) {
  Problem p;
  p.heads = p.kv_heads = H, p.q_len = nq, p.kv_len = nk, p.head_dim = p.value_dim = d, p.threads = threads;
  return p;
}

// The work item's rows follow the L2 (blocking.hpp); the key block and slice, which fix or
// group the sums, never do. Data only: every ISA's row, any L2, whatever this CPU has.
TEST(Fused, WorkItemsAreTheMostRowsThatFitTheL2) {
  constexpr std::size_t KiB = 1024;
  for (const fused::Tiling& t : fused::kTilings)
    for (i64 d : {16, 64, 65, 128, 256})
      for (std::size_t l2 : {256 * KiB, 512 * KiB, 1024 * KiB, 1280 * KiB, 2048 * KiB}) {
        SCOPED_TRACE(std::string(fused::isa_name(t.isa)) + " d " + std::to_string(d) + " L2 " + std::to_string(l2));
        const fused::BlockSizes b = fused::block_sizes(t.isa, d, d, l2);
        EXPECT_EQ(b.bc, d <= 64 ? t.bc_d64 : t.bc_wide);
        EXPECT_EQ(b.bs, d <= 64 ? t.bs_d64 : t.bs_wide);
        EXPECT_EQ(b.br % t.mr, 0);
        EXPECT_GE(b.br, b.bs);
        EXPECT_LE(b.br, fused::kMaxItemRows);
        const auto bytes = [&](i64 br) { return fused::item_floats(br, b.bc, b.bs, d, d) * i64{sizeof(float)}; };
        if (b.br > b.bs) {
          EXPECT_LE(bytes(b.br), static_cast<i64>(l2)) << "fits";
        }
        if (b.br + t.mr <= fused::kMaxItemRows) {
          EXPECT_GT(bytes(b.br + t.mr), static_cast<i64>(l2)) << "the most that fit";
        }
        const fused::BlockSizes bigger = fused::block_sizes(t.isa, d, d, 2 * l2);
        EXPECT_GE(bigger.br, b.br);
        EXPECT_EQ(bigger.bc, b.bc);
      }
  // An L2 cpuid does not report is taken as kAssumedL2.
  EXPECT_EQ(fused::block_sizes(Isa::avx2, 128, 128, 0).br,
            fused::block_sizes(Isa::avx2, 128, 128, fused::kAssumedL2).br);
}

// Work items share out evenly (blocking.hpp): without a causal mask a multiple of the threads,
// never more rows than the L2's Br, whole MR panels.
TEST(Fused, WorkItemsShareOutEvenlyAmongThreads) {
  constexpr i64 mr = 6, table_br = 576;
  for (i64 bh : {1, 2, 3, 12})
    for (i64 nq : {128, 600, 1024, 1536, 4096})
      for (i64 threads : {1, 2, 3, 4}) {
        SCOPED_TRACE("B·H " + std::to_string(bh) + " Nq " + std::to_string(nq) + " threads " + std::to_string(threads));
        const i64 br = fused::balanced_query_rows(table_br, mr, bh, nq, threads);
        const i64 items = bh * ((nq + br - 1) / br);
        EXPECT_EQ(br % mr, 0);
        EXPECT_LE(br, table_br);
        if (threads == 1) {
          EXPECT_EQ(br, std::min(table_br, (nq + mr - 1) / mr * mr));
        } else {
          EXPECT_EQ(items % threads, 0);
        }
      }
  // 4096 rows, one head, 2 threads: 8 items of 516 rows (the last 484), not 7 of 576 and one of 64.
  EXPECT_EQ(fused::balanced_query_rows(table_br, mr, 1, 4096, 2), 516);
}

// Causal items on several threads are folded (blocking.hpp): every row in exactly one part of one
// item, parts of at most the L2's Br, and the items of a head see the same number of keys within
// one fold (a row and its mirror image), top-left and bottom-right, so that equal shares of items
// are equal shares of work; B·H·items a multiple of the threads unless the parts would get smaller
// than 4 MR rows.
TEST(Fused, FoldedCausalItemsSeeEqualKeys) {
  constexpr i64 mr = 6;
  for (i64 table_br : {96, 576, 1212})
    for (i64 bh : {1, 2, 3, 12})
      for (i64 nq : {1, 5, 47, 128, 600, 1023, 1024, 4096})
        for (i64 extra : {0, 100})  // nk - nq: bottom-right sees that many more keys per row
          for (i64 threads : {2, 3, 4}) {
            SCOPED_TRACE("Br " + std::to_string(table_br) + " B·H " + std::to_string(bh) + " Nq " + std::to_string(nq) +
                         " Nk " + std::to_string(nq + extra) + " threads " + std::to_string(threads));
            const i64 items = fused::folded_items(table_br, mr, bh, nq, threads), half = (nq + 1) / 2;
            const i64 br_max = (table_br + mr - 1) / mr * mr;
            ASSERT_GE(items, 1);
            std::vector<int> seen(static_cast<std::size_t>(nq), 0);
            i64 least = std::numeric_limits<i64>::max(), most = 0;
            for (i64 k = 0; k < items; ++k) {
              i64 keys = 0;
              for (int part : {0, 1}) {
                const fused::RowRange r = fused::folded_rows(nq, items, k, part);
                ASSERT_GE(r.rows, 0);
                EXPECT_LE(r.rows, br_max);
                EXPECT_LE(r.rows, (half + items - 1) / items);
                for (i64 i = r.i0; i < r.i0 + r.rows; ++i) {
                  ++seen[static_cast<std::size_t>(i)];
                  keys += detail::visible_keys(Causal::bottom_right, 0, 0, i, nq, nq + extra);
                }
              }
              least = std::min(least, keys), most = std::max(most, keys);
            }
            for (i64 i = 0; i < nq; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], 1) << "row " << i;
            EXPECT_LE(most - least, nq + 1 + 2 * extra) << "one fold: a row and its mirror image";
            if ((half + items) / (items + 1) >= std::min(half, 4 * mr)) {
              EXPECT_EQ(bh * items % threads, 0);
            }
          }
  // 1024 rows, one head, 2 threads, Br 528 (d = 128, L2 1 MiB): 2 items, rows 0-255 with 768-1023
  // and 256-511 with 512-767, 256·1025 keys each (rows of equal length: 1 : 3).
  EXPECT_EQ(fused::folded_items(528, mr, 1, 1024, 2), 2);
  EXPECT_EQ(fused::folded_rows(1024, 2, 0, 1).i0, 768);
  EXPECT_EQ(fused::folded_rows(1024, 2, 1, 0).i0, 256);
}

TEST(Fused, BlockSizeOverrideParsesOnlyWhatItDocuments) {
  const auto ok = [](const char* text, int br, int bc, int bs) {
    const auto b = fused::parse_block_sizes(text);
    ASSERT_TRUE(b.has_value()) << text;
    EXPECT_EQ(b->br, br) << text;
    EXPECT_EQ(b->bc, bc) << text;
    EXPECT_EQ(b->bs, bs) << text;
  };
  ok("576,128,192", 576, 128, 192);
  ok("96,256", 96, 256, 96);  // Bs defaults to Br
  ok("4096,1,4096", 4096, 1, 4096);
  for (const char* bad : {"", "576", "576,", "576,128,", "576,128,192,4", "576,128,600", "0,128", "576,0", "4097,128",
                          "-5,128", "576;128", "576,128x", " 576,128", "a,b"})
    EXPECT_FALSE(fused::parse_block_sizes(bad).has_value()) << "'" << bad << "' accepted";
}

TEST(Fused, WorkspaceIsBoundedAndIndependentOfSequenceLength) {
  const KernelInfo* k = find_kernel("fused");
  ASSERT_NE(k, nullptr);
  for (Isa isa : usable_isas()) {
    ScopedIsa scoped(isa);
    const std::size_t long_one = k->workspace_bytes(problem(1, 131072, 131072, 64, 1));
    EXPECT_LT(long_one, std::size_t{4} << 20) << fused::isa_name(isa);
    EXPECT_EQ(long_one, k->workspace_bytes(problem(1, 8192, 8192, 64, 1))) << fused::isa_name(isa);
    // Decode: the split-KV partials are bounded by a fixed number of chunks, not by Nk.
    EXPECT_EQ(k->workspace_bytes(problem(8, 1, 131072, 128, 2)), k->workspace_bytes(problem(8, 1, 1 << 20, 128, 2)));
    EXPECT_LT(k->workspace_bytes(problem(8, 1, 131072, 128, 2)), std::size_t{4} << 20);
  }
}

// "No allocation" on the tiny path is asserted for every kernel, fused and
// auto included, by test_allocation.cpp (which counts operator new).
TEST(Fused, TinyInputsNeedNoWorkspace) {
  const KernelInfo* k = find_kernel("fused");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->workspace_bytes(problem(1, 3, 3, 4, 1)), 0u);
  EXPECT_EQ(k->workspace_bytes(problem(1, 4, 4, 4, 2)), 0u);
  EXPECT_EQ(select_kernel("auto", problem(1, 3, 3, 4, 1), default_memory_budget()).name, "fused");
  EXPECT_EQ(select_kernel("auto", problem(8, 4096, 4096, 128, 2), default_memory_budget()).name, "fused");
}

TEST(Fused, ForceIsaRefusesWhatTheCpuLacksAndDispatchPicksTheBest) {
  const auto s = fused::supported_isas();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), Isa::scalar);
  EXPECT_EQ(fused::active_ukernels().isa, s.back());
  // ATTN_ISA lowers what the whole process may use: the widest table is the one cpu_info() names.
  EXPECT_STREQ(fused::isa_name(s.back()), cpu_info().isa.c_str());
  if (const char* want = std::getenv("ATTN_ISA"); want != nullptr && cpu_info().isa_forced) {
    EXPECT_STREQ(fused::isa_name(s.back()), want);
  }
  for (Isa isa : s) EXPECT_NE(fused::ukernels_for(isa), nullptr);
}

}  // namespace
}  // namespace attn::test
