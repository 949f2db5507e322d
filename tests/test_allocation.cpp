// Lab-sized calls allocate nothing: attention() itself must not touch the
// heap when the chosen kernel needs no workspace. Counted by replacing the
// global operator new for this test binary.
#include "testkit.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace attn::test {
namespace {

class NoWorkspace : public ::testing::TestWithParam<std::string> {};

TEST_P(NoWorkspace, LabSentenceCallDoesNotAllocate) {
  Case c = Case{}.shape(3, 3, 4);  // "I love AI"
  Problem p;
  p.q_len = p.kv_len = 3, p.head_dim = p.value_dim = 4, p.threads = 1, p.wants_lse = true;
  const KernelInfo& k = select_kernel(GetParam(), p, default_memory_budget());
  if (k.workspace_bytes(p) != 0) GTEST_SKIP() << GetParam() << " needs a workspace at this size";
  Buffers b(c);
  const Options o = b.options(GetParam(), 1);  // "auto" and kernel names fit std::string's inline buffer
  const ConstTensor q = b.qv(), kk = b.kv(), v = b.vv();
  const Tensor out = b.outv(), lse = b.lsev();
  attention(q, kk, v, out, lse, o);  // warm-up: one-time initialisation may allocate
  const long before = g_allocations.load();
  for (int i = 0; i < 10; ++i) attention(q, kk, v, out, lse, o);
  EXPECT_EQ(g_allocations.load() - before, 0) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Kernels, NoWorkspace, ::testing::ValuesIn([] {
                           std::vector<std::string> names = kernel_names();
                           names.push_back("auto");
                           return names;
                         }()));

}  // namespace
}  // namespace attn::test
