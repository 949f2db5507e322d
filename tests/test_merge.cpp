// Attention over chunks of a sequence: causal offsets (Options::q_offset, kv_offset) place a
// chunk in the whole call, and merge_partials combines chunks of keys into attention over
// all of them. Every kernel, both causal alignments, against the whole call, with Q, K, V and
// the mask in every dtype combination the kernel takes (O is fp32: merge_partials' dtype).
#include "testkit.hpp"

#include <attn/merge.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace attn::test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Row range [begin, end).
struct Range {
  i64 begin, end;
  i64 size() const { return end - begin; }
};

/// Rows [r.begin, r.end) of a [B, H, N, D] view.
template <class T>
TensorView<T> rows_of(TensorView<T> t, Range r) {
  t.data += r.begin * t.strides[2];
  t.shape[2] = r.size();
  return t;
}

/// Rows [r.begin, r.end) of a view of any dtype.
AnyConstTensor rows_of(AnyConstTensor t, Range r) {
  t.data = static_cast<const char*>(t.data) + r.begin * t.strides[2] * static_cast<i64>(size_of(t.dtype));
  t.shape[2] = r.size();
  return t;
}

/// The whole call of `b` computed chunk by chunk: every (query chunk, key chunk) pair with
/// the offsets that place it in the whole sequence, then the key chunks of each query chunk
/// merged in order. Writes b.out and b.lse.
void run_chunked(Buffers& b, const std::string& kernel, const std::vector<Range>& q_chunks,
                 const std::vector<Range>& k_chunks) {
  const Case& c = b.c;
  b.store_inputs();  // the typed views of its inputs
  // Any common base: only differences of positions matter.
  constexpr i64 kBase = 1000;
  for (const Range qr : q_chunks) {
    std::vector<std::vector<float>> outs(k_chunks.size()), lses(k_chunks.size());
    std::vector<ConstTensor> out_views, lse_views;
    for (std::size_t s = 0; s < k_chunks.size(); ++s) {
      const Range kr = k_chunks[s];
      outs[s].assign(static_cast<std::size_t>(c.B * c.H * qr.size() * c.dv), kNaN);
      lses[s].assign(static_cast<std::size_t>(c.B * c.H * qr.size()), kNaN);
      Options o = b.options(kernel, 2);
      if (c.mask) o.mask = Mask{o.mask.data + (qr.begin * c.Nk + kr.begin), qr.size(), kr.size(), c.Nk};
      // The chunk's diagonal must be the whole call's: kv_offset + j <= q_offset + i (+ Nk - Nq).
      o.kv_offset = kBase + kr.begin;
      o.q_offset = kBase + qr.begin;
      if (c.causal == Causal::bottom_right) o.q_offset += (c.Nk - c.Nq) - (kr.size() - qr.size());
      const Tensor ov = Tensor::contiguous(outs[s].data(), c.B, c.H, qr.size(), c.dv);
      const Tensor lv = lse_view(lses[s].data(), c.B, c.H, qr.size());
      attention(rows_of(b.q_typed(), qr), rows_of(b.k_typed(), kr), rows_of(b.v_typed(), kr), ov, lv, o);
      out_views.push_back(ov);
      lse_views.push_back(lv);
    }
    merge_partials(out_views, lse_views, rows_of(b.outv(), qr), rows_of(b.lsev(), qr));
  }
}

struct Chunking {
  Case c;
  std::vector<Range> q, k;
};

std::vector<Chunking> chunkings(Causal causal, DTypes t) {
  std::vector<Chunking> r;
  for (bool mask : {false, true}) {
    Case c;
    c.dtypes = t;
    c.B = 2, c.H = 2, c.Hkv = 1, c.Nq = 37, c.Nk = 53, c.d = 16, c.dv = 12, c.causal = causal, c.mask = mask;
    r.push_back({c, {{0, 13}, {13, 14}, {14, 37}}, {{0, 20}, {20, 41}, {41, 53}}});
    c.Nq = 53, c.Nk = 29, c.seed = 9;  // more queries than keys: rows that see no key
    r.push_back({c, {{0, 30}, {30, 53}}, {{0, 1}, {1, 29}}});
    c.Nq = 3, c.Nk = 2600, c.d = c.dv = 32, c.seed = 10;  // decode: the fused split-KV path per chunk
    r.push_back({c, {{0, 3}}, {{0, 1300}, {1300, 2600}}});
  }
  return r;
}

/// Kernels with the contract's dtype combinations, O made fp32 (merge_partials' dtype).
std::vector<KernelDtypes> kernels_with_fp32_out() {
  std::vector<KernelDtypes> out = kernels_with_dtypes();
  for (KernelDtypes& p : out) p.dtypes.out = DType::f32;
  return out;
}

