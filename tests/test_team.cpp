// The engine's helper team (engine/src/team.hpp): every item runs exactly once, on a slot of
// the call, whatever the slot count, the number of items, and other std::threads calling at
// the same time; helpers that sleep between calls (past their spin, or always under
// OMP_WAIT_POLICY=passive: ctest runs the suite so too, as team.passive) still take part when
// a call runs long enough to wake them.
#include "team.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace attn::test {
namespace {

using i64 = std::int64_t;

/// Runs one call and checks it: each item once, slots in range.
void expect_each_item_once(int slots, i64 items) {
  std::vector<std::atomic<int>> count(static_cast<std::size_t>(items));
  std::atomic<int> bad_slot{0};
  team::run(slots, items, [&](int slot, i64 i) {
    if (slot < 0 || slot >= std::max(slots, 1)) bad_slot.fetch_add(1);
    count[static_cast<std::size_t>(i)].fetch_add(1);
  });
  for (i64 i = 0; i < items; ++i)
    ASSERT_EQ(count[static_cast<std::size_t>(i)].load(), 1)
        << "item " << i << " of " << items << ", " << slots << " slots";
  EXPECT_EQ(bad_slot.load(), 0);
}

TEST(Team, EveryItemOnceForEverySlotCountAndSize) {
  for (int slots : {0, 1, 2, 3, 4, 8})
    for (i64 items : {0, 1, 2, 3, 7, 64, 1000}) expect_each_item_once(slots, items);
}

TEST(Team, ManyCallsBackToBackAndSpaced) {
  // Back to back the helpers are spinning; after the pauses they sleep (past their spin when
  // OMP_WAIT_POLICY=passive, as ctest's second run sets) and must still be woken or left out.
  for (int call = 0; call < 2000; ++call) expect_each_item_once(2 + call % 3, 1 + call % 37);
  for (int call = 0; call < 20; ++call) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    expect_each_item_once(2, 64);
  }
}

TEST(Team, LongCallsWakeSleepingHelpers) {
  // After a pause the helper sleeps (past its 5 ms spin; at once under OMP_WAIT_POLICY=passive).
  // The caller's first item runs 1 ms, past the 50 µs after which a call wakes sleepers; its
  // second waits until a helper has taken an item (10 s at most, so a broken team fails rather
  // than hangs). No timing decides the result: only whether a helper came.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::atomic<int> helped{0};
  team::run(2, 4, [&](int slot, i64 item) {
    if (slot != 0) {
      helped.fetch_add(1);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    if (item == 0) {
      while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1)) {
      }
    } else {
      while (helped.load() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
        std::this_thread::yield();
    }
  });
  EXPECT_GT(helped.load(), 0);
}

TEST(Team, HelpersAsleepAfterAPauseAndAwakeInAStream) {
  team::run(2, 8, [](int, i64) {});  // at least one helper exists
  // Polled 20 ms apart (past the 5 ms spin): true once the helper sleeps (10 s at most).
  bool asleep = false;
  for (int i = 0; i < 500 && !asleep; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    asleep = team::helpers_asleep();
  }
  EXPECT_TRUE(asleep);
  // A call right after is a stream: the helpers are woken to spin, and not reported asleep.
  // (Helpers that never spin, OMP_WAIT_POLICY=passive, are asleep whatever the calls do.)
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (policy == nullptr || std::string(policy) != "passive") {
    EXPECT_FALSE(team::helpers_asleep());
  }
}

TEST(Team, ConcurrentCallersEachGetEveryItemOnce) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int call = 0; call < 300; ++call) {
        const i64 items = 1 + (call * 7 + t) % 50;
        std::vector<std::atomic<int>> count(static_cast<std::size_t>(items));
        team::run(2 + t % 2, items, [&](int, i64 i) { count[static_cast<std::size_t>(i)].fetch_add(1); });
        for (auto& c : count) failures.fetch_add(c.load() != 1);
      }
    });
  for (std::thread& c : callers) c.join();
  EXPECT_EQ(failures.load(), 0);
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ATTN_TEST_UNDER_TSAN 1
#endif
#endif
#if !defined(__SANITIZE_THREAD__) && !defined(ATTN_TEST_UNDER_TSAN)
TEST(Team, AForkedChildCallsAndExits) {
  // A child forked from a process with helpers has none of them: its calls run on the caller
  // and it exits (static destructors included) instead of waiting for threads it never had.
  // (Not under ThreadSanitizer, which stops a multi-threaded program that forks.)
  team::run(2, 8, [](int, i64) {});
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<int> count(100, 0);
    team::run(2, 100, [&](int, i64 i) { ++count[static_cast<std::size_t>(i)]; });
    std::exit(std::count(count.begin(), count.end(), 1) == 100 ? 0 : 1);
  }
  int status = -1;
  for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!WIFEXITED(status)) kill(pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the child did not exit within 10 s";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

}  // namespace
}  // namespace attn::test
