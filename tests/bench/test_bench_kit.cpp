// The benchmark kit's measuring instruments, checked against what they must
// read on known work (never against timing): the memory probe sees exactly the
// pages a call touches, the FMA loops run every chain they claim to count, and
// profiles parse strictly, and the read loops sum exactly what they are given.
#include "../fused_testers.hpp"
#include "kit/fma_loops.hpp"
#include "kit/memory_probe.hpp"
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/read_bandwidth.hpp"
#include "kit/read_loops.hpp"

#include <attn/kernels.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;  // ASan's allocator keeps freed memory (quarantine) and ignores mallopt
#else
constexpr bool kAsan = false;
#endif

constexpr std::size_t kMiB = 1 << 20;
/// Linux folds each thread's RSS counter into the process's every 64 page faults
/// (SPLIT_RSS_COUNTING), so a reading may lag by 64 pages per thread; a few threads at most here.
constexpr std::size_t kRssSlack = 4 * 64 * 4096;

/// Stops the compiler from eliding a malloc/memset/free sequence whose result nobody reads.
void keep(void* p) {
  asm volatile("" : : "r"(p) : "memory");
}

TEST(MemoryProbe, SeesEveryPageACallTouches) {
  if (kAsan) GTEST_SKIP() << "RSS under AddressSanitizer includes its shadow memory";
  attnbench::pin_malloc_to_mmap();
  const std::size_t bytes = 64 * kMiB;
  const auto m = attnbench::measure_call_memory([&] {
    auto* p = static_cast<char*>(std::malloc(bytes));
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, bytes);  // resident only once written
    keep(p);
    std::free(p);
  });
  if (!m) GTEST_SKIP() << "this kernel does not allow resetting the peak RSS (/proc/self/clear_refs)";
  // The buffer, give or take the counters' lag; beyond it only page tables and allocator state.
  EXPECT_GE(m->growth(), bytes - kRssSlack);
  EXPECT_LE(m->growth(), bytes + 4 * kMiB);
}

TEST(MemoryProbe, ResetsThePeakBetweenCalls) {
  if (kAsan) GTEST_SKIP() << "RSS under AddressSanitizer includes its shadow memory";
  attnbench::pin_malloc_to_mmap();
  // A large call first: its peak must not leak into the next measurement.
  const auto big = attnbench::measure_call_memory([] {
    auto* p = static_cast<char*>(std::malloc(32 * kMiB));
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 32 * kMiB);
    keep(p);
    std::free(p);
  });
  if (!big) GTEST_SKIP() << "no /proc/self/clear_refs";
  const auto small = attnbench::measure_call_memory([] {
    volatile int x = 1;
    (void)x;
  });
  ASSERT_TRUE(small);
  EXPECT_GE(big->growth(), 32 * kMiB - kRssSlack);
  EXPECT_LE(small->growth(), kRssSlack);
}

TEST(FmaLoops, EveryChainRunsToTheFixedPoint) {
  // a <- 0.999·a + 0.001 converges to 1 in every lane of every chain, so the
  // result is chains × lanes = flops_per_iteration / 2 once converged.
  int ran = 0;
  for (const attnbench::FmaLoop& loop : attnbench::fma_loops()) {
    if (!loop.supported()) continue;
    ++ran;
    const double expected = loop.flops_per_iteration / 2.0;
    const float got = loop.run(20000);  // 0.999^20000 ≈ 2e-9: converged
    EXPECT_NEAR(got, expected, expected * 1e-3) << loop.isa;
    // Not converged after few rounds: the loop really iterates.
    EXPECT_LT(loop.run(10), expected * 0.99) << loop.isa;
  }
  if (ran == 0) GTEST_SKIP() << "this CPU has none of the ISAs the loops need";
  ASSERT_NE(attnbench::best_fma_loop(), nullptr);
  EXPECT_TRUE(attnbench::best_fma_loop()->supported());
}

TEST(ReadLoops, SumEveryElementOnceAndReadNothingPast) {
  // Small integers: every partial sum is exact in float, so any order gives the exact total (in
  // one stream or several, with their leftovers). The buffer ends at a guard page, and
  // prefetches aimed past it must not fault (they are hints).
  struct Loop {
    const char* isa;
    attnbench::ReadLoop run;
    bool ok;
  };
  const attn::CpuInfo& cpu = attn::cpu_info();
  const Loop loops[] = {{"plain", attnbench::read_loop_plain, true},
                        {"avx2", attnbench::read_loop_avx2, cpu.avx2_fma},
                        {"avx512", attnbench::read_loop_avx512, cpu.avx512}};
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{63}, std::size_t{64},
                        std::size_t{65}, std::size_t{127}, std::size_t{1000}, std::size_t{4096 + 33}}) {
    attn::test::GuardedArray<float> x(std::max<std::size_t>(n, 1));
    double exact = 0;
    for (std::size_t i = 0; i < n; ++i) exact += x[i] = static_cast<float>(i % 7 + 1);
    for (const Loop& l : loops) {
      if (!l.ok) continue;
      for (std::size_t ahead : {std::size_t{0}, std::size_t{16}, std::size_t{4096}})
        for (int streams : {1, 2, 3, 4, 8})
          EXPECT_EQ(l.run(x.data(), n, ahead, streams), exact)
              << l.isa << " n " << n << " ahead " << ahead << " streams " << streams;
    }
  }
  EXPECT_NE(attnbench::best_read_loop(), nullptr);
}

TEST(ReadBandwidth, OverCallersMemoryStaysInside) {
  // The yardstick over a caller's buffer (a benchmark's K/V pool) that ends at a guard page, and
  // over all but its last 2 bytes (whole floats only): every way and thread count stays inside.
  // A rate, so only its sign is checked; nothing to read gives 0.
  constexpr std::size_t n = 4096 + 33;
  attn::test::GuardedArray<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f;
  for (int threads : {1, 2}) {
    EXPECT_GT(attnbench::read_bandwidth_gbs_over(x.data(), n * sizeof(float), threads), 0.0) << threads;
    EXPECT_GT(attnbench::read_bandwidth_gbs_over(x.data(), n * sizeof(float) - 2, threads), 0.0) << threads;
    EXPECT_EQ(attnbench::read_bandwidth_gbs_over(nullptr, n * sizeof(float), threads), 0.0);
    EXPECT_EQ(attnbench::read_bandwidth_gbs_over(x.data(), 3, threads), 0.0);
  }
}

TEST(Profile, ParsesTheThreeNamesAndNothingElse) {
  for (auto p : {attnbench::Profile::smoke, attnbench::Profile::quick, attnbench::Profile::full})
    EXPECT_EQ(attnbench::parse_profile(attnbench::profile_name(p)), p);
  for (const char* bad : {"", "Quick", "fast", "smoke "}) {
    try {
      attnbench::parse_profile(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(PeakList, ParsesThreadsInOrderAndRejectsTheRest) {
  EXPECT_EQ(attnbench::parse_peak_list("1:176.4,2:350.1"), (std::vector<double>{176.4, 350.1}));
  EXPECT_EQ(attnbench::parse_peak_list("1:90"), (std::vector<double>{90}));
  for (const char* bad : {"", "176.4", "2:176", "1:176,3:300", "1:-5", "1:0", "1:17x", "1:176,"}) {
    try {
      attnbench::parse_peak_list(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("ATTN_BENCH_FMA_PEAK"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
