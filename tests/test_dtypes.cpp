// Attention over fp16 and bf16 tensors (attn/dtype.hpp), every kernel that takes them, held to
// the accuracy rule of dtype_rule.hpp (FlashAttention's: at most twice the `blas` path's error
// against the fp64 oracle on the same rounded inputs).
// Also: every ISA of the fused kernel, tails 1..33 and around its block sizes, guard pages after
// every 16-bit input, bitwise determinism across thread counts, and the validation messages.
#include "dtype_rule.hpp"
#include "fused_testers.hpp"
#include "testkit.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace attn::test {
namespace {

// The dtype combinations tested: each 16-bit type throughout, and mixtures (every tensor has its
// own dtype; O may be wider or narrower than the inputs).
const DTypes kAllF16{DType::f16, DType::f16, DType::f16, DType::f16, DType::f16};
const DTypes kAllBF16{DType::bf16, DType::bf16, DType::bf16, DType::bf16, DType::bf16};
const DTypes kKvF16{DType::f32, DType::f16, DType::f16, DType::f32, DType::f32};
const DTypes kBF16InF32Out{DType::bf16, DType::bf16, DType::bf16, DType::f32, DType::f16};
const DTypes kMixed{DType::f16, DType::bf16, DType::f32, DType::bf16, DType::bf16};
const DTypes kDtypeSets[] = {kAllF16, kAllBF16, kKvF16, kBF16InF32Out, kMixed};

/// Registered kernels that take every dtype (all of them).
std::vector<std::string> kernels_taking_16_bits() {
  std::vector<std::string> names;
  for (const KernelInfo& k : kernels())
    if (k.dtypes.contains(DType::f16) && k.dtypes.contains(DType::bf16)) names.emplace_back(k.name);
  return names;
}

TEST(Dtypes, ReferenceBlasFusedAndTextbookTakeEveryDtype) {
  for (const char* name : {"reference", "textbook", "blas", "fused"}) {
    const KernelInfo* k = find_kernel(name);
    ASSERT_NE(k, nullptr) << name;
    for (DType t : {DType::f32, DType::f16, DType::bf16}) EXPECT_TRUE(k->dtypes.contains(t)) << name;
  }
}

class EveryKernel : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryKernel, AccuracyRuleOnCausalMaskGqaAndLse) {
  for (const DTypes& t : kDtypeSets) {
    Case c;
    c.B = 2, c.H = 4, c.Hkv = 2, c.shape(37, 45, 24);
    expect_within_twice_blas(c, t, GetParam());
    c.causal = Causal::top_left;
    expect_within_twice_blas(c, t, GetParam());
    c.causal = Causal::bottom_right, c.mask = true;
    expect_within_twice_blas(c, t, GetParam());
    c.causal = Causal::none, c.permuted = true, c.dv = 40;
    expect_within_twice_blas(c, t, GetParam());
  }
}

TEST_P(EveryKernel, AccuracyRuleOnEveryTail) {
  for (const DTypes& t : {kAllF16, kAllBF16, kMixed})
    for (i64 n = 1; n <= 33; ++n) {
      Case c;
      c.shape(n, 34 - n, n % 2 ? n : 16), c.mask = n % 3 == 0,
                                          c.causal = n % 4 == 1 ? Causal::bottom_right : Causal::none;
      expect_within_twice_blas(c, t, GetParam());
    }
}

TEST_P(EveryKernel, AccuracyRuleAroundBlockSizes) {
  // Keys around the fused kernel's blocks (Bc 64/128/256) and query rows around its tiles.
  for (const DTypes& t : {kAllF16, kAllBF16})
    for (i64 nk : {63, 128, 129, 255, 257}) {
      Case c;
      c.shape(nk % 2 ? 97 : 7, nk, nk % 2 ? 64 : 33);
      c.causal = nk == 129 ? Causal::bottom_right : Causal::none, c.mask = nk == 255;
      expect_within_twice_blas(c, t, GetParam());
    }
}

