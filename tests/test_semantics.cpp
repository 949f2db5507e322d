// The numerical contract (docs/design.md §3) and the API's edge semantics, for every
// registered kernel and every dtype combination it takes (testkit's contract_dtypes: f32, f16,
// bf16 throughout, and 16-bit K/V with fp32 Q/O and a 16-bit mask). Inputs are rounded to
// their dtypes first; expectations are derived from those rounded values.
#include "testkit.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <numeric>

namespace attn::test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

class EveryKernel : public ::testing::TestWithParam<KernelDtypes> {
 protected:
  const std::string& kernel() const { return GetParam().kernel; }
  const DTypes& dtypes() const { return GetParam().dtypes; }
  /// A case of this shape in the parameter's dtypes.
  Case shape(i64 nq, i64 nk, i64 d) const {
    Case c = Case{}.shape(nq, nk, d);
    c.dtypes = dtypes();
    return c;
  }
};
INSTANTIATE_TEST_SUITE_P(Contract, EveryKernel, ::testing::ValuesIn(kernels_with_dtypes()), param_name);

TEST_P(EveryKernel, FullyMaskedRowGivesZeroAndNegInfLseNaNQueryGivesNaN) {
  expect_masked_row_zero_and_nan_query_nan(kernel(), 6, dtypes());
}

TEST_P(EveryKernel, NaNInQOnlyPoisonsItsRow) {
  Buffers b(shape(5, 7, 8));
  b.q[3 * 8 + 2] = kNaN;  // query row 3
  run(b, kernel());
  for (i64 i = 0; i < 5; ++i)
    for (i64 t = 0; t < 8; ++t) EXPECT_EQ(std::isnan(b.out[i * 8 + t]), i == 3) << "row " << i;
}

TEST_P(EveryKernel, NaNInKOrVPoisonsEveryRowThatSeesIt) {
  for (bool in_k : {true, false}) {
    Case c = shape(6, 6, 4);
    c.causal = Causal::top_left;
    Buffers b(c);
    (in_k ? b.k : b.v)[4 * 4 + 1] = kNaN;  // key/value 4: seen by rows 4 and 5 only
    run(b, kernel());
    for (i64 i = 0; i < 6; ++i) {
      // NaN in K poisons the logit, so the whole row; NaN in V only its column.
      for (i64 t = 0; t < 4; ++t) {
        const bool poisoned = i >= 4 && (in_k || t == 1);
        EXPECT_EQ(std::isnan(b.out[i * 4 + t]), poisoned) << (in_k ? "K" : "V") << " row " << i << " t " << t;
      }
    }
  }
}

TEST_P(EveryKernel, MaskedNaNAndInfNeverReachTheOutput) {
  Case c = shape(3, 5, 4);
  c.mask = true;
  Buffers b(c), clean(c);
  for (i64 i = 0; i < 3; ++i) b.mask[i * 5 + 1] = clean.mask[i * 5 + 1] = -kInf;  // key 1 masked for every row
  for (i64 t = 0; t < 4; ++t) {
    b.k[1 * 4 + t] = t % 2 ? kNaN : kInf;
    b.v[1 * 4 + t] = t % 2 ? kInf : kNaN;
  }
  for (i64 t = 0; t < 4; ++t) clean.k[1 * 4 + t] = clean.v[1 * 4 + t] = 123.0f;
  run(b, kernel());
  run(clean, kernel());
  EXPECT_EQ(b.out, clean.out);  // the selected-away key does not matter at all
  for (float x : b.out) EXPECT_TRUE(std::isfinite(x));
}

