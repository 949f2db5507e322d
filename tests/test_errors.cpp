// Every invalid call throws attn::Error naming the argument, before touching memory.
#include "testkit.hpp"

#include <algorithm>
#include <iterator>
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

/// How attention() names argument `name` of dtype t: "k" (f32), "k (f16)", "out (bf16)".
std::string arg(const std::string& name, DType t) {
  return t == DType::f32 ? name : name + " (" + to_string(t) + ")";
}

/// 4 x 4 views of q, k, v, out and a mask in the parameter's dtypes (testkit's contract_dtypes).
struct Fixture : ::testing::TestWithParam<DTypes> {
  std::vector<float> q = std::vector<float>(64, 0.5f), k = q, v = q, m = q, out = std::vector<float>(64, 42.0f);
  std::vector<float> lse = std::vector<float>(8, 42.0f);
  Narrowed q16, k16, v16, m16, out16;
  const DTypes& t() const { return GetParam(); }
  void SetUp() override {
    q16.store(t().q, q), k16.store(t().k, k), v16.store(t().v, v), m16.store(t().mask, m), out16.store(t().out, out);
  }
  static AnyConstTensor typed(ConstTensor view, const Narrowed& n, DType t, const std::vector<float>& values) {
    AnyConstTensor a = view;
    a.data = n.data(t, values), a.dtype = t;
    return a;
  }
  AnyConstTensor Q(i64 n = 4, i64 d = 4) const { return typed(view2d(q.data(), n, d), q16, t().q, q); }
  AnyConstTensor K(i64 n = 4, i64 d = 4) const { return typed(view2d(k.data(), n, d), k16, t().k, k); }
  AnyConstTensor V(i64 n = 4, i64 d = 4) const { return typed(view2d(v.data(), n, d), v16, t().v, v); }
  AnyTensor O(i64 n = 4, i64 d = 4) {
    AnyTensor a = view2d(out.data(), n, d);
    a.data = out16.data(t().out, out), a.dtype = t().out;
    return a;
  }
  /// A mask pointer of the mask's dtype at `p` (nullptr: the mask's own data).
  AnyConstPtr M(const void* p = nullptr) const {
    AnyConstPtr a;
    a.ptr = p ? p : m16.data(t().mask, m), a.dtype = t().mask;
    return a;
  }
  void TearDown() override {
    out16.load(t().out, out);
    for (float x : out) EXPECT_EQ(x, 42.0f) << "output touched by an invalid call";
  }
};
INSTANTIATE_TEST_SUITE_P(Dtypes, Fixture, ::testing::ValuesIn(contract_dtypes()),
                         [](const auto& p) { return dtypes_name(p.param); });

TEST_P(Fixture, NullDataWithNonZeroSize) {
  AnyConstTensor null_q = Q();
  null_q.data = nullptr;
  expect_error([&] { attention(null_q, K(), V(), O()); }, arg("q", t().q) + ": data is null");
  AnyTensor null_out = O();
  null_out.data = nullptr;
  expect_error([&] { attention(Q(), K(), V(), null_out); }, arg("out", t().out) + ": data is null");
}

TEST_P(Fixture, MismatchedDimensions) {
  expect_error([&] { attention(Q(4, 4), K(4, 3), V(), O()); }, arg("k", t().k) + ": head dim 3 != q head dim 4");
  expect_error([&] { attention(Q(), K(4), V(3), O()); }, arg("v", t().v) + ": rows 3 != k rows 4");
  expect_error([&] { attention(Q(), K(), V(), O(3, 4)); }, arg("out", t().out) + ": shape");
  expect_error([&] { attention(Q(), K(), V(4, 2), O(4, 4)); }, arg("out", t().out) + ": shape");
  expect_error([&] { attention(Q(), K(), V(), O(), lse_view(lse.data(), 1, 1, 3)); }, "lse: shape");
}

TEST_P(Fixture, HeadsMustDivide) {
  auto heads = [](auto view, i64 h) {  // [1, h, 2, 4] over the same 4 x 4 (or more) elements
    view.shape = {1, h, 2, 4}, view.strides = {h * 8, 8, 4, 1};
    return view;
  };
  expect_error([&] { attention(heads(Q(), 3), heads(K(), 2), heads(V(), 2), heads(O(), 3)); },
               arg("k", t().k) + ": heads 2 must divide q heads 3");
}

TEST_P(Fixture, SizeProductsThatOverflow) {
  const i64 huge = i64{1} << 40;
  AnyConstTensor big = Q();
  big.shape = {huge, huge, 4, 4}, big.strides = {0, 0, 4, 1};
  expect_error([&] { attention(big, K(), V(), O()); }, arg("q", t().q) + ": size product overflows");
}

