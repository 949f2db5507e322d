// The workload's buffers (workload/inputs.hpp, narrowed.hpp): every array the command line and
// the benchmarks hand the kernels starts on a 64-byte boundary, whatever its size, as a KV cache
// does (decode reads K and V rows in place, and a row 16 bytes into a line costs it 8-16 %:
// docs/api.md); and rounding to a dtype keeps the values the oracle reads equal to the copy's.
#include "testkit.hpp"
#include "workload/inputs.hpp"
#include "workload/narrowed.hpp"

#include <attn/dtype.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace attnlab {
namespace {

using attn::test::on_a_line;

TEST(WorkloadInputs, EveryArrayStartsOnA64ByteBoundary) {
  for (std::int64_t nk : {1, 3, 37, 4096, 40000}) {
    Shape s;
    s.batch = 1, s.heads = 4, s.kv_heads = 2, s.q_len = 3, s.kv_len = nk, s.head_dim = 24, s.value_dim = 20;
    Inputs in = make_inputs(s, 7);
    for (const auto* x : {&in.q, &in.k, &in.v, &in.out, &in.lse}) EXPECT_TRUE(on_a_line(x->data())) << "Nk " << nk;
    EXPECT_TRUE(on_a_line(in.kv().data) && on_a_line(in.vv().data)) << "Nk " << nk;
    for (attn::DType t : {attn::DType::f16, attn::DType::bf16}) {
      Narrowed k16;
      k16.store(t, in.k);
      const void* p = k16.data(t, in.k);
      EXPECT_TRUE(on_a_line(p)) << attn::to_string(t) << ", Nk " << nk;
      for (std::size_t i = 0; i < in.k.size(); ++i) {  // the rounded fp32 values are the copy's, widened
        const float copy = t == attn::DType::f16 ? attn::to_float(k16.h[i]) : attn::to_float(k16.b[i]);
        ASSERT_EQ(copy, in.k[i]) << attn::to_string(t) << " element " << i;
      }
    }
  }
}

// The benchmarks fill their 2 GiB pools a block at a time: the blocks are the one call's values.
TEST(WorkloadInputs, FillingFromAnElementContinuesTheSequence) {
  std::vector<float> whole(1000), pieces(1000);
  fill_uniform(whole, 42, -3.0f, 5.0f);
  for (std::size_t i = 0; i < pieces.size(); i += 97)
    fill_uniform_from(std::span<float>(pieces).subspan(i, std::min<std::size_t>(97, pieces.size() - i)), 42, i, -3.0f,
                      5.0f);
  EXPECT_EQ(whole, pieces);
  std::vector<float> other(1000);
  fill_uniform_from(other, 42, 1, -3.0f, 5.0f);  // shifted by one element
  EXPECT_TRUE(std::equal(other.begin(), other.end() - 1, whole.begin() + 1));
  for (float x : whole) EXPECT_TRUE(x >= -3.0f && x < 5.0f) << x;
}

}  // namespace
}  // namespace attnlab
