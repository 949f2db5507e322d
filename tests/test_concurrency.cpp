// attention() from several std::threads at once, on different data, gives
// bitwise the results of serial calls (no shared mutable state but the
// registry, built once), and running out of memory budget is an attn::Error
// in every thread, never std::bad_alloc or a crash.
#include "testkit.hpp"

#include <fstream>
#include <new>
#include <thread>

// Under AddressSanitizer and ThreadSanitizer a failed huge allocation must return
// null (as glibc does) rather than abort, so that the engine's own handling is tested.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1";
}
extern "C" const char* __tsan_default_options() {
  return "allocator_may_return_null=1";
}

namespace attn::test {
namespace {

/// Different shapes, layouts and options, one per thread.
std::vector<Case> cases() {
  std::vector<Case> cs;
  for (int i = 0; i < 6; ++i) {
    Case c;
    c.shape(17 + 13 * i, 23 + 9 * i, 8 * (1 + i % 3));
    c.H = 2 + i % 3;
    c.Hkv = i % 2 ? 1 : c.H;
    c.B = 1 + i % 2;
    c.causal = static_cast<Causal>(i % 3);
    c.mask = i % 2 == 0;
    c.permuted = i % 3 == 1;
    c.seed = 100 + static_cast<std::uint64_t>(i);
    cs.push_back(c);
  }
  return cs;
}

class Concurrent : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Kernels, Concurrent, ::testing::ValuesIn(kernel_names()));

TEST_P(Concurrent, ThreadsCallingAtOnceMatchSerialCalls) {
  const std::vector<Case> cs = cases();
  std::vector<Buffers> serial;
  for (const Case& c : cs) {
    serial.emplace_back(c);
    run(serial.back(), GetParam(), 1);
  }
  // Each std::thread repeats its call a few times, with 1 and 2 OpenMP threads,
  // so calls overlap in every phase (selection, allocation, the parallel region).
  for (int omp_threads : {1, 2}) {
    std::vector<Buffers> concurrent(cs.begin(), cs.end());
    std::vector<int> mismatches(cs.size(), 0);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < cs.size(); ++t)
      pool.emplace_back([&, t] {
        for (int rep = 0; rep < 4; ++rep) {
          std::fill(concurrent[t].out.begin(), concurrent[t].out.end(), -7.0f);
          run(concurrent[t], GetParam(), omp_threads);
          if (concurrent[t].out != serial[t].out || concurrent[t].lse != serial[t].lse) ++mismatches[t];
        }
      });
    for (auto& th : pool) th.join();
    for (std::size_t t = 0; t < cs.size(); ++t)
      EXPECT_EQ(mismatches[t], 0) << cs[t].name() << " with " << omp_threads << " OpenMP thread(s) per call";
  }
}

TEST(MemoryBudget, RefusalIsAnErrorInEveryThread) {
  // blas needs Nq x Nk floats of scores: 2^20 x 2^20 x 4 B = 4 TiB, over any default budget.
  const i64 n = i64{1} << 20;
  std::vector<float> q(static_cast<std::size_t>(n)), out(q.size());
  std::vector<std::string> errors(4);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < errors.size(); ++t)
    pool.emplace_back([&, t] {
      Options o;
      o.kernel = "blas";
      if (t % 2) o.memory_budget = 1000;
      try {
        attention(view2d(q.data(), n, 1), view2d(q.data(), n, 1), view2d(q.data(), n, 1), view2d(out.data(), n, 1), o);
        errors[t] = "no error";
      } catch (const Error& e) {
        errors[t] = e.what();
      } catch (const std::bad_alloc&) {
        errors[t] = "std::bad_alloc escaped";
      }
    });
  for (auto& th : pool) th.join();
  for (const std::string& e : errors) EXPECT_NE(e.find("over the memory budget"), std::string::npos) << e;
}

TEST(MemoryBudget, AFailedWorkspaceAllocationIsAnError) {
  // With the budget lifted, the 4 TiB workspace (2^40 scores and a 512-key V panel of
  // 2 KiB) cannot be allocated: an
  // Error, not bad_alloc. Where the kernel overcommits everything (mode 1)
  // the allocation would succeed and the run be killed, so the case is skipped.
  std::ifstream overcommit("/proc/sys/vm/overcommit_memory");
  int mode = 0;
  if (overcommit >> mode && mode == 1) GTEST_SKIP() << "vm.overcommit_memory = 1: huge allocations never fail";
  const i64 n = i64{1} << 20;
  std::vector<float> q(static_cast<std::size_t>(n)), out(q.size());
  Options o;
  o.kernel = "blas";
  o.threads = 1;
  o.memory_budget = std::numeric_limits<std::size_t>::max();
  try {
    attention(view2d(q.data(), n, 1), view2d(q.data(), n, 1), view2d(q.data(), n, 1), view2d(out.data(), n, 1), o);
    ADD_FAILURE() << "a 4 TiB workspace was allocated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("could not allocate 4398046513152 bytes of workspace"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace attn::test
