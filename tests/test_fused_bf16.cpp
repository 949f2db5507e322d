// The fused kernel's bf16 S path (Ukernels::Bf16Dot: S = c·Q Kᵀ by vdpbf16ps from bf16 Q and K,
// engine/src/fused/ukernel_avx512_bf16.cpp). Its microkernels against fp64 dot products within
// their stated bound (every sub-tile, odd and long depths, inputs ending at guard pages, the
// flush of denormals); the kernel end to end against the fp64 oracle on the same bf16 inputs by
// the accuracy rule (dtype_rule.hpp) on tails 1..33 in Nq, Nk and d, around the block sizes,
// causal, masks, GQA and strided layouts; bitwise the same for every thread count; and which
// tables carry the path. Skipped, saying why, where the CPU lacks AVX512_BF16 or ATTN_ISA /
// ATTN_BF16_DOT turned it off.
#include "bf16_dot_testers.hpp"
#include "cpu_features.hpp"
#include "dtype_rule.hpp"
#include "fused_testers.hpp"
#include "testkit.hpp"

#include <attn/dtype.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace attn::test {
namespace {

/// One m × n tile through pack_q, pack_kt and qk, from Q and K rows that end at guard pages
/// (ldq = d + 3, ldk = d + 1 elements: odd strides, so the pairs are read unaligned): every written
/// element within the stated bound of the fp64 dot product, nothing outside the tile written.
/// The bound: qk's fp32 bound over d products and the scale's rounding, γ_{d+1}·|c|·Σ|q k| (the
/// products are exact: 8-bit significands).
void expect_tile(const fused::Ukernels& uk, int m, int n, i64 d, const std::vector<bf16>& qv,
                 const std::vector<bf16>& kv) {
  const fused::Ukernels::Bf16Dot& dot = uk.bf16_dot;
  const i64 ldq = d + 3, ldk = d + 1, lds = uk.nr + 5;
  const float c = 0.18033688f;  // 1/√64 · log2(e), as the kernel passes it
  GuardedArray<bf16> q(static_cast<std::size_t>((m - 1) * ldq + d)), k(static_cast<std::size_t>((n - 1) * ldk + d));
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = qv[i % qv.size()];
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = kv[i % kv.size()];
  // The panels as the workspace holds them (fp32 sizes); what the packing leaves unwritten is NaN.
  std::vector<float> qp(static_cast<std::size_t>(uk.mr * d), NAN), kp(static_cast<std::size_t>(uk.nr * d), NAN);
  GuardedFloats s(static_cast<std::size_t>((uk.mr - 1) * lds + uk.nr));
  std::fill_n(s.data(), s.size(), kSentinel);
  dot.pack_q(m, d, q.data(), ldq, qp.data());
  dot.pack_kt(n, d, k.data(), ldk, kp.data());
  dot.qk(d, qp.data(), kp.data(), s.data(), lds, m, n, c);
  for (int r = 0; r < uk.mr; ++r)
    for (int col = 0; col < uk.nr; ++col) {
      const float got = s[static_cast<std::size_t>(r * lds + col)];
      if (r >= m || col >= n) {
        ASSERT_EQ(got, kSentinel) << "wrote outside the " << m << "x" << n << " tile at (" << r << ", " << col << ")";
        continue;
      }
      const Dot e = fp64_dot(q.data() + r * ldq, k.data() + col * ldk, d);
      ASSERT_LE(std::abs(got - c * e.exact), gamma(d + 1) * c * e.mag)
          << "m=" << m << " n=" << n << " d=" << d << " at (" << r << ", " << col << ")";
    }
}

TEST(FusedBf16, QkEverySubTileAndDepth) {
  SKIP_WITHOUT_BF16_DOT();
  const fused::Ukernels& uk = *fused::ukernels_for(fused::Isa::avx512);
  const auto q = random_bf16(4096, 1), k = random_bf16(4096, 2);
  // Depths: 1..33 (odd ones pad their last pair), around a register of pairs (32 elements) and
  // the head dimensions in use.
  std::vector<i64> depths;
  for (i64 d = 1; d <= 33; ++d) depths.push_back(d);
  for (i64 d : {63, 64, 65, 127, 128, 129, 256}) depths.push_back(d);
  for (i64 d : depths)
    for (int m = 1; m <= uk.mr; ++m)
      for (int n : {1, 2, 15, 16, 17, uk.nr - 1, uk.nr}) {
        expect_tile(uk, m, n, d, q, k);
        if (HasFatalFailure()) return;
      }
}

TEST(FusedBf16, QkPanelsOfManyKeys) {
  // pack_kt over several panels and a ragged last one: each panel's tile as the kernel calls it.
  SKIP_WITHOUT_BF16_DOT();
  const fused::Ukernels& uk = *fused::ukernels_for(fused::Isa::avx512);
  const fused::Ukernels::Bf16Dot& dot = uk.bf16_dot;
  for (i64 d : {7, 64, 129})
    for (i64 n : {uk.nr + 1, 3 * uk.nr, 4 * uk.nr + 7}) {
      const auto kv = random_bf16(static_cast<std::size_t>(n * d), static_cast<unsigned>(n + d));
      const auto qv = random_bf16(static_cast<std::size_t>(uk.mr * d), 5);
      GuardedArray<bf16> k(kv.size());
      std::copy(kv.begin(), kv.end(), k.data());
      const i64 panels = (n + uk.nr - 1) / uk.nr;
      std::vector<float> qp(static_cast<std::size_t>(uk.mr * d)), kp(static_cast<std::size_t>(panels * uk.nr * d));
      std::vector<float> s(static_cast<std::size_t>(uk.mr * panels * uk.nr), kSentinel);
      dot.pack_q(uk.mr, d, qv.data(), d, qp.data());
      dot.pack_kt(n, d, k.data(), d, kp.data());
      for (i64 jp = 0; jp < panels; ++jp)
        dot.qk(d, qp.data(), kp.data() + jp * uk.nr * d, s.data() + jp * uk.nr, panels * uk.nr, uk.mr,
               static_cast<int>(std::min<i64>(uk.nr, n - jp * uk.nr)), 1.0f);
      for (int r = 0; r < uk.mr; ++r)
        for (i64 j = 0; j < panels * uk.nr; ++j) {
          const float got = s[static_cast<std::size_t>(r * panels * uk.nr + j)];
          if (j >= n) {
            EXPECT_EQ(got, kSentinel) << "key " << j << " of " << n;
            continue;
          }
          const Dot e = fp64_dot(qv.data() + r * d, kv.data() + j * d, d);
          EXPECT_LE(std::abs(got - e.exact), gamma(d) * e.mag)
              << "d=" << d << " n=" << n << " row " << r << " key " << j;
        }
    }
}

TEST(FusedBf16, QkFlushesDenormalsAsDocumented) {
  // vdpbf16ps reads a bf16 input below 2^-126 as 0 and flushes products and sums below 2^-126 to 0
  // (simd/avx512_bf16.hpp), where fp32 arithmetic keeps them: key 0 is a denormal q times 2^100
  // (2^-27 exactly), key 1 two normal values whose product is denormal (2^-140), key 2 normal terms.
  SKIP_WITHOUT_BF16_DOT();
  const fused::Ukernels& uk = *fused::ukernels_for(fused::Isa::avx512);
  const fused::Ukernels::Bf16Dot& dot = uk.bf16_dot;
  const i64 d = 3;
  const bf16 zero = to_bf16(0.0f), denormal{0x0040}, big = to_bf16(std::ldexp(1.0f, 100)),
             tiny = to_bf16(std::ldexp(1.0f, -70));
  ASSERT_EQ(to_float(denormal), std::ldexp(1.0f, -127));
  const bf16 q[d] = {denormal, tiny, to_bf16(1.5f)};
  const bf16 k[3 * d] = {big, zero, zero, zero, tiny, zero, zero, zero, to_bf16(2.0f)};
  std::vector<float> qp(static_cast<std::size_t>(uk.mr * d)), kp(static_cast<std::size_t>(uk.nr * d));
  float s[3] = {kSentinel, kSentinel, kSentinel};
  dot.pack_q(1, d, q, d, qp.data());
  dot.pack_kt(3, d, k, d, kp.data());
  dot.qk(d, qp.data(), kp.data(), s, 3, 1, 3, 1.0f);
  EXPECT_EQ(s[0], 0.0f) << "a denormal input is read as 0 (exact: 2^-27)";
  EXPECT_EQ(s[1], 0.0f) << "a denormal product is flushed (exact: 2^-140)";
  EXPECT_EQ(s[2], 3.0f);
}

TEST(FusedBf16, PathFollowsCpuidAttnIsaAndTheKnob) {
  // Only the avx512 table carries the path, and only where cpuid and the variables allow it.
  const char* isa = std::getenv("ATTN_ISA");
  const char* knob = std::getenv("ATTN_BF16_DOT");
  const bool lowered = isa != nullptr && (std::string(isa) == "avx2" || std::string(isa) == "scalar");
  const bool off = knob != nullptr && std::string(knob) == "off";
  if (lowered || off) {
    EXPECT_FALSE(cpu::features().avx512_bf16) << "ATTN_ISA / ATTN_BF16_DOT must turn it off";
  }
  for (fused::Isa i : fused::supported_isas()) {
    const fused::Ukernels& uk = *fused::ukernels_for(i);
    EXPECT_EQ(uk.bf16_dot.qk != nullptr, i == fused::Isa::avx512 && cpu::features().avx512_bf16) << fused::isa_name(i);
    EXPECT_EQ(uk.bf16_dot.qk != nullptr, uk.bf16_dot.pack_q != nullptr && uk.bf16_dot.pack_kt != nullptr);
  }
  EXPECT_TRUE(cpu::features().avx512_bf16 == false || cpu::features().avx512_skx);
}

TEST(FusedBf16, AccuracyRuleOnEveryTail) {
  SKIP_WITHOUT_ACTIVE_BF16_DOT();
  for (const DTypes& t : {kBf16InF32Out, kAllBf16})
    for (i64 n = 1; n <= 33; ++n) {
      Case c;  // each of Nq, Nk and d runs over 1..33 in turn, against the others
      c.shape(n, 34 - n, n), c.mask = n % 3 == 0, c.causal = n % 4 == 1 ? Causal::bottom_right : Causal::none;
      expect_within_twice_blas(c, t, "fused");
      c.shape(33, n, 35 - n), c.causal = n % 4 == 2 ? Causal::top_left : Causal::none;
      expect_within_twice_blas(c, t, "fused");
    }
}

TEST(FusedBf16, AccuracyRuleAroundBlockSizes) {
  // Keys around the blocks (Bc 128) and panels (NR 32), query rows around the tiles (MR 6) and
  // slices (Bs 96/192), head dimensions around a register of pairs (32) and the ones in use.
  SKIP_WITHOUT_ACTIVE_BF16_DOT();
  for (i64 nk : {31, 32, 33, 127, 128, 129, 255, 257})
    for (i64 d : {63, 64, 65, 127, 128, 129}) {
      Case c;
      c.shape(nk % 2 ? 97 : 193, nk, d), c.seed = static_cast<std::uint64_t>(nk * 1000 + d);
      c.causal = nk == 129 ? Causal::bottom_right : Causal::none, c.mask = nk == 255;
      expect_within_twice_blas(c, kBf16InF32Out, "fused");
    }
}

TEST(FusedBf16, AccuracyRuleOnCausalMaskGqaStridesAndLse) {
  SKIP_WITHOUT_ACTIVE_BF16_DOT();
  for (const DTypes& t : {kBf16InF32Out, kAllBf16, kQkBf16}) {
    Case c;
    c.B = 2, c.H = 8, c.Hkv = 2, c.shape(67, 301, 33);
    expect_within_twice_blas(c, t, "fused");
    c.causal = Causal::top_left;
    expect_within_twice_blas(c, t, "fused");
    c.causal = Causal::bottom_right, c.mask = true;
    expect_within_twice_blas(c, t, "fused");
    c.causal = Causal::none, c.permuted = true, c.dv = 40;  // rows H·d = 264 elements apart
    expect_within_twice_blas(c, t, "fused");
    c.value_range = 8.0f, c.mask = true, c.logit_offset = 90.0f;  // large logits, an offset mask
    expect_within_twice_blas(c, t, "fused");
  }
}

TEST(FusedBf16, SameBitsForEveryThreadCount) {
  SKIP_WITHOUT_ACTIVE_BF16_DOT();
  for (const DTypes& t : {kBf16InF32Out, kAllBf16})
    for (Causal causal : {Causal::none, Causal::bottom_right}) {
      Case c;
      c.B = 2, c.H = 4, c.Hkv = 2, c.shape(200, 300, 65), c.mask = true, c.causal = causal;
      TypedCall one(c, t);
      one.run("fused", 1);
      for (int threads : {2, 3, 4, 7}) {
        TypedCall many(c, t);
        many.run("fused", threads);
        EXPECT_EQ(0, std::memcmp(one.buf.out.data(), many.buf.out.data(), one.buf.out.size() * sizeof(float)))
            << dtypes_name(t) << ": O differs with " << threads << " threads";
        EXPECT_EQ(0, std::memcmp(one.buf.lse.data(), many.buf.lse.data(), one.buf.lse.size() * sizeof(float)))
            << dtypes_name(t) << ": LSE differs with " << threads << " threads";
      }
    }
}

TEST(FusedBf16, DecodeShapedCallsThroughTheSplitKeys) {
  // A short query over many keys splits them across chunks (plan.hpp): the path in every chunk.
  SKIP_WITHOUT_ACTIVE_BF16_DOT();
  for (i64 nq : {1, 3, 17}) {
    Case c;
    c.H = 4, c.Hkv = 1, c.shape(nq, 5000, 128), c.causal = nq == 3 ? Causal::bottom_right : Causal::none;
    expect_within_twice_blas(c, kBf16InF32Out, "fused");
  }
}

}  // namespace
}  // namespace attn::test
