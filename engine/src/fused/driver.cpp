// fused: FlashAttention-2 on the CPU. One pass over K and V per work item of Br
// query rows (each Kᵀ/V block packed once, then used by the item's Bs-row slices);
// the Nq × Nk score matrix never exists, only a Bs × Bc slice of it.
//
// Layers (style.md), a file each: microkernels (ukernels.hpp, one table per ISA, chosen in
// dispatch.cpp) → the plan (plan.hpp) → the block loop with the online softmax (block_loop.hpp)
// → this parallel driver over (b, h, q-block[, KV chunk]) work items, with the split-KV
// merge (split_kv.hpp) and the tiny path (tiny.hpp) → registration (registration.cpp).
//
// Units: log2 (log2_units.hpp).
//
// Determinism: key blocks, KV chunks, groups and merge order depend on the shape only,
// never on the thread count, and a row's arithmetic does not depend on which rows share
// its work item (items may be larger with one thread), so the result is bitwise the
// same for any number of threads.
#include "fused/driver.hpp"

#include "fused/block_loop.hpp"
#include "fused/blocking.hpp"
#include "fused/plan.hpp"
#include "fused/split_kv.hpp"
#include "fused/tiny.hpp"
#include "team.hpp"

#include <algorithm>

namespace attn::fused {

namespace {

void run_blocked(const KernelArgs& a, const Plan& p, const Ukernels& uk) {
  const i64 H = a.q.shape[1];
  const i64 items = p.BH * p.nqb * p.nsplit;
  float* const base = static_cast<float*>(a.workspace);
  float* const partials = base + p.slots * p.per_thread;
  // Heaviest first: a query block's cost grows with its index under causal masking. Folded items
  // (plan.hpp) cost the same but the last of a head, which may be a fold short: in order.
  auto item = [&](i64 t, const Scratch& w) {
    const i64 order = t / (p.BH * p.nsplit), rest = t % (p.BH * p.nsplit);
    const i64 qb = p.fold ? order : p.nqb - 1 - order;
    const i64 bh = rest / p.nsplit, split = rest % p.nsplit, b = bh / H, h = bh % H;
    if (p.fold) {
      for (int part : {0, 1})
        if (const RowRange r = folded_rows(p.nq, p.nqb, qb, part); r.rows > 0)
          write_rows(a, p, uk, b, h, r.i0, r.rows, w, block_rows(a, p, uk, b, h, r.i0, r.rows, 0, p.nk, w));
      return;
    }
    const i64 i0 = qb * p.br, rows = std::min(p.br, p.nq - i0);
    const i64 j0 = p.nsplit > 1 ? split * p.chunk : 0, j1 = p.nsplit > 1 ? std::min(p.nk, j0 + p.chunk) : p.nk;
    const bool any = block_rows(a, p, uk, b, h, i0, rows, j0, j1, w);
    if (p.nsplit > 1)
      save_partial(p, rows, w, any, partial_rows(p, partials, bh, qb, split));
    else
      write_rows(a, p, uk, b, h, i0, rows, w, any);
  };
  const i64 merge_rows = p.nsplit > 1 ? p.BH * p.nqb * p.br : 0;
  // The merge runs after every item: a thread's O scratch (w.o) is free for a 16-bit O's row.
  auto merge = [&](i64 t, const Scratch& w) {
    const i64 bh = t / (p.nqb * p.br), qb = t / p.br % p.nqb, r = t % p.br;
    if (qb * p.br + r < p.nq) merge_split_row(a, p, partials, bh, qb, r, w.o);
  };
  // The caller starts at once; helpers join as they wake (team.hpp). Merge rows in runs of 16.
  auto scratch = [&](int slot) { return Scratch(p, base + slot * p.per_thread); };
  team::run(static_cast<int>(p.slots), items, [&](int slot, i64 t) { item(t, scratch(slot)); });
  team::run_in_runs(static_cast<int>(p.slots), merge_rows, 16, [&](int slot, i64 t) { merge(t, scratch(slot)); });
}

}  // namespace

void run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2], d = a.q.shape[3];
  const i64 dv = a.v.shape[3];
  const Ukernels& uk = active_ukernels();
  // The tiny path reads fp32 in place; 16-bit calls of that size take the blocked path.
  const bool f32 = a.q.dtype == DType::f32 && a.k.dtype == DType::f32 && a.v.dtype == DType::f32 &&
                   a.out.dtype == DType::f32 && (a.mask.data == nullptr || a.mask.data.dtype == DType::f32);
  if (f32 && is_tiny(B * H, nq, nk, d, dv)) return run_tiny(a, uk);
  const bool causal = a.causal != Causal::none;
  const Plan plan = make_plan(B, H, nq, nk, d, dv, causal, a.threads, uk);
  // A short call while the helpers sleep runs alone, on the 1-thread plan (its fewer, larger
  // items pack Kᵀ and V fewer times; the result is the same) when that fits the workspace.
  if (plan.slots > 1 && 2 * B * H * nq * nk * (d + dv) < kAloneFlops && team::helpers_asleep())
    if (const Plan alone = make_plan(B, H, nq, nk, d, dv, causal, 1, uk); alone.bytes() <= plan.bytes())
      return run_blocked(a, alone, uk);
  run_blocked(a, plan, uk);
}

std::size_t workspace_bytes(const Problem& pr) {
  if (pr.batch * pr.heads * pr.q_len * pr.kv_len == 0) return 0;
  if (pr.dtypes == DTypes{} && is_tiny(pr.batch * pr.heads, pr.q_len, pr.kv_len, pr.head_dim, pr.value_dim)) return 0;
  return make_plan(pr.batch, pr.heads, pr.q_len, pr.kv_len, pr.head_dim, pr.value_dim, pr.causal != Causal::none,
                   pr.threads, active_ukernels())
      .bytes();
}

}  // namespace attn::fused