TEST_P(Fixture, OutputOverlappingAnInput) {
  expect_error([&] { attention(Q(), K(), AnyConstTensor(O()), O()); },
               arg("out", t().out) + ": overlaps input " + arg("v", t().out));
  // An LSE over the last 4 bytes of out (aligned for its floats in every dtype).
  auto* tail = reinterpret_cast<float*>(static_cast<char*>(O().data) + 16 * size_of(t().out) - 4);
  expect_error([&] { attention(Q(), K(), V(), O(), lse_view(tail, 1, 1, 4)); }, "lse: overlaps " + arg("out", t().out));
  AnyTensor self_alias = O();
  self_alias.strides = {16, 16, 2, 1};
  expect_error([&] { attention(Q(), K(), V(), self_alias); }, arg("out", t().out) + ": strides");
}

TEST_P(Fixture, BadLayout) {
  AnyConstTensor strided_last = Q();
  strided_last.strides = {16, 16, 8, 2};
  expect_error([&] { attention(strided_last, K(), V(), O()); },
               arg("q", t().q) + ": the last dimension must be contiguous");
  AnyConstTensor negative = Q();
  negative.strides = {16, 16, -4, 1};
  expect_error([&] { attention(negative, K(), V(), O()); }, arg("q", t().q) + ": stride 2 is negative");
}

TEST_P(Fixture, BadOptions) {
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
  const std::string mask = arg("options.mask", t().mask);
  o.mask = Mask{M(), 4, 3, 0};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, mask + ": shape [4, 3]");
  o.mask = Mask{M(), 4, 4, 0};
  o.mask.data.ptr = nullptr;
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, mask + ": data is null");
  o.mask = Mask{M(), 4, 4, -3};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, mask + ": row_stride -3");
  o.mask = Mask{M(), 4, 4, std::numeric_limits<i64>::max() / 2};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, mask + ": size product overflows");
  o.mask = Mask{M(O().data), 4, 4, 0};
  expect_error([&] { attention(Q(), K(), V(), O(), o); }, arg("out", t().out) + ": overlaps " + mask);
}

TEST_P(Fixture, WorkspaceOverTheMemoryBudget) {
  Options o;
  o.kernel = "blas";
  o.threads = 1;
  // The 4 x 4 score matrix (64 bytes) and one thread's 4 x 4 V panel (64 bytes), plus the fp32
  // copies of the 16-bit tensors that blas widens (engine/src/widening.hpp).
  const std::size_t need = find_kernel("blas")->workspace_bytes(validate(Q(), K(), V(), O(), Tensor{}, o));
  if (t() == DTypes{}) {
    EXPECT_EQ(need, 128u);
  }
  o.memory_budget = 16;
  expect_error([&] { attention(Q(), K(), V(), O(), o); },
               "kernel 'blas' needs " + std::to_string(need) + " bytes of workspace");
}

TEST_P(Fixture, KernelsThatLackACapabilityRefuseByName) {
  for (const KernelInfo& kernel : kernels()) {
    Options o;
    o.kernel = std::string(kernel.name);
    const std::string who = "options.kernel: kernel '" + o.kernel + "' ";
    if (!kernel.caps.causal) {
      o.causal = Causal::top_left;
      expect_error([&] { attention(Q(), K(), V(), O(), o); }, who + "does not support causal masking");
      o.causal = Causal::none;
    }
    if (!kernel.caps.mask) {
      o.mask = Mask{M(), 4, 4, 0};
      expect_error([&] { attention(Q(), K(), V(), O(), o); }, who + "does not support an additive mask");
      o.mask = {};
    }
    if (!kernel.caps.lse)
      expect_error([&] { attention(Q(), K(), V(), O(), lse_view(lse.data(), 1, 1, 4), o); },
                   who + "does not produce the log-sum-exp output");
  }
}

TEST_P(Fixture, AKernelWithoutADtypeNamesTheTensorAndItsDtype) {
  // Every registered kernel takes every dtype; one that took fp32 only would refuse the first
  // 16-bit tensor by name (the registry's message, as options.kernel reports it).
  KernelInfo fp32_only = *find_kernel("fused");
  fp32_only.dtypes = {DType::f32};
  Options o;
  o.mask = Mask{M(), 4, 4, 0};
  const Problem p = validate(Q(), K(), V(), O(), Tensor{}, o);
  const std::string why = unsupported_reason(fp32_only, p, default_memory_budget());
  const std::pair<const char*, DType> order[] = {
      {"q", t().q}, {"k", t().k}, {"v", t().v}, {"out", t().out}, {"options.mask", t().mask}};
  const auto first = std::find_if(std::begin(order), std::end(order), [](auto x) { return x.second != DType::f32; });
  if (first == std::end(order)) {
    EXPECT_EQ(why, "");
  } else {
    EXPECT_EQ(why, std::string("kernel 'fused' does not take ") + first->first + " of dtype " +
                       to_string(first->second) + " (it takes f32)");
  }
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
