// workload/pages.hpp: the memory that the command line and the benchmarks stream K/V through.
// Whether Linux grants huge pages depends on the machine (THP setting, fragmentation), so these
// tests check what the code controls: alignment, the size cut-off, the off switch, the report.
#include "testkit.hpp"
#include "workload/aligned_vector.hpp"
#include "workload/pages.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace {

using attn::test::aligned_to;
using attn::test::on_a_line;
using attnlab::allocate_streamed;
using attnlab::kHugePageBytes;
using attnlab::page_policy;

struct Free {
  void operator()(void* p) const { std::free(p); }
};
using Block = std::unique_ptr<void, Free>;

/// Sets ATTN_HUGE_PAGES for one test and restores what was there.
class HugePagesEnv {
 public:
  explicit HugePagesEnv(const char* value) {
    if (const char* old = std::getenv("ATTN_HUGE_PAGES")) saved_ = old, had_ = true;
    if (value)
      ::setenv("ATTN_HUGE_PAGES", value, 1);
    else
      ::unsetenv("ATTN_HUGE_PAGES");
  }
  ~HugePagesEnv() {
    if (had_)
      ::setenv("ATTN_HUGE_PAGES", saved_.c_str(), 1);
    else
      ::unsetenv("ATTN_HUGE_PAGES");
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST(StreamedMemory, SmallBlocksStartOnACacheLine) {
  const HugePagesEnv env(nullptr);
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                            std::size_t{4096}, kHugePageBytes - 1}) {
    const Block b(allocate_streamed(bytes));
    ASSERT_NE(b, nullptr) << bytes;
    EXPECT_TRUE(on_a_line(b.get())) << bytes;
    std::memset(b.get(), 0x5a, bytes);  // the whole size is usable (ASan checks the bounds)
  }
}

TEST(StreamedMemory, LargeBlocksStartOnAHugePageUnlessTurnedOff) {
  for (std::size_t bytes : {kHugePageBytes, kHugePageBytes + 1, 3 * kHugePageBytes + 100}) {
    {
      const HugePagesEnv env(nullptr);
      const Block b(allocate_streamed(bytes));
      ASSERT_NE(b, nullptr) << bytes;
      EXPECT_TRUE(aligned_to(b.get(), kHugePageBytes)) << bytes;
      std::memset(b.get(), 0x5a, bytes);
    }
    for (const char* off : {"off", "0"}) {
      const HugePagesEnv env(off);
      const Block b(allocate_streamed(bytes));
      ASSERT_NE(b, nullptr) << bytes;
      EXPECT_TRUE(on_a_line(b.get())) << bytes;
      std::memset(b.get(), 0x5a, bytes);
    }
  }
}

TEST(StreamedMemory, ImpossibleSizesGiveNullNotAWrappedSize) {
  const HugePagesEnv env(nullptr);
  EXPECT_EQ(allocate_streamed(static_cast<std::size_t>(-1)), nullptr);
  EXPECT_EQ(allocate_streamed(static_cast<std::size_t>(-1) - kHugePageBytes / 2), nullptr);
}

TEST(StreamedMemory, AlignedVectorThrowsOnImpossibleSizes) {
  attnlab::StreamAllocator<float> a;
  EXPECT_THROW((void)a.allocate(static_cast<std::size_t>(-1) / 2), std::bad_array_new_length);
  EXPECT_THROW((void)a.allocate(static_cast<std::size_t>(-1) / sizeof(float) - 1), std::bad_alloc);  // wraps
}

TEST(StreamedMemory, LargeVectorsStartOnAHugePage) {
  const HugePagesEnv env(nullptr);
  const attnlab::AlignedVector<float> v(kHugePageBytes / sizeof(float) + 3, 1.0f);
  EXPECT_TRUE(aligned_to(v.data(), kHugePageBytes));
  EXPECT_EQ(v.back(), 1.0f);
}

TEST(StreamedMemory, PolicyNamesTheSwitchAndTheSystemSetting) {
  {
    const HugePagesEnv env("off");
    EXPECT_EQ(page_policy(), "4 KiB (ATTN_HUGE_PAGES=off)");
  }
  const HugePagesEnv env(nullptr);
  const std::string p = page_policy();
  // "2 MiB from 2 MiB up (THP madvise)", "4 KiB (THP never)", "4 KiB (THP unavailable)", ...
  EXPECT_TRUE(p.rfind("2 MiB from 2 MiB up (THP ", 0) == 0 || p.rfind("4 KiB (THP ", 0) == 0) << p;
}

}  // namespace
