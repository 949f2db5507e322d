// Every registered kernel against the fp64 reference, over shapes, tails,
// layouts, masks and both causal alignments, in fp32 and (the same grids, looped inside one
// test per kernel and dtype combination) in the 16-bit dtypes the kernel takes. A kernel gets
// these tests by being registered; the bound is derived in testkit.cpp.
#include "testkit.hpp"

#include <tuple>

namespace attn::test {
namespace {

/// Kernels validated against the oracle (everything but the oracle itself).
std::vector<std::string> kernels_under_test() {
  std::vector<std::string> out;
  for (const std::string& k : kernel_names())
    if (k != "reference") out.push_back(k);
  return out;
}

bool supports(const std::string& kernel, const Case& c) {
  const KernelInfo* info = find_kernel(kernel);
  return !((c.causal != Causal::none && !info->caps.causal) || (c.mask && !info->caps.mask) ||
           (c.H != c.Hkv && !info->caps.gqa));
}

void check_against_reference(const std::string& kernel, const Case& c) {
  ASSERT_NE(find_kernel(kernel), nullptr);
  if (!supports(kernel, c)) GTEST_SKIP() << kernel << " does not support " << c.name();
  Buffers ref(c), got(c);
  run(ref, "reference");
  run(got, kernel);
  expect_matches_reference(got, ref, kernel);
}

// --- sequence lengths: every Nq = Nk in the list, two head sizes -----------
const i64 kLengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000};
const i64 kDims[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 80, 96, 128, 129, 256};

class Lengths : public ::testing::TestWithParam<std::tuple<std::string, i64, i64>> {};
TEST_P(Lengths, MatchesReference) {
  auto [kernel, n, d] = GetParam();
  check_against_reference(kernel, Case{}.shape(n, n, d));
}
INSTANTIATE_TEST_SUITE_P(Grid, Lengths,
                         ::testing::Combine(::testing::ValuesIn(kernels_under_test()), ::testing::ValuesIn(kLengths),
                                            ::testing::Values<i64>(16, 64)));

// --- head dimensions: every d in the list, at a length with a tail ---------
class Dims : public ::testing::TestWithParam<std::tuple<std::string, i64>> {};
TEST_P(Dims, MatchesReference) {
  auto [kernel, d] = GetParam();
  check_against_reference(kernel, Case{}.shape(33, 37, d));
}
INSTANTIATE_TEST_SUITE_P(Grid, Dims,
                         ::testing::Combine(::testing::ValuesIn(kernels_under_test()), ::testing::ValuesIn(kDims)));

// --- Nq != Nk, both ways, with and without causal masks --------------------
class Rectangular : public ::testing::TestWithParam<std::tuple<std::string, i64, i64, Causal>> {};
TEST_P(Rectangular, MatchesReference) {
  auto [kernel, nq, nk, causal] = GetParam();
  Case c = Case{}.shape(nq, nk, 17);
  c.causal = causal;
  check_against_reference(kernel, c);
}
INSTANTIATE_TEST_SUITE_P(Grid, Rectangular,
                         ::testing::Combine(::testing::ValuesIn(kernels_under_test()),
                                            ::testing::Values<i64>(1, 2, 5, 17, 64, 129),
                                            ::testing::Values<i64>(1, 2, 5, 16, 65, 200),
                                            ::testing::Values(Causal::none, Causal::top_left, Causal::bottom_right)));

// --- batches, heads, GQA, dv != d, layouts, masks ---------------------------
struct Variant {
  const char* name;
  Case c;
};
Case make(i64 B, i64 H, i64 Hkv, i64 nq, i64 nk, i64 d, i64 dv, Causal causal, bool mask, bool permuted) {
  Case c;
  c.B = B, c.H = H, c.Hkv = Hkv, c.Nq = nq, c.Nk = nk, c.d = d, c.dv = dv;
  c.causal = causal, c.mask = mask, c.permuted = permuted;
  return c;
}
const Variant kVariants[] = {
    {"batch_heads", make(2, 3, 3, 19, 23, 16, 16, Causal::none, false, false)},
    {"gqa_4_to_2", make(2, 4, 2, 17, 33, 32, 32, Causal::none, false, false)},
    {"mqa_4_to_1", make(1, 4, 1, 9, 70, 8, 8, Causal::top_left, false, false)},
    {"dv_gt_d", make(1, 2, 2, 21, 40, 16, 48, Causal::none, false, false)},
    {"dv_lt_d", make(1, 2, 2, 21, 40, 64, 5, Causal::bottom_right, false, false)},
    {"permuted", make(2, 3, 3, 16, 16, 8, 8, Causal::none, false, true)},
    {"permuted_gqa_causal", make(2, 4, 2, 31, 31, 12, 20, Causal::top_left, false, true)},
    {"mask", make(1, 2, 2, 33, 65, 16, 16, Causal::none, true, false)},
    {"mask_causal", make(2, 2, 1, 40, 40, 24, 24, Causal::top_left, true, false)},
    {"mask_bottom_right", make(1, 1, 1, 7, 90, 24, 24, Causal::bottom_right, true, true)},
    {"decode", make(1, 8, 2, 1, 1000, 64, 64, Causal::bottom_right, false, false)},
};
void PrintTo(const Variant& v, std::ostream* os) {
  *os << v.name;
}

class Variants : public ::testing::TestWithParam<std::tuple<std::string, Variant>> {};
TEST_P(Variants, MatchesReference) {
  auto [kernel, v] = GetParam();
  check_against_reference(kernel, v.c);
}
INSTANTIATE_TEST_SUITE_P(Grid, Variants,
                         ::testing::Combine(::testing::ValuesIn(kernels_under_test()), ::testing::ValuesIn(kVariants)),
                         [](const auto& p) { return std::get<0>(p.param) + "_" + std::get<1>(p.param).name; });

// --- large logits: [90, 100] overflows exp unless the max is subtracted ------
void check_large_logits(const std::string& kernel, const DTypes& t) {
  Case c = Case{}.shape(9, 40, 16);
  c.mask = true, c.dtypes = t;
  c.logit_offset = 95.0f;  // every visible logit lands in about [90, 100]
  Buffers ref(c), got(c);
  run(ref, "reference");
  run(got, kernel);
  if (kernel == "textbook") {
    for (float x : got.out) EXPECT_TRUE(std::isnan(x)) << "textbook must overflow at logits near 95";
    return;
  }
  for (float x : got.out) ASSERT_TRUE(std::isfinite(x)) << kernel;
  expect_matches_reference(got, ref, kernel);
}
class LargeLogits : public ::testing::TestWithParam<std::string> {};
TEST_P(LargeLogits, StableKernelsStayFinite) {
  check_large_logits(GetParam(), {});
}
INSTANTIATE_TEST_SUITE_P(Grid, LargeLogits, ::testing::ValuesIn(kernels_under_test()));

// --- the 16-bit dtypes: the grids above (fewer lengths), one test per kernel and dtypes ----
class Dtyped : public ::testing::TestWithParam<KernelDtypes> {
 protected:
  /// Checks c in the parameter's dtypes, unless the kernel lacks a capability c needs.
  void check(Case c) const {
    c.dtypes = GetParam().dtypes;
    SCOPED_TRACE(c.name());
    if (supports(GetParam().kernel, c)) check_against_reference(GetParam().kernel, c);
  }
};
std::vector<KernelDtypes> sixteen_bit_kernels_under_test() {
  std::vector<KernelDtypes> out;
  for (const KernelDtypes& p : kernels_with_dtypes([](const std::string& k) { return k != "reference"; }))
    if (p.dtypes != DTypes{}) out.push_back(p);
  return out;
}
INSTANTIATE_TEST_SUITE_P(Grid, Dtyped, ::testing::ValuesIn(sixteen_bit_kernels_under_test()), param_name);

TEST_P(Dtyped, LengthsMatchReference) {
  for (i64 n : {1, 2, 3, 5, 8, 9, 16, 17, 33, 64, 65, 129})
    for (i64 d : {16, 64}) check(Case{}.shape(n, n, d));
}
TEST_P(Dtyped, DimsMatchReference) {
  for (i64 d : kDims) check(Case{}.shape(33, 37, d));
}
TEST_P(Dtyped, RectangularMatchesReference) {
  for (i64 nq : {1, 2, 17, 129})
    for (i64 nk : {1, 5, 16, 65, 200})
      for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right}) {
        Case c = Case{}.shape(nq, nk, 17);
        c.causal = causal;
        check(c);
      }
}
TEST_P(Dtyped, VariantsMatchReference) {
  for (const Variant& v : kVariants) check(v.c);
}
TEST_P(Dtyped, LargeLogitsStayFinite) {
  check_large_logits(GetParam().kernel, GetParam().dtypes);
}

}  // namespace
}  // namespace attn::test
