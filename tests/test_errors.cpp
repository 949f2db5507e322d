// Every invalid call throws attn::Error naming the argument, before touching memory.
#include "testkit.hpp"

#include <set>

namespace attn::test {
namespace {

/// Expects attention() to throw attn::Error whose message contains `needle`,
/// and the output to be untouched.
template <class Call>
void expect_error(Call call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

struct Fixture : ::testing::Test {
  std::vector<float> q = std::vector<float>(64, 0.5f), k = q, v = q, out = std::vector<float>(64, 42.0f);
  std::vector<float> lse = std::vector<float>(8, 42.0f);
  ConstTensor Q(i64 n = 4, i64 d = 4) const { return view2d(q.data(), n, d); }
  ConstTensor K(i64 n = 4, i64 d = 4) const { return view2d(k.data(), n, d); }
  ConstTensor V(i64 n = 4, i64 d = 4) const { return view2d(v.data(), n, d); }
  Tensor O(i64 n = 4, i64 d = 4) { return view2d(out.data(), n, d); }
  void TearDown() override {
    for (float x : out) EXPECT_EQ(x, 42.0f) << "output touched by an invalid call";
  }
};

TEST_F(Fixture, NullDataWithNonZeroSize) {
  expect_error([&] { attention(ConstTensor::contiguous(nullptr, 1, 1, 4, 4), K(), V(), O()); }, "q: data is null");
  expect_error([&] { attention(Q(), K(), V(), Tensor::contiguous(nullptr, 1, 1, 4, 4)); }, "out: data is null");
}

TEST_F(Fixture, MismatchedDimensions) {
  expect_error([&] { attention(Q(4, 4), K(4, 3), V(), O()); }, "k: head dim 3 != q head dim 4");
  expect_error([&] { attention(Q(), K(4), V(3), O()); }, "v: rows 3 != k rows 4");
  expect_error([&] { attention(Q(), K(), V(), O(3, 4)); }, "out: shape");
  expect_error([&] { attention(Q(), K(), V(4, 2), O(4, 4)); }, "out: shape");
  expect_error([&] { attention(Q(), K(), V(), O(), lse_view(lse.data(), 1, 1, 3)); }, "lse: shape");
}

TEST_F(Fixture, HeadsMustDivide) {
  expect_error(
      [&] {
        attention(view3d(q.data(), 3, 2, 4), view3d(k.data(), 2, 2, 4), view3d(v.data(), 2, 2, 4),
                  view3d(out.data(), 3, 2, 4));
      },
      "k: heads 2 must divide q heads 3");
}

TEST_F(Fixture, SizeProductsThatOverflow) {
  const i64 huge = i64{1} << 40;
  ConstTensor big{q.data(), {huge, huge, 4, 4}, {0, 0, 4, 1}};
  expect_error([&] { attention(big, K(), V(), O()); }, "q: size product overflows");
}

TEST_F(Fixture, OutputOverlappingAnInput) {
  expect_error([&] { attention(Q(), K(), view2d(out.data(), 4, 4), O()); }, "out: overlaps input v");
  expect_error([&] { attention(Q(), K(), V(), view2d(out.data(), 4, 4), lse_view(out.data() + 15, 1, 1, 4)); },
               "lse: overlaps out");
  Tensor self_alias{out.data(), {1, 1, 4, 4}, {16, 16, 2, 1}};
  expect_error([&] { attention(Q(), K(), V(), self_alias); }, "out: strides");
}

TEST_F(Fixture, BadLayout) {
  ConstTensor strided_last{q.data(), {1, 1, 4, 4}, {16, 16, 8, 2}};
  expect_error([&] { attention(strided_last, K(), V(), O()); }, "q: the last dimension must be contiguous");
  ConstTensor negative{q.data(), {1, 1, 4, 4}, {16, 16, -4, 1}};
  expect_error([&] { attention(negative, K(), V(), O()); }, "q: stride 2 is negative");
}

TEST_F(Fixture, BadOptions) {
  Options o;
  o.scale = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.scale");
  o = {};
  o.kernel = "nope";
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.kernel: unknown kernel 'nope'");
  o = {};
  o.threads = -1;
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.threads: must be in [0, 1024]");
  o.threads = 1 << 20;
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.threads: must be in [0, 1024]");
  o = {};
  o.mask = Mask{k.data(), 4, 3, 0};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.mask: shape [4, 3]");
  o.mask = Mask{nullptr, 4, 4, 0};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.mask: data is null");
  o.mask = Mask{k.data(), 4, 4, -3};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.mask: row_stride -3");
  o.mask = Mask{k.data(), 4, 4, std::numeric_limits<i64>::max() / 2};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "options.mask: size product overflows");
  o.mask = Mask{out.data(), 4, 4, 0};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "out: overlaps options.mask");
}

TEST_F(Fixture, WorkspaceOverTheMemoryBudget) {
  Options o;
  o.kernel = "blas";
  o.threads = 1;
  o.memory_budget = 16;  // the 4 x 4 score matrix (64 bytes) and one thread's 4 x 4 V panel (64 bytes)
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, "kernel 'blas' needs 128 bytes of workspace");
}

TEST(Registry, NamesAreUniqueAndDescribed) {
  std::set<std::string_view> names;
  for (const KernelInfo& k : kernels()) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_FALSE(k.summary.empty());
    EXPECT_NE(k.run, nullptr);
    EXPECT_NE(k.workspace_bytes, nullptr);
  }
  for (const char* required : {"reference", "textbook", "blas"}) EXPECT_NE(find_kernel(required), nullptr) << required;
  EXPECT_EQ(find_kernel("auto"), nullptr);
}

TEST(Registry, BlasBackendIsDescribed) {
  const BlasBackend b = blas_backend();
  EXPECT_NE(b.config.find("OpenBLAS"), std::string::npos) << b.config;
  EXPECT_FALSE(b.core.empty());
  EXPECT_EQ(b.generic_core, !b.advice.empty());
  if (b.generic_core) {
    EXPECT_NE(b.advice.find("OPENBLAS_CORETYPE="), std::string::npos);
  }
}

TEST(Registry, AutoPicksASupportingKernel) {
  Problem p;
  p.q_len = p.kv_len = 64, p.head_dim = p.value_dim = 64;
  const KernelInfo& k = select_kernel("auto", p, default_memory_budget());
  EXPECT_GE(k.auto_priority, 0);
  EXPECT_TRUE(unsupported_reason(k, p, default_memory_budget()).empty());
}

}  // namespace
}  // namespace attn::test