// The same promise past one block of keys, where kernels split the keys (the blas path's
// 512-key P·V chunks, the fused kernel's key blocks and groups): garbage at the first and
// last key of a chunk and in a chunk of its own, hidden by the mask or by the causal rule.
// Rows that cannot see a garbage key give the same bits as with clean K/V; a row that sees
// a non-finite V value is poisoned in that column, as the reference is.
TEST_P(EveryKernel, GarbageInHiddenKeysChangesNoBitAcrossKeyChunks) {
  constexpr i64 nq = 5, nk = 1100, dim = 8;
  const std::vector<i64> garbage = {0, 511, 512, 1023, 1099};
  for (const bool causal : {false, true}) {
    Case c = shape(nq, nk, dim);
    c.mask = !causal;
    c.causal = causal ? Causal::bottom_right : Causal::none;  // row i sees keys 0..1095 + i
    Buffers b(c), clean(c);
    if (c.mask) {
      std::copy(b.mask.begin(), b.mask.end(), clean.mask.begin());
      for (i64 i = 0; i < nq; ++i)
        for (i64 j : garbage) b.mask[i * nk + j] = clean.mask[i * nk + j] = -kInf;
    }
    for (i64 j : garbage)
      for (i64 t = 0; t < dim; ++t) {
        const bool hidden = c.mask || j > nk - nq;  // the causal case hides only key 1099 (from rows 0..3)
        if (!hidden) continue;
        b.k[j * dim + t] = t % 3 == 0 ? kNaN : kInf;
        b.v[j * dim + t] = t % 2 == 0 ? kNaN : -kInf;
      }
    run(b, kernel());
    run(clean, kernel());
    for (i64 i = 0; i < nq; ++i) {
      const bool sees_garbage = causal && i == nq - 1;  // the last row sees key 1099
      for (i64 t = 0; t < dim; ++t) {
        const float got = b.out[i * dim + t], want = clean.out[i * dim + t];
        if (sees_garbage)
          EXPECT_TRUE(std::isnan(got)) << "causal row " << i << " t " << t << " sees NaN in K";
        else
          EXPECT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want))
              << (causal ? "causal" : "mask") << " row " << i << " t " << t << ": " << got << " vs " << want;
      }
    }
  }
}

// Query i sees keys 0..i (top-left) or 0..i+Nk-Nq (bottom-right). With V = I
// the output row is the weight row, so the visible set can be read off.
std::vector<i64> visible_counts(const std::string& kernel, const DTypes& t, i64 nq, i64 nk, Causal causal) {
  Case c = Case{}.shape(nq, nk, 3);
  c.dv = nk, c.dtypes = t;
  c.causal = causal;
  Buffers b(c);
  std::fill(b.v.begin(), b.v.end(), 0.0f);
  for (i64 j = 0; j < nk; ++j) b.v[j * nk + j] = 1.0f;
  run(b, kernel);
  std::vector<i64> counts;
  for (i64 i = 0; i < nq; ++i) {
    i64 n = 0;
    for (i64 j = 0; j < nk; ++j) n += b.out[i * nk + j] > 0.0f;
    counts.push_back(n);
  }
  return counts;
}

TEST_P(EveryKernel, CausalAlignments) {
  auto visible_counts = [this](i64 nq, i64 nk, Causal causal) {
    return test::visible_counts(kernel(), dtypes(), nq, nk, causal);
  };
  EXPECT_EQ(visible_counts(2, 5, Causal::top_left), (std::vector<i64>{1, 2}));
  EXPECT_EQ(visible_counts(2, 5, Causal::bottom_right), (std::vector<i64>{4, 5}));
  EXPECT_EQ(visible_counts(5, 2, Causal::top_left), (std::vector<i64>{1, 2, 2, 2, 2}));
  EXPECT_EQ(visible_counts(5, 2, Causal::bottom_right), (std::vector<i64>{0, 0, 0, 1, 2}));
  EXPECT_EQ(visible_counts(1, 7, Causal::bottom_right), (std::vector<i64>{7}));  // decode
  EXPECT_EQ(visible_counts(1, 7, Causal::top_left), (std::vector<i64>{1}));
}

TEST_P(EveryKernel, ZeroScaleAveragesTheValues) {
  Case c = shape(3, 4, 2);
  c.scale = 0.0f;  // 0 means 0, not "default": every weight is 1/Nk
  Buffers b(c);
  run(b, kernel());
  for (i64 i = 0; i < 3; ++i)
    for (i64 t = 0; t < 2; ++t) {
      float mean = 0;
      for (i64 j = 0; j < 4; ++j) mean += b.v[j * 2 + t] / 4;
      const float got = b.out[i * 2 + t];
      EXPECT_NEAR(got, mean, 8e-7f + narrowing_error(c.dtypes.out, got));
    }
}