TEST_P(EveryKernel, SameBitsForEveryThreadCount) {
  const KernelInfo* info = find_kernel(GetParam());
  if (!info->caps.threads) GTEST_SKIP() << GetParam() << " runs on one thread";
  for (const DTypes& t : kDtypeSets) {
    Case c;
    c.B = 2, c.H = 4, c.Hkv = 2, c.shape(70, 300, 32), c.mask = true;
    TypedCall one(c, t);
    one.run(GetParam(), 1);
    for (int threads : {2, 3, 4}) {
      TypedCall many(c, t);
      many.run(GetParam(), threads);
      EXPECT_EQ(0, std::memcmp(one.buf.out.data(), many.buf.out.data(), one.buf.out.size() * sizeof(float)))
          << GetParam() << " " << dtypes_name(t) << ": O differs with " << threads << " threads";
      EXPECT_EQ(0, std::memcmp(one.buf.lse.data(), many.buf.lse.data(), one.buf.lse.size() * sizeof(float)))
          << GetParam() << " " << dtypes_name(t) << ": LSE differs with " << threads << " threads";
    }
  }
}

/// A copy of a dense view's elements, ending right before a guard page (kept alive in `keep`).
const void* guarded_copy(std::vector<std::unique_ptr<GuardedArray<std::uint16_t>>>& keep, const void* data,
                         std::size_t count, DType t) {
  const std::size_t halves = count * size_of(t) / 2;  // f32 data stays 4-byte aligned: it ends on a page
  keep.push_back(std::make_unique<GuardedArray<std::uint16_t>>(halves));
  std::memcpy(keep.back()->data(), data, halves * 2);
  return keep.back()->data();
}

