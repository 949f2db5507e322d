// The workload's buffers (workload/inputs.hpp, narrowed.hpp): every array the command line and
// the benchmarks hand the kernels starts on a 64-byte boundary, whatever its size, as a KV cache
// does (decode reads K and V rows in place, and a row 16 bytes into a line costs it 8-16 %:
// docs/api.md); and rounding to a dtype keeps the values the oracle reads equal to the copy's.
#include "testkit.hpp"
#include "workload/inputs.hpp"
#include "workload/narrowed.hpp"

#include <attn/dtype.hpp>

#include <gtest/gtest.h>

#include <cstdint>

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

}  // namespace
}  // namespace attnlab