class EveryKernel : public ::testing::TestWithParam<KernelDtypes> {
 protected:
  const std::string& kernel() const { return GetParam().kernel; }
  std::vector<Chunking> chunkings(Causal causal) const { return test::chunkings(causal, GetParam().dtypes); }
};
INSTANTIATE_TEST_SUITE_P(Chunked, EveryKernel, ::testing::ValuesIn(kernels_with_fp32_out()), param_name);

TEST_P(EveryKernel, CausalChunksWithOffsetsMergedEqualTheWholeCall) {
  for (Causal causal : {Causal::top_left, Causal::bottom_right})
    for (const Chunking& ch : chunkings(causal)) {
      Buffers ref(ch.c), got(ch.c);
      run(ref, "reference");
      run_chunked(got, kernel(), ch.q, ch.k);
      expect_matches_reference(got, ref, kernel() + " chunked", static_cast<int>(ch.k.size()));
    }
}

TEST_P(EveryKernel, QueryChunksAloneAreTheWholeCallsRows) {
  // Rows are computed independently by every kernel; with all the keys in one chunk, the
  // offsets alone must give each row exactly the keys the whole call gives it.
  for (Causal causal : {Causal::top_left, Causal::bottom_right})
    for (const Chunking& ch : chunkings(causal)) {
      Buffers whole(ch.c), got(ch.c);
      run(whole, kernel(), 2);
      run_chunked(got, kernel(), ch.q, {{0, ch.c.Nk}});
      if (kernel() == "reference" || kernel() == "textbook") {  // plain loops, one row at a time: bitwise
        EXPECT_EQ(std::memcmp(got.out.data(), whole.out.data(), got.out.size() * sizeof(float)), 0) << ch.c.name();
        EXPECT_EQ(std::memcmp(got.lse.data(), whole.lse.data(), got.lse.size() * sizeof(float)), 0) << ch.c.name();
      } else {
        Buffers ref(ch.c);
        run(ref, "reference");
        expect_matches_reference(got, ref, kernel() + " query chunks");
      }
    }
}

TEST(CausalOffsets, WhichKeysARowSees) {
  // V = I: the output row is the weight row, so the visible keys can be read off.
  for (const std::string& kernel : kernel_names())
    for (Causal causal : {Causal::top_left, Causal::bottom_right}) {
      Case c;
      c.Nq = 4, c.Nk = 6, c.d = 3, c.dv = 6, c.causal = causal;
      Buffers b(c);
      std::fill(b.v.begin(), b.v.end(), 0.0f);
      for (i64 j = 0; j < c.Nk; ++j) b.v[j * c.Nk + j] = 1.0f;
      Options o = b.options(kernel, 1);
      o.q_offset = 7, o.kv_offset = 9;  // key j visible iff 9 + j <= 7 + i (+ 6 - 4)
      attention(b.qv(), b.kv(), b.vv(), b.outv(), b.lsev(), o);
      for (i64 i = 0; i < c.Nq; ++i) {
        const i64 want = std::clamp<i64>(i - 2 + 1 + (causal == Causal::bottom_right ? 2 : 0), 0, c.Nk);
        i64 seen = 0;
        for (i64 j = 0; j < c.Nk; ++j) seen += b.out[i * c.Nk + j] > 0.0f;
        EXPECT_EQ(seen, want) << kernel << " " << to_string(causal) << " row " << i;
        if (want == 0) {
          EXPECT_EQ(b.lse[i], -kInf) << kernel << " row " << i;
        }
      }
      // Offsets are ignored without causal masking.
      o.causal = Causal::none;
      attention(b.qv(), b.kv(), b.vv(), b.outv(), b.lsev(), o);
      for (float x : b.out) EXPECT_GT(x, 0.0f) << kernel;
    }
}

TEST(CausalOffsets, FlopsCountOnlyVisiblePairs) {
  Problem p;
  p.q_len = 4, p.kv_len = 6, p.head_dim = 3, p.value_dim = 5, p.batch = 2, p.heads = 3;
  p.causal = Causal::top_left, p.q_offset = 7, p.kv_offset = 6;  // row i sees i + 2 keys
  EXPECT_EQ(p.flops(), 2.0 * (2 + 3 + 4 + 5) * (3 + 5) * 6);
  p.causal = Causal::bottom_right;  // + Nk - Nq = 2: 4, 5, 6, 6
  EXPECT_EQ(p.flops(), 2.0 * (4 + 5 + 6 + 6) * (3 + 5) * 6);
  p.kv_offset = 100;  // every key after every query
  EXPECT_EQ(p.flops(), 0.0);
  p.causal = Causal::none;  // offsets ignored
  EXPECT_EQ(p.flops(), 2.0 * 4 * 6 * (3 + 5) * 6);
}

