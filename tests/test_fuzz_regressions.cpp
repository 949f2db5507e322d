// Findings of the attention() argument fuzzer (tests/fuzz/fuzz_attention_args.cpp)
// and of reviewing the same code, kept as tests. Before their fixes each was
// signed overflow (undefined behaviour: UBSan in CI reports it), a hang, or a
// read out of bounds; now each is a no-op or an attn::Error.
#include "testkit.hpp"

#include "workspace.hpp"  // engine/src: the allocation helper itself

namespace attn::test {
namespace {

constexpr i64 kHuge = i64{1} << 62;

class EmptyCall : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Kernels, EmptyCall, ::testing::ValuesIn(kernel_names()));

// fuzz: an empty output whose strides overflow when multiplied out
// (check_no_self_overlap computed stride * (n - 1) for a view it never writes).
TEST_P(EmptyCall, EmptyOutputWithHugeStrides) {
  std::vector<float> x(16, 1.0f), out(16, 42.0f);
  const ConstTensor in{x.data(), {2, 0, 3, 4}, {12, 12, 4, 1}};
  const Tensor o{out.data(), {2, 0, 3, 4}, {kHuge, 1, kHuge, 1}};
  Options opts;
  opts.kernel = GetParam();
  EXPECT_NO_THROW(attention(in, in, in, o, opts));
  for (float v : out) EXPECT_EQ(v, 42.0f);
}

// fuzz: the decode kernel prefetched the row after a tile's last key even when there was
// none; with one key and a huge row stride that pointer overflowed (UBSan: pointer index
// expression overflowed). Every kernel, on one key row whose stride is never multiplied out.
TEST_P(EmptyCall, OneKeyRowWithAHugeStride) {
  std::vector<float> x(4, 0.5f), out(4, 42.0f);
  const ConstTensor q{x.data(), {1, 1, 1, 4}, {4, 4, 4, 1}};
  const ConstTensor kv{x.data(), {1, 1, 1, 4}, {4, 4, kHuge, 1}};
  const Tensor o{out.data(), {1, 1, 1, 4}, {4, 4, 4, 1}};
  Options opts;
  opts.kernel = GetParam();
  attention(q, kv, kv, o, opts);
  for (float v : out) EXPECT_EQ(v, 0.5f);  // one key: its V row, whatever the weight
}

// fuzz: every view empty (B = H = 0) with Nk and dv near 2^63; the kernel's
// workspace formula (reference: threads * (Nk + dv) * 8) overflowed.
TEST_P(EmptyCall, EmptyCallWithHugeSizes) {
  std::vector<float> x(4, 1.0f), out(4, 42.0f), lse(4, 42.0f);
  const i64 n = 8102108289410531380, d = 9184376162436347253;
  const ConstTensor q{x.data(), {0, 0, n, d}, {0, 0, 0, 1}};
  const Tensor o{out.data(), {0, 0, n, d}, {0, 0, 0, 1}};
  const Tensor l{lse.data(), {0, 0, n, 1}, {0, 0, 1, 1}};
  Options opts;
  opts.kernel = GetParam();
  EXPECT_NO_THROW(attention(q, q, q, o, l, opts));
  for (float v : out) EXPECT_EQ(v, 42.0f);
}

// review: d = dv = 0 makes every view empty, so B * H * Nq * Nk was an
// unchecked product: it wrapped to 0, and the call was accepted with that shape.
TEST(Validation, ZeroHeadDimWithHugeBatchAndHeads) {
  std::vector<float> x(4, 1.0f), out(4, 42.0f);
  // Each view's own product B * H * N fits (2^62); B * H * Nq * Nk = 2^93 does not.
  const i64 B = i64{1} << 16, H = i64{1} << 15, N = i64{1} << 31;
  const ConstTensor in{x.data(), {B, H, N, 0}, {0, 0, 0, 1}};
  const Tensor o{out.data(), {B, H, N, 0}, {0, 0, 0, 1}};
  Options opts;
  opts.kernel = "reference";
  try {
    attention(in, in, in, o, opts);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q: head dimension d must be at least 1"), std::string::npos) << e.what();
  }
}

// review: the mask's byte extent ((Nq - 1) * row_stride + Nk) * 4 was checked
// only before the * 4.
TEST(Validation, MaskRowStrideWhoseByteSizeOverflows) {
  std::vector<float> x(8, 1.0f), out(8, 42.0f), mask(4, 0.0f);
  Options opts;
  opts.mask = Mask{mask.data(), 2, 1, kHuge / 2};
  try {
    attention(view2d(x.data(), 2, 1), view2d(x.data(), 1, 1), view2d(x.data(), 1, 1), view2d(out.data(), 2, 1), opts);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("options.mask: size product overflows"), std::string::npos) << e.what();
  }
}

// review: rounding a workspace size near SIZE_MAX up to 64 bytes wrapped to a
// tiny allocation that the kernel would then overrun; it must fail instead.
TEST(Workspace, SizesThatWouldWrapFail) {
  EXPECT_FALSE(Workspace::allocate(SIZE_MAX));
  EXPECT_FALSE(Workspace::allocate(SIZE_MAX - 62));
  EXPECT_TRUE(Workspace::allocate(1));
}

}  // namespace
}  // namespace attn::test