TEST_P(EveryKernel, EmptyShapesAreNoOps) {
  Buffers b(shape(2, 2, 4));
  b.store_inputs();
  const Options o = b.options(kernel());
  // No query rows, or no batch: nothing is written (out stays the NaN Buffers starts with).
  for (int dim : {2, 0}) {
    AnyConstTensor q = b.q_typed(), k = b.k_typed(), v = b.v_typed();
    AnyTensor out = b.out_typed();
    q.shape[dim] = out.shape[dim] = 0;
    if (dim == 0) k.shape[0] = v.shape[0] = 0;
    attention(q, k, v, out, o);
  }
  b.load_output();
  EXPECT_TRUE(std::all_of(b.out.begin(), b.out.end(), [](float x) { return std::isnan(x); }));
  // No keys: output 0 and LSE -inf.
  Buffers none(shape(2, 0, 4));
  run(none, kernel());
  EXPECT_TRUE(std::all_of(none.out.begin(), none.out.end(), [](float x) { return x == 0.0f; }));
  EXPECT_EQ(none.lse, (std::vector<float>{-kInf, -kInf}));
}

// --- properties -------------------------------------------------------------

TEST_P(EveryKernel, WeightRowsSumToOne) {
  const i64 nk = 37;
  Case c = shape(11, nk, 16);
  c.dv = nk;
  c.mask = true;
  Buffers b(c);
  std::fill(b.v.begin(), b.v.end(), 0.0f);
  for (i64 j = 0; j < nk; ++j) b.v[j * nk + j] = 1.0f;  // V = I: output = weights
  run(b, kernel());
  for (i64 i = 0; i < 11; ++i) {
    // The P·V sum bound of testkit.cpp, plus each weight's rounding to O's dtype.
    double sum = 0, bound = (2 * nk + 16) * 0x1p-24;
    for (i64 j = 0; j < nk; ++j) {
      sum += b.out[i * nk + j];
      bound += narrowing_error(c.dtypes.out, b.out[i * nk + j]);
    }
    EXPECT_NEAR(sum, 1.0, bound) << "row " << i;
  }
}

TEST_P(EveryKernel, PermutingKeysWithValuesLeavesOutputUnchanged) {
  Case c = shape(9, 13, 8);
  Buffers b(c), p(c);
  std::vector<i64> perm(13);
  std::iota(perm.begin(), perm.end(), 0);
  std::reverse(perm.begin(), perm.end());
  std::rotate(perm.begin(), perm.begin() + 5, perm.end());
  for (i64 j = 0; j < 13; ++j)
    for (i64 t = 0; t < 8; ++t) {
      p.k[perm[j] * 8 + t] = b.k[j * 8 + t];
      p.v[perm[j] * 8 + t] = b.v[j * 8 + t];
    }
  run(b, kernel());
  run(p, kernel());
  Buffers ref(c);
  run(ref, "reference");
  expect_matches_reference(p, ref, kernel() + " (keys permuted)");
  expect_matches_reference(b, ref, kernel());
}

TEST_P(EveryKernel, CausalRowIgnoresLaterTokens) {
  Case c = shape(12, 12, 8);
  c.causal = Causal::top_left;
  Buffers a(c), b(c);
  for (i64 j = 7; j < 12; ++j)
    for (i64 t = 0; t < 8; ++t) b.k[j * 8 + t] = b.v[j * 8 + t] = b.q[j * 8 + t] = 50.0f + static_cast<float>(t);
  run(a, kernel());
  run(b, kernel());
  for (i64 i = 0; i < 7; ++i)
    for (i64 t = 0; t < 8; ++t) EXPECT_EQ(a.out[i * 8 + t], b.out[i * 8 + t]) << "row " << i;
}

