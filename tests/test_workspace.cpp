// The per-thread workspace cache of attention() (engine/src/workspace.hpp).
#include "testkit.hpp"
#include "workspace.hpp"  // engine/src

#include <attn/attention.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

namespace attn {
namespace {

using test::on_a_line;

TEST(WorkspaceCache, ACallOnTheSameThreadReusesTheBuffer) {
  const Workspace first = Workspace::acquire(1000);
  ASSERT_TRUE(first);
  EXPECT_TRUE(on_a_line(first.get()));
  std::byte* const p = first.get();
  EXPECT_EQ(Workspace::acquire(1000).get(), p);
  EXPECT_EQ(Workspace::acquire(10).get(), p) << "a smaller request fits the cached buffer";
  const Workspace grown = Workspace::acquire(Workspace::kCachedBytes);
  ASSERT_TRUE(grown);
  EXPECT_TRUE(on_a_line(grown.get()));
  EXPECT_EQ(Workspace::acquire(1000).get(), grown.get()) << "the grown buffer is kept";
}

TEST(WorkspaceCache, EachThreadHasItsOwnBuffer) {
  std::byte* mine = Workspace::acquire(4096).get();
  std::byte* theirs = nullptr;
  std::thread([&] { theirs = Workspace::acquire(4096).get(); }).join();
  ASSERT_NE(theirs, nullptr);
  EXPECT_NE(theirs, mine);
}

TEST(WorkspaceCache, LargeWorkspacesAreNotKept) {
  std::byte* cached = Workspace::acquire(64).get();
  const Workspace big = Workspace::acquire(Workspace::kCachedBytes + 1);
  ASSERT_TRUE(big);
  EXPECT_NE(big.get(), cached);
  EXPECT_EQ(Workspace::acquire(64).get(), cached) << "the cache is untouched by a large call";
  EXPECT_FALSE(Workspace::acquire(SIZE_MAX)) << "too large: a failure, not a wrapped size";
}

TEST(WorkspaceCache, ReleaseFreesThisThreadsBuffer) {
  ASSERT_TRUE(Workspace::acquire(1 << 20));
  release_workspace_cache();  // the public entry point
  // A new buffer is allocated: it may land at the same address, so only check it works.
  const Workspace again = Workspace::acquire(1 << 20);
  ASSERT_TRUE(again);
  again.get()[(1 << 20) - 1] = std::byte{1};  // all of it is writable (ASan checks the bounds)
  EXPECT_EQ(Workspace::acquire(16).get(), again.get());
}

}  // namespace
}  // namespace attn