TEST(CausalOffsets, InvalidOffsetsAreRefusedByName) {
  Buffers b(Case{}.shape(4, 6, 3));
  auto expect_error = [&](Options o, const std::string& want) {
    try {
      attention(b.qv(), b.kv(), b.vv(), b.outv(), b.lsev(), o);
      ADD_FAILURE() << "accepted: " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  Options o = b.options("auto");
  o.causal = Causal::top_left;
  o.q_offset = -1;
  expect_error(o, "options.q_offset: must be >= 0");
  o.q_offset = 0, o.kv_offset = -5;
  expect_error(o, "options.kv_offset: must be >= 0");
  o.kv_offset = 0, o.q_offset = std::numeric_limits<i64>::max() - 2;  // q_offset + Nq overflows
  expect_error(o, "options.q_offset + Nq");
  o.q_offset = 0, o.kv_offset = std::numeric_limits<i64>::max() - 3;
  expect_error(o, "options.kv_offset + Nk");
  // Large but representable: every key visible.
  o.kv_offset = 0, o.q_offset = std::numeric_limits<i64>::max() - 4;
  EXPECT_NO_THROW(attention(b.qv(), b.kv(), b.vv(), b.outv(), b.lsev(), o));
  // The diagonal: q_offset - kv_offset + (Nk - Nq) past int64 while q_offset + Nq is not.
  Buffers wide(Case{}.shape(2, 10, 3));
  o.causal = Causal::bottom_right, o.q_offset = std::numeric_limits<i64>::max() - 2;
  try {
    attention(wide.qv(), wide.kv(), wide.vv(), wide.outv(), wide.lsev(), o);
    ADD_FAILURE() << "accepted an overflowing diagonal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("options.q_offset - options.kv_offset + (Nk - Nq)"), std::string::npos)
        << e.what();
  }
}

// --- merge_partials ----------------------------------------------------------------

/// Owns a partial result [B, H, N, dv] and its LSE.
struct Partial {
  std::vector<float> o, l;
  Tensor ov, lv;
  Partial(i64 B, i64 H, i64 N, i64 dv)
      : o(static_cast<std::size_t>(B * H * N * dv)), l(static_cast<std::size_t>(B * H * N)) {
    ov = Tensor::contiguous(o.data(), B, H, N, dv);
    lv = lse_view(l.data(), B, H, N);
  }
};

TEST(MergePartials, KeyHalvesEqualTheWholeWithinTheBound) {
  Case c;
  c.B = 1, c.H = 3, c.Hkv = 3, c.Nq = 19, c.Nk = 40, c.d = 8, c.dv = 5, c.value_range = 3.0f;
  Buffers ref(c), got(c);
  run(ref, "reference");
  run_chunked(got, "fused", {{0, c.Nq}}, {{0, 17}, {17, 40}});
  expect_matches_reference(got, ref, "halves", 2);
}

TEST(MergePartials, InPlaceAccumulationIsTheSameAsAFreshOutput) {
  // A ring driver folds each new block into its running result: merge({acc, new}) -> acc.
  const i64 B = 1, H = 2, N = 7, dv = 3;
  Partial a(B, H, N, dv), b2(B, H, N, dv), fresh(B, H, N, dv);
  for (std::size_t i = 0; i < a.o.size(); ++i) a.o[i] = 0.1f * static_cast<float>(i % 7), b2.o[i] = -0.3f * (i % 5);
  for (std::size_t i = 0; i < a.l.size(); ++i) a.l[i] = 1.5f + i, b2.l[i] = 3.0f - i;
  const std::vector<ConstTensor> outs{a.ov, b2.ov}, lses{a.lv, b2.lv};
  merge_partials(outs, lses, fresh.ov, fresh.lv);
  merge_partials(outs, lses, a.ov, a.lv);  // out is outs[0], lse is lses[0]
  EXPECT_EQ(a.o, fresh.o);
  EXPECT_EQ(a.l, fresh.l);
}

TEST(MergePartials, MinusInfinityContributesNothingAndAllOfThemGiveZero) {
  const i64 B = 1, H = 1, N = 3, dv = 2;
  Partial a(B, H, N, dv), b2(B, H, N, dv), out(B, H, N, dv);
  a.o = {1, 2, 3, 4, 5, 6}, b2.o = {kNaN, kInf, 7, 8, kNaN, kNaN};  // O of a row with no key is never read
  a.l = {0.5f, -kInf, -kInf}, b2.l = {-kInf, 2.0f, -kInf};
  const std::vector<ConstTensor> outs{a.ov, b2.ov}, lses{a.lv, b2.lv};
  merge_partials(outs, lses, out.ov, out.lv);
  EXPECT_EQ(out.o, (std::vector<float>{1, 2, 7, 8, 0, 0}));
  EXPECT_EQ(out.l, (std::vector<float>{0.5f, 2.0f, -kInf}));
  // No partials at all: attention over no key.
  merge_partials({}, {}, out.ov, out.lv);
  EXPECT_EQ(out.o, (std::vector<float>(6, 0.0f)));
  EXPECT_EQ(out.l, (std::vector<float>(3, -kInf)));
}

TEST(MergePartials, NaNPropagatesToItsRowOnly) {
  const i64 B = 1, H = 1, N = 2, dv = 2;
  Partial a(B, H, N, dv), b2(B, H, N, dv), out(B, H, N, dv);
  a.o = {1, 2, 3, 4}, b2.o = {5, 6, 7, 8};
  a.l = {kNaN, 0.0f}, b2.l = {1.0f, 0.0f};
  const std::vector<ConstTensor> outs{a.ov, b2.ov}, lses{a.lv, b2.lv};
  merge_partials(outs, lses, out.ov, out.lv);
  EXPECT_TRUE(std::isnan(out.o[0]) && std::isnan(out.o[1]) && std::isnan(out.l[0]));
  EXPECT_EQ(out.o[2], 5.0f);  // equal weights: the mean
  EXPECT_EQ(out.o[3], 6.0f);
  EXPECT_FLOAT_EQ(out.l[1], std::log(2.0f));
}

TEST(MergePartials, BadArgumentsAreRefusedByName) {
  const i64 B = 1, H = 2, N = 3, dv = 4;
  Partial a(B, H, N, dv), b2(B, H, N, dv), out(B, H, N, dv), small(B, H, N - 1, dv);
  auto expect_error = [](auto&& call, const std::string& want) {
    try {
      call();
      ADD_FAILURE() << "accepted: " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  std::vector<ConstTensor> outs{a.ov, b2.ov}, lses{a.lv, b2.lv};
  expect_error([&] { merge_partials(outs, std::span(lses).first(1), out.ov, out.lv); }, "lses: 1 partial LSEs for 2");
  expect_error([&] { merge_partials(outs, lses, small.ov, out.lv); }, "lse: shape [1, 2, 3, 1], expected [1, 2, 2, 1]");
  outs[1] = small.ov;
  expect_error([&] { merge_partials(outs, lses, out.ov, out.lv); },
               "outs[1]: shape [1, 2, 2, 4], expected [1, 2, 3, 4]");
  outs[1] = b2.ov, lses[0] = small.lv;
  expect_error([&] { merge_partials(outs, lses, out.ov, out.lv); }, "lses[0]: shape");
  lses[0] = a.lv;
  ConstTensor null_view = a.ov;
  null_view.data = nullptr;
  outs[0] = null_view;
  expect_error([&] { merge_partials(outs, lses, out.ov, out.lv); }, "outs[0]: data is null");
  outs[0] = a.ov;
  // Overlaps other than out = outs[0] and lse = lses[0] as the same view.
  expect_error([&] { merge_partials(outs, lses, b2.ov, out.lv); }, "out: overlaps outs[1]");
  Tensor shifted = a.ov;
  shifted.shape[2] = N - 1, shifted.data += dv;  // outs[0] one row later: not the same view
  Partial o2(B, H, N - 1, dv);
  std::vector<ConstTensor> outs2{Tensor::contiguous(a.o.data(), B, H, N - 1, dv), o2.ov};
  std::vector<ConstTensor> lses2{small.lv, o2.lv};
  expect_error([&] { merge_partials(outs2, lses2, shifted, Partial(B, H, N - 1, dv).lv); }, "out: overlaps outs[0]");
  expect_error([&] { merge_partials(outs, lses, out.ov, b2.lv); }, "lse: overlaps lses[1]");
  expect_error([&] { merge_partials(outs, lses, out.ov, lse_view(a.o.data(), B, H, N)); }, "lse: overlaps outs[0]");
  expect_error([&] { merge_partials(outs, lses, out.ov, lse_view(out.o.data(), B, H, N)); }, "lse: overlaps out");
}

}  // namespace
}  // namespace attn::test