TEST_P(EveryKernel, ConstantAddedToALogitRowChangesNothing) {
  Case c = shape(6, 20, 8);
  c.mask = true;
  Buffers a(c), b(c);
  for (i64 i = 0; i < 6; ++i)
    for (i64 j = 0; j < 20; ++j) {
      // Mask values in [-2, 2] on a 1/4 grid, so the shift below (up to 42) is exact in every
      // dtype: a multiple of 1/4 below 64 has at most 8 significant bits, bf16's precision.
      float& m = a.mask[i * 20 + j];
      if (std::isfinite(m)) m = std::round(m * 4.0f) / 4.0f;
      b.mask[i * 20 + j] = m + 7.0f * static_cast<float>(i + 1);  // row-wise constant
    }
  Buffers ref_a(a.c), ref_b(b.c);
  ref_a.mask = a.mask;
  ref_b.mask = b.mask;
  run(a, kernel());
  run(b, kernel());
  run(ref_a, "reference");
  run(ref_b, "reference");
  // The oracle's outputs differ by at most the final fp64 -> fp32 rounding (and O's dtype's),
  const DType ot = c.dtypes.out;
  for (std::size_t x = 0; x < a.out.size(); ++x)
    EXPECT_LE(std::abs(ref_a.out[x] - ref_b.out[x]), std::abs(ref_a.out[x]) * 0x1p-23f + 1e-30f +
                                                         narrowing_error(ot, ref_a.out[x]) +
                                                         narrowing_error(ot, ref_b.out[x]));
  // and the kernel agrees with it in both cases within the derived bound.
  expect_matches_reference(a, ref_a, kernel());
  expect_matches_reference(b, ref_b, kernel() + " (shifted logits)");
}

TEST_P(EveryKernel, SameResultForEveryThreadCount) {
  Case c = shape(70, 150, 32);
  c.B = 2, c.H = 3, c.Hkv = 3;
  c.causal = Causal::top_left;
  Buffers one(c);
  run(one, kernel(), 1);
  for (int threads : {2, 3, 7}) {
    Buffers many(c);
    run(many, kernel(), threads);
    EXPECT_EQ(one.out, many.out) << threads << " threads";
    EXPECT_EQ(one.lse, many.lse) << threads << " threads";
  }
}

// --- textbook overflows exactly where expf does ------------------------------

TEST(Textbook, OverflowsExactlyAboveLogOfFloatMax) {
  // expf(x) is finite for x <= 88.72283172607421875 (0x42B17217) and +inf from
  // the next float, 88.72283935546875 (0x42B17218), since ln(FLT_MAX) = 88.7228391...
  const float last_finite = 0x1.62e42ep+6f, first_inf = 0x1.62e430p+6f;
  ASSERT_EQ(std::nextafter(last_finite, 100.0f), first_inf);
  ASSERT_TRUE(std::isfinite(std::exp(last_finite)));
  ASSERT_TRUE(std::isinf(std::exp(first_inf)));
  for (auto [logit, overflows] : {std::pair{last_finite, false}, {first_inf, true}}) {
    float q = logit, k = 1.0f, v = 0.5f, out = 0, lse = 0;
    Options o;
    o.kernel = "textbook";
    o.scale = 1.0f;  // the logit is exactly q·k
    attention(view2d(&q, 1, 1), view2d(&k, 1, 1), view2d(&v, 1, 1), view2d(&out, 1, 1), lse_view(&lse, 1, 1, 1), o);
    EXPECT_EQ(std::isnan(out), overflows) << "logit " << logit;
    if (!overflows) {
      EXPECT_EQ(out, 0.5f);
    }
    o.kernel = "reference";  // the stable oracle does not care
    attention(view2d(&q, 1, 1), view2d(&k, 1, 1), view2d(&v, 1, 1), view2d(&out, 1, 1), lse_view(&lse, 1, 1, 1), o);
    EXPECT_EQ(out, 0.5f);
    EXPECT_EQ(lse, logit);
  }
}

}  // namespace
}  // namespace attn::test
