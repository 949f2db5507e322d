// The engine's helper threads: a team that never makes its caller wait for a helper that has
// not started.
//
// An OpenMP parallel region ends with a barrier that waits for every thread of the team, also
// one that is still waking up. After a pause between calls that costs more than the call:
// on the 2-vCPU VM of docs/performance.md, 128 × 128 × 64 took 32 µs on one thread and 2.6 ms
// on two when the calls were 20 ms apart (bench/bench_spaced.cpp), the host's time to run a
// halted virtual CPU again. Here the caller starts on the items at once, helpers take the
// items that are left when they arrive, and the caller waits only for items a helper has
// claimed: a helper that wakes late finds nothing and touches nothing of the call. So a call
// on several threads is never much slower than on one, and as fast as OpenMP's when the
// helpers are awake (they spin for a while after each call before they sleep).
//
// One call at a time uses the helpers; a call that finds them busy (another std::thread's
// call) runs all its items itself. Results must not depend on which thread runs an item
// (every caller in the engine is bitwise the same for any thread count).
#pragma once

#include <cstdint>
#include <type_traits>

namespace attn::team {

using i64 = std::int64_t;
using Body = void (*)(void* context, int slot, i64 item);

/// Runs body(context, slot, i) once for every i in [0, items), claimed one at a time in
/// increasing order: slot 0 is the caller, slots 1 .. slots − 1 the helpers that arrive in
/// time. Returns when every item is done.
void run_erased(int slots, i64 items, Body body, void* context);

/// Whether every helper sleeps and no call came within their spin time: a short call then
/// finishes before they could come (a call wakes them only after 50 µs), and may rather run as
/// one thread would. Notes the call, so that a stream of calls wakes the helpers to spin.
bool helpers_asleep();

/// run_erased with a callable `body(int slot, i64 item)`.
template <class F>
void run(int slots, i64 items, F&& body) {
  using Fn = std::remove_reference_t<F>;
  run_erased(
      slots, items, [](void* f, int slot, i64 item) { (*static_cast<Fn*>(f))(slot, item); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

/// run over [0, n) in runs of `length` consecutive indices, each run one item:
/// body(slot, begin, end) for the run [begin, end).
template <class F>
void run_ranges(int slots, i64 n, i64 length, F&& body) {
  run(slots, (n + length - 1) / length, [&](int slot, i64 r) {
    const i64 end = (r + 1) * length < n ? (r + 1) * length : n;
    body(slot, r * length, end);
  });
}

/// run_ranges with body(slot, i) for every i, a run's indices in order on one thread.
template <class F>
void run_in_runs(int slots, i64 n, i64 length, F&& body) {
  run_ranges(slots, n, length, [&](int slot, i64 begin, i64 end) {
    for (i64 i = begin; i < end; ++i) body(slot, i);
  });
}

}  // namespace attn::team