TEST_P(EveryKernel, NoReadPastAnyInputOfAnyDtype) {
  for (const DTypes& t : {kAllF16, kAllBF16, kMixed})
    for (i64 n : {1, 5, 16, 17, 33, 129}) {
      Case c;
      c.shape(n, n + 2, n % 2 ? 17 : 16), c.mask = true, c.causal = n % 3 ? Causal::none : Causal::top_left;
      TypedCall call(c, t);
      const Buffers ref = oracle(call);
      Buffers& b = call.buf;
      b.store_inputs();
      std::vector<std::unique_ptr<GuardedArray<std::uint16_t>>> keep;
      AnyConstTensor q = b.q_typed(), k = b.k_typed(), v = b.v_typed();
      q.data = guarded_copy(keep, q.data, b.q.size(), t.q);
      k.data = guarded_copy(keep, k.data, b.k.size(), t.k);
      v.data = guarded_copy(keep, v.data, b.v.size(), t.v);
      Options o = b.options(GetParam(), 0);
      o.mask.data.ptr = guarded_copy(keep, o.mask.data.ptr, b.mask.size(), t.mask);
      attention(q, k, v, b.out_typed(), b.lsev(), o);
      b.load_output();
      TypedCall blas(c, t);
      blas.run("blas");
      const Errors e = errors(b, ref), eb = errors(blas.buf, ref);
      EXPECT_LE(e.out, 2 * std::max(eb.out, fp32_noise(ref.out))) << c.name() << " " << dtypes_name(t);
      EXPECT_LE(e.lse, 2 * std::max(eb.lse, fp32_noise(ref.lse))) << c.name() << " " << dtypes_name(t);
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, EveryKernel, ::testing::ValuesIn(kernels_taking_16_bits()),
                         [](const auto& p) { return p.param; });

/// The fused kernel on every ISA this process may use (ATTN_ISA=avx2 / scalar force the others).
class FusedIsa : public UsableIsaTest {
 protected:
  void TearDown() override { fused::force_isa(fused::supported_isas().back()); }
};

TEST_P(FusedIsa, AccuracyRuleOnEveryIsa) {
  ASSERT_TRUE(fused::force_isa(GetParam()));
  for (const DTypes& t : kDtypeSets)
    for (i64 n : {1, 7, 16, 33, 100, 257}) {
      Case c;
      c.H = 2, c.Hkv = 1, c.shape(n, 2 * n + 3, n % 2 ? 40 : 64), c.mask = n % 3 == 1;
      c.causal = n % 2 ? Causal::bottom_right : Causal::none;
      expect_within_twice_blas(c, t, "fused");
    }
}

// The packing microkernels of every ISA, on 16-bit K and V ending at a guard page: bitwise the
// panels the fp32 packing makes from the widened values (which test_fused checks against the
// scalar specification), for every key tail 1..33, block edges and head-dimension tails.
template <class T>
void expect_packs_as_widened(const fused::Ukernels& uk, void (*pack_kt)(i64, i64, const T*, i64, float*),
                             void (*pack_v)(i64, i64, const T*, i64, float*)) {
  for (i64 n : {1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 128, 129})
    for (i64 d : {1, 5, 8, 16, 17, 40, 64}) {
      std::vector<float> wide(static_cast<std::size_t>(n * d));
      std::mt19937 rng(static_cast<unsigned>(n * 100 + d));
      std::uniform_real_distribution<float> u(-4.0f, 4.0f);
      GuardedArray<T> src(wide.size());
      for (std::size_t i = 0; i < wide.size(); ++i) {
        src[i] = from_float<T>(u(rng));
        wide[i] = to_float(src[i]);
      }
      const i64 panels = (n + uk.nr - 1) / uk.nr, strips = (d + uk.pv_nr - 1) / uk.pv_nr;
      std::vector<float> kp16(static_cast<std::size_t>(panels * d * uk.nr), -1.0f), kp32 = kp16;
      pack_kt(n, d, src.data(), d, kp16.data());
      uk.pack_kt(n, d, wide.data(), d, kp32.data());
      EXPECT_EQ(0, std::memcmp(kp16.data(), kp32.data(), kp16.size() * sizeof(float)))
          << "pack_kt n=" << n << " d=" << d;
      std::vector<float> vp16(static_cast<std::size_t>(strips * n * uk.pv_nr), -1.0f), vp32 = vp16;
      pack_v(n, d, src.data(), d, vp16.data());
      uk.pack_v(n, d, wide.data(), d, vp32.data());
      EXPECT_EQ(0, std::memcmp(vp16.data(), vp32.data(), vp16.size() * sizeof(float)))
          << "pack_v n=" << n << " d=" << d;
    }
}

TEST_P(FusedIsa, SixteenBitPackingIsFp32PackingOfTheWidenedValues) {
  const fused::Ukernels& uk = *fused::ukernels_for(GetParam());
  expect_packs_as_widened<f16>(uk, uk.pack_kt_f16, uk.pack_v_f16);
  expect_packs_as_widened<bf16>(uk, uk.pack_kt_bf16, uk.pack_v_bf16);
}

INSTANTIATE_TEST_SUITE_P(Isas, FusedIsa, ::testing::Values(fused::Isa::scalar, fused::Isa::avx2, fused::Isa::avx512),
                         [](const auto& p) { return std::string(fused::isa_name(p.param)); });

// ---- Validation ----------------------------------------------------------------------------

/// Expects f() to throw attn::Error whose message contains `needle`.
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(DtypeValidation, AutoPicksDecodeForSixteenBitDecodeShapes) {
  Options opts;
  const Problem p32 = validate(
      ConstTensor::contiguous(nullptr, 1, 8, 1, 128), ConstTensor::contiguous(nullptr, 1, 8, 4096, 128),
      ConstTensor::contiguous(nullptr, 1, 8, 4096, 128), Tensor::contiguous(nullptr, 1, 8, 1, 128), Tensor{}, opts);
  EXPECT_EQ(select_kernel("auto", p32, default_memory_budget()).name, "decode");
  const Problem p16 = validate(ConstTensor::contiguous(nullptr, 1, 8, 1, 128),
                               TensorView<const bf16>::contiguous(nullptr, 1, 8, 4096, 128),
                               TensorView<const bf16>::contiguous(nullptr, 1, 8, 4096, 128),
                               Tensor::contiguous(nullptr, 1, 8, 1, 128), Tensor{}, opts);
  EXPECT_EQ(p16.dtypes.k, DType::bf16);
  EXPECT_EQ(p16.dtypes.v, DType::bf16);
  EXPECT_EQ(p16.dtypes.q, DType::f32);
  // decode reads 16-bit K and V as they are (converted on load): half the bytes of fp32.
  EXPECT_EQ(select_kernel("auto", p16, default_memory_budget()).name, "decode");
}

TEST(DtypeValidation, UnknownDtypeNamesTheArgument) {
  std::vector<float> x(16), o(16);
  AnyConstTensor bad = view2d(x.data(), 4, 4);
  bad.dtype = static_cast<DType>(7);
  expect_error([&] { attention(bad, view2d(x.data(), 4, 4), view2d(x.data(), 4, 4), view2d(o.data(), 4, 4)); },
               "q: dtype 7 is not a dtype");
  AnyTensor bad_out = view2d(o.data(), 4, 4);
  bad_out.dtype = static_cast<DType>(3);
  expect_error([&] { attention(view2d(x.data(), 4, 4), view2d(x.data(), 4, 4), view2d(x.data(), 4, 4), bad_out); },
               "out: dtype 3 is not a dtype");
  Options opts;
  opts.mask = Mask{x.data(), 4, 4, 0};
  opts.mask.data.dtype = static_cast<DType>(9);
  expect_error(
      [&] {
        attention(view2d(x.data(), 4, 4), view2d(x.data(), 4, 4), view2d(x.data(), 4, 4), view2d(o.data(), 4, 4), opts);
      },
      "options.mask: dtype 9 is not a dtype");
}

TEST(DtypeValidation, MisalignedSixteenBitDataIsRefused) {
  std::vector<float> q(16), o(16);
  std::vector<std::uint16_t> raw(40);
  const auto* odd = reinterpret_cast<const f16*>(reinterpret_cast<const char*>(raw.data()) + 1);
  expect_error(
      [&] {
        attention(view2d(q.data(), 4, 4), TensorView<const f16>::contiguous(odd, 1, 1, 4, 4),
                  TensorView<const f16>::contiguous(odd, 1, 1, 4, 4), view2d(o.data(), 4, 4));
      },
      "is not aligned to its 2-byte f16 elements");
}

TEST(DtypeValidation, SixteenBitExtentsAreCountedInTheirBytes) {
  // 16 f16 elements span 32 bytes: an fp32 out starting 32 bytes in does not overlap them,
  // one starting 30 bytes in does.
  alignas(64) std::byte mem[256] = {};
  const auto* k = reinterpret_cast<const f16*>(mem);
  const auto kv = TensorView<const f16>::contiguous(k, 1, 1, 4, 4);
  std::vector<float> q(16);
  EXPECT_NO_THROW(attention(view2d(q.data(), 4, 4), kv, kv, view2d(reinterpret_cast<float*>(mem + 32), 4, 4)));
  auto* o16 = reinterpret_cast<f16*>(mem + 30);
  expect_error([&] { attention(view2d(q.data(), 4, 4), kv, kv, TensorView<f16>::contiguous(o16, 1, 1, 4, 4)); },
               "out (f16): overlaps input k (f16)");
}

TEST(DtypeValidation, WideningCopiesCountAgainstTheMemoryBudget) {
  const KernelInfo* blas = find_kernel("blas");
  Problem p;
  p.batch = 1, p.heads = 2, p.kv_heads = 1, p.q_len = 10, p.kv_len = 20, p.head_dim = 8, p.value_dim = 4;
  const std::size_t f32 = blas->workspace_bytes(p);
  p.dtypes = kAllF16;
  p.has_mask = true;
  // 64-byte rounded fp32 copies: Q 2·10·8, K 20·8, V 20·4, O 2·10·4 and the mask 10·20 floats.
  auto copy = [](std::size_t floats) { return (floats * 4 + 63) / 64 * 64; };
  EXPECT_EQ(blas->workspace_bytes(p), f32 + copy(160) + copy(160) + copy(80) + copy(80) + copy(200));
  expect_error([&] { select_kernel("blas", p, blas->workspace_bytes(p) - 1); }, "kernel 'blas' needs");
}

TEST(DtypeValidation, FusedConvertsOnLoadWithoutCopies) {
  const KernelInfo* fused = find_kernel("fused");
  EXPECT_FALSE(fused->widens);
  Problem p;
  p.batch = 2, p.heads = 8, p.kv_heads = 2, p.q_len = 300, p.kv_len = 5000, p.head_dim = 128, p.value_dim = 128;
  p.has_mask = true;
  const std::size_t f32 = fused->workspace_bytes(p);
  for (const DTypes& t : kDtypeSets) {
    p.dtypes = t;
    EXPECT_EQ(fused->workspace_bytes(p), f32) << dtypes_name(t);
  }
}

TEST(DtypeValidation, NoKeysGiveZerosOfTheOutputDtype) {
  std::vector<float> q(8), lse(2, 1.0f);
  std::vector<bf16> o(8, bf16{0x7fc0});
  attention(view2d(q.data(), 2, 4), ConstTensor::contiguous(nullptr, 1, 1, 0, 4),
            ConstTensor::contiguous(nullptr, 1, 1, 0, 4), TensorView<bf16>::contiguous(o.data(), 1, 1, 2, 4),
            lse_view(lse.data(), 1, 1, 2));
  for (bf16 x : o) EXPECT_EQ(x.bits, 0);
  for (float l : lse) EXPECT_EQ(l, -std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace attn::test
