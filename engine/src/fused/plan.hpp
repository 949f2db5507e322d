// The plan of a fused call: everything that follows from the shape (block sizes, work
// items, the decode split of the keys, the workspace layout), decided before any work.
#pragma once

#include "fused/ukernels.hpp"

#include <cstddef>

namespace attn::fused {

// Tiny inputs (the lab sentences): direct loops on the stack, no workspace. Only while
// its scalar dot-product chains are cheaper than packing for the SIMD path: N = 16,
// d = 64 (2^15 pairs × dims) took 16.0 µs here and 2.3 µs blocked.
constexpr i64 kTinyMaxN = 16, kTinyMaxDim = 64, kTinyMaxWork = i64{1} << 12;
// Decode: when all queries fit one block and the KV sequence is long, split it
// into at most kMaxSplits chunks of at least kMinChunk keys, merged exactly.
constexpr i64 kMinChunk = 1024, kMaxSplits = 32;
// About 5 µs of work at this kernel's speed: below it, waking a second thread costs more than
// it saves. (128 × 128 × 64, one head, 2^22 flops: 24.0 µs on 1 thread, 17.5 µs on 2; Zen 5.)
constexpr i64 kMinFlopsPerThread = i64{1} << 20;
// Below this a call is over before sleeping helpers could join: it wakes them after 50 µs
// (team.hpp), and a sleeping thread took tens of µs to start on the machine of
// docs/performance.md (milliseconds once the host had halted its virtual CPU). About 160 µs
// on one Zen 5 thread; such a call with the helpers asleep runs on the 1-thread plan.
constexpr i64 kAloneFlops = i64{1} << 25;

inline i64 ceil_div(i64 a, i64 b) {
  return (a + b - 1) / b;
}
inline i64 round_up(i64 a, i64 b) {
  return ceil_div(a, b) * b;
}

/// Everything that follows from the shape: block sizes, work items, workspace layout.
/// Depends on the thread count through the number of workspace slots and the work items (their
/// rows, and under a causal mask their folding); none of these changes the result (blocking.hpp).
struct Plan {
  i64 BH = 0, nq = 0, nk = 0, d = 0, dv = 0;
  i64 br = 0, bc = 0, bs = 0, mr = 0, nr = 0, pv_nr = 0;
  i64 nqb = 0;        ///< query blocks (work items) per head
  bool fold = false;  ///< causal on several threads: item k is folded_rows(nq, nqb, k, 0 and 1), each <= br rows
  i64 nsplit = 1;     ///< KV chunks per query block (1: no split)
  i64 chunk = 0;      ///< keys per chunk, a multiple of bc
  // Per-thread workspace, in floats, each part a multiple of 16 (64 bytes).
  i64 ldo = 0, off_kp = 0, off_vp = 0, off_vs = 0, off_s = 0, off_o = 0, off_op = 0, off_m = 0, off_l = 0, off_mt = 0,
      off_lp = 0, off_alpha = 0, per_thread = 0;
  i64 slots = 0;           ///< threads that get a slot
  i64 partial_row = 0;     ///< floats per partial row: O (dv), m, l, rounded
  i64 partial_floats = 0;  ///< B·H·nsplit·nq partial rows, when split (then nqb = 1)
  std::size_t bytes() const { return static_cast<std::size_t>(slots * per_thread + partial_floats) * sizeof(float); }
};

/// Small enough for the tiny path (tiny.hpp): direct loops, no workspace.
inline bool is_tiny(i64 BH, i64 nq, i64 nk, i64 d, i64 dv) {
  return nq <= kTinyMaxN && nk <= kTinyMaxN && d <= kTinyMaxDim && dv <= kTinyMaxDim &&
         BH * nq * nk * (d + dv) <= kTinyMaxWork;
}

/// `causal`: whether the call has a causal mask (the work items' costs then differ).
Plan make_plan(i64 B, i64 H, i64 nq, i64 nk, i64 d, i64 dv, bool causal, int threads, const Ukernels& uk);

/// One thread's slice of the workspace.
/// Per row: o and l are the totals of the merged groups, relative to the max mt at the last
/// merge; op and lp the current group's partials, relative to the running max m.
struct Scratch {
  float *qp, *kp, *vp, *vs, *s, *o, *op, *m, *l, *mt, *lp, *alpha;
  Scratch(const Plan& p, float* base)
      : qp(base),
        kp(base + p.off_kp),
        vp(base + p.off_vp),
        vs(base + p.off_vs),
        s(base + p.off_s),
        o(base + p.off_o),
        op(base + p.off_op),
        m(base + p.off_m),
        l(base + p.off_l),
        mt(base + p.off_mt),
        lp(base + p.off_lp),
        alpha(base + p.off_alpha) {}
};

}  // namespace attn::fused
