#include "team.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace attn::team {

namespace {

void pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// How long a helper spins after its last job before it sleeps: calls closer than this find
/// it awake (a model's layers, with other work between their attention calls), and an idle
/// process stops using the core soon after. As OpenMP: OMP_WAIT_POLICY=passive never spins,
/// active spins on (a second), unset 5 ms (libgomp's default spin was still awake 5 ms after
/// a call on the machine of docs/performance.md).
std::chrono::microseconds spin_time() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const std::string p = policy ? policy : "";
  if (p == "passive" || p == "PASSIVE") return std::chrono::microseconds(0);
  if (p == "active" || p == "ACTIVE") return std::chrono::seconds(1);
  return std::chrono::milliseconds(5);
}

using Clock = std::chrono::steady_clock;
/// After how long a call wakes sleeping helpers (wake_sleepers_if_long).
constexpr auto kLazyWake = std::chrono::microseconds(50);

/// The job word: a generation (which call) and the next item to claim. A helper claims item i
/// of generation g by compare-and-swap from (g, i) to (g, i + 1), so it cannot claim an item of
/// a call that has ended: the caller closes its generation (index kClosed) before the next call
/// writes the job's fields.
using u64 = std::uint64_t;
constexpr int kIndexBits = 40;
constexpr u64 kIndexMask = (u64{1} << kIndexBits) - 1, kClosed = kIndexMask;
u64 pack(u64 gen, u64 index) {
  return gen << kIndexBits | index;
}

class Team {
 public:
  /// Never destroyed, its helpers detached: nothing joins threads at exit, where a call on
  /// another thread may still be running, and a child forked from a process with helpers has
  /// none to join (its calls run on the caller alone: its helper count says they exist, none comes).
  static Team& instance() {
    static Team& team = *new Team;
    return team;
  }

  void run(int slots, i64 items, Body body, void* context) {
    std::unique_lock lock(busy_, std::defer_lock);
    if (slots <= 1 || items <= 1 || !lock.try_lock()) {
      for (i64 i = 0; i < items; ++i) body(context, 0, i);
      return;
    }
    grow(slots - 1);
    // The job's fields, then the word that opens it (release: a helper that sees the word sees them).
    body_.store(body, std::memory_order_release);
    context_.store(context, std::memory_order_release);
    items_.store(items, std::memory_order_release);
    slots_.store(slots, std::memory_order_release);
    done_.store(0, std::memory_order_release);
    const u64 gen = ++generation_ & (~u64{0} >> kIndexBits);
    word_.store(pack(gen, 0), std::memory_order_release);
    wake_.fetch_add(1);  // spinning helpers see it at once
    started_ = Clock::now(), notified_ = false;
    if (note_call()) wake_sleepers();

    const i64 mine = work(0, false);
    // Items helpers claimed: the caller waits for those only.
    while (done_.load(std::memory_order_acquire) != items - mine) pause();
    word_.store(pack(gen, kClosed), std::memory_order_release);
  }

  bool helpers_asleep() {
    const bool recent = note_call();
    if (recent && sleepers_.load() > 0) {  // a stream of calls: have them spin for the next
      wake_.fetch_add(1);
      wake_.notify_all();
    }
    const int n = helper_count_.load();
    return !recent && n > 0 && sleepers_.load() == n;
  }

 private:
  /// Claims and runs items of the open job as `slot` until none is left; returns how many it
  /// ran. A helper counts each item in done_ as it finishes, so the caller waits no longer than
  /// for the items in progress. The job's fields are read before each claim and the claim
  /// checks them: fields of a later job are written only after this job's word was closed, so
  /// a helper that read those fails its claim (release/acquire orders the close before them).
  i64 work(int slot, bool helper) {
    i64 ran = 0;
    u64 w = word_.load(std::memory_order_acquire);
    for (;;) {
      const u64 index = w & kIndexMask;
      const i64 items = items_.load(std::memory_order_acquire);
      if (index == kClosed || static_cast<i64>(index) >= items || slot >= slots_.load(std::memory_order_acquire))
        return ran;
      if (!word_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      body_.load(std::memory_order_acquire)(context_.load(std::memory_order_acquire), slot, static_cast<i64>(index));
      ++ran;
      if (helper)
        done_.fetch_add(1, std::memory_order_release);
      else
        wake_sleepers_if_long();
      w = word_.load(std::memory_order_acquire);
    }
  }

  /// Notes a call's start; returns whether the last call started within the helpers' spin
  /// time, so that calls following each other closely wake sleeping helpers at once (a stream of
  /// short calls would otherwise never wake them again).
  bool note_call() {
    const i64 now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    return now - last_call_.exchange(now) < std::chrono::nanoseconds(spin_).count();
  }

  /// Sleeping helpers are woken only once the call has run kLazyWake: a short call does not pay
  /// for the system call, nor for the other core being brought back (milliseconds on a VM whose
  /// idle virtual CPU the host has descheduled), which it would finish before anyway.
  void wake_sleepers_if_long() {
    if (!notified_ && Clock::now() - started_ >= kLazyWake) wake_sleepers();
  }
  void wake_sleepers() {
    notified_ = true;
    if (sleepers_.load() > 0) wake_.notify_all();
  }

  /// A helper's life: wait for a job (spinning, then asleep), then take what is left of it.
  void helper(int slot) {
    running_.fetch_add(1);
    unsigned seen = 0;
    for (;;) {
      const auto start = std::chrono::steady_clock::now();
      for (int spins = 0; wake_.load(std::memory_order_acquire) == seen; ++spins) {
        if (spins % 64 == 0 && std::chrono::steady_clock::now() - start > spin_) {
          sleepers_.fetch_add(1);
          wake_.wait(seen);
          sleepers_.fetch_sub(1);
        }
        pause();
      }
      seen = wake_.load(std::memory_order_acquire);
      work(slot, true);
    }
  }

  /// Starts helpers until there are `n` (under busy_).
  /// A thread the system refuses leaves its slot empty: the items go to the others.
  /// New helpers are waited for until they run (at most a second), as an OpenMP runtime's first
  /// region waits for its threads: once per process, where a new thread may take milliseconds
  /// to get a CPU (a VM's halted virtual CPU), not on every call.
  void grow(int n) {
    const int before = helpers_;
    for (; helpers_ < n; ++helpers_) {
      const int slot = helpers_ + 1;
      try {
        std::thread([this, slot] { helper(slot); }).detach();
      } catch (const std::system_error&) {
        break;
      }
      helper_count_.fetch_add(1);
    }
    const auto until = Clock::now() + std::chrono::seconds(1);
    while (helpers_ > before && running_.load() < helpers_ && Clock::now() < until) std::this_thread::yield();
  }

  const std::chrono::microseconds spin_ = spin_time();
  std::mutex busy_;            ///< held by the call that uses the helpers
  Clock::time_point started_;  ///< of the open call (under busy_)
  bool notified_ = false;      ///< whether the open call woke the sleepers (under busy_)
  int helpers_ = 0;            ///< helpers started (under busy_)
  u64 generation_ = 0;

  std::atomic<u64> word_{pack(0, kClosed)};
  std::atomic<Body> body_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<i64> items_{0};
  std::atomic<int> slots_{0};
  std::atomic<i64> done_{0};  ///< items helpers finished in the open job
  std::atomic<unsigned> wake_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<int> helper_count_{0};
  std::atomic<int> running_{0};                                      ///< helpers that have started
  std::atomic<i64> last_call_{std::numeric_limits<i64>::min() / 2};  ///< ns on Clock
};

}  // namespace

void run_erased(int slots, i64 items, Body body, void* context) {
  Team::instance().run(slots, items, body, context);
}

bool helpers_asleep() {
  return Team::instance().helpers_asleep();
}

}  // namespace attn::team
