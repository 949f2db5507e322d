// fused: FlashAttention-2 on the CPU. One pass over K and V per work item of Br
// query rows (each Kᵀ/V block packed once, then used by the item's Bs-row slices);
// the Nq × Nk score matrix never exists, only a Bs × Bc slice of it.
//
// Layers (style.md): microkernels (ukernels.hpp, one table per ISA) → the
// block loop with the online softmax (block_rows) → the parallel driver over
// (b, h, q-block[, KV chunk]) work items (run_blocked) → dispatch (dispatch.cpp).
//
// Units: Q is packed pre-multiplied by scale·log2(e), so every score, running
// max m and the exponent are in log2 units and the softmax uses exp2:
//   p_j = 2^(s_j − m),  l = Σ p_j,  O = Σ p_j V_j / l,  LSE = (m + log2 l)·ln 2.
//
// Determinism: key blocks, KV chunks, groups and merge order depend on the shape only,
// never on the thread count, and a row's arithmetic does not depend on which rows share
// its work item (items may be larger with one thread), so the result is bitwise the
// same for any number of threads.
#include "kernel_decls.hpp"
#include "masking.hpp"
#include "row_merge.hpp"

#include "fused/blocking.hpp"
#include "fused/ukernels.hpp"
#include "simd/exp_poly.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace attn {

namespace fused {

namespace {

using detail::kv_head;
using detail::mask_row;
using detail::masked_out;
using detail::visible_keys;

constexpr float kLog2e = 1.44269504088896340736f;
constexpr float kLn2 = 0.693147180559945309417f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Tiny inputs (the lab sentences): direct loops on the stack, no workspace. Only while
// its scalar dot-product chains are cheaper than packing for the SIMD path: N = 16,
// d = 64 (2^15 pairs × dims) took 16.0 µs here and 2.3 µs blocked.
constexpr i64 kTinyMaxN = 16, kTinyMaxDim = 64, kTinyMaxWork = i64{1} << 12;
// Decode: when all queries fit one block and the KV sequence is long, split it
// into at most kMaxSplits chunks of at least kMinChunk keys, merged exactly.
constexpr i64 kMinChunk = 1024, kMaxSplits = 32;
// About 20 µs of work at this kernel's speed: below it, one thread is faster.
constexpr i64 kMinFlopsPerThread = i64{1} << 22;

i64 ceil_div(i64 a, i64 b) {
  return (a + b - 1) / b;
}
i64 round_up(i64 a, i64 b) {
  return ceil_div(a, b) * b;
}

/// ATTN_FUSED_BLOCKS="Br,Bc[,Bs]" (for the block-size sweep), read once; all zero when unset.
/// Text that does not parse is ignored with a note on stderr, as ATTN_ISA is (dispatch.cpp).
BlockSizes blocks_from_env() {
  static const BlockSizes env = [] {
    const char* s = std::getenv("ATTN_FUSED_BLOCKS");
    if (s == nullptr || *s == '\0') return BlockSizes{Isa::scalar, 0, 0, 0, 0};
    if (const std::optional<BlockSizes> parsed = parse_block_sizes(s)) return *parsed;
    std::fprintf(stderr,
                 "attnlab: ATTN_FUSED_BLOCKS=%s is not Br,Bc or Br,Bc,Bs (whole numbers 1..4096, Bs <= Br); "
                 "using the block-size table\n",
                 s);
    return BlockSizes{Isa::scalar, 0, 0, 0, 0};
  }();
  return env;
}

/// Everything that follows from the shape: block sizes, work items, workspace layout.
/// Depends on the thread count through the number of workspace slots and, with one thread,
/// the item size; neither changes the result (blocking.hpp).
struct Plan {
  i64 BH = 0, nq = 0, nk = 0, d = 0, dv = 0;
  i64 br = 0, bc = 0, bs = 0, mr = 0, nr = 0, pv_nr = 0;
  i64 nqb = 0;     ///< query blocks (work items) per head
  i64 nsplit = 1;  ///< KV chunks per query block (1: no split)
  i64 chunk = 0;   ///< keys per chunk, a multiple of bc
  // Per-thread workspace, in floats, each part a multiple of 16 (64 bytes).
  i64 ldo = 0, off_kp = 0, off_vp = 0, off_vs = 0, off_s = 0, off_o = 0, off_op = 0, off_m = 0, off_l = 0, off_mt = 0,
      off_lp = 0, off_alpha = 0, per_thread = 0;
  i64 slots = 0;           ///< threads that get a slot
  i64 partial_row = 0;     ///< floats per partial row: O (dv), m, l, rounded
  i64 partial_floats = 0;  ///< B·H·nsplit·nq partial rows, when split (then nqb = 1)
  std::size_t bytes() const { return static_cast<std::size_t>(slots * per_thread + partial_floats) * sizeof(float); }
};

bool is_tiny(i64 BH, i64 nq, i64 nk, i64 d, i64 dv) {
  return nq <= kTinyMaxN && nk <= kTinyMaxN && d <= kTinyMaxDim && dv <= kTinyMaxDim &&
         BH * nq * nk * (d + dv) <= kTinyMaxWork;
}

Plan make_plan(i64 B, i64 H, i64 nq, i64 nk, i64 d, i64 dv, int threads, const Ukernels& uk) {
  Plan p;
  p.BH = B * H, p.nq = nq, p.nk = nk, p.d = d, p.dv = dv, p.mr = uk.mr, p.nr = uk.nr;
  p.pv_nr = uk.pv_nr;
  BlockSizes table = block_sizes(uk.isa, d);
  if (const BlockSizes env = blocks_from_env(); env.br > 0) table = env;
  p.bc = round_up(std::max<i64>(table.bc, 1), p.nr);
  // Whether a short query splits the keys instead (decode) depends on the shape only.
  if (ceil_div(nq, query_block_rows(table.br, p.mr, p.BH, nq)) == 1 && nk >= 2 * kMinChunk) {
    const i64 want = std::min(kMaxSplits, nk / kMinChunk);
    p.chunk = round_up(ceil_div(nk, want), p.bc);
    p.nsplit = ceil_div(nk, p.chunk);
  }
  // One thread needs no spread of work items: the table's Br packs each Kᵀ and V block once for
  // more rows (llm-1024, one head: 2 items instead of 8). The result is the same (blocking.hpp).
  const i64 min_items = p.nsplit == 1 && threads <= 1 ? 1 : kMinItems;
  p.br = query_block_rows(table.br, p.mr, p.BH, nq, min_items);
  p.bs = std::min(p.br, round_up(table.bs, p.mr));
  p.nqb = ceil_div(nq, p.br);
  p.ldo = round_up(dv, 16);
  const i64 qp = round_up(p.br * d, 16), kp = round_up(p.bc * d, 16), vp = round_up(p.bc * round_up(dv, p.pv_nr), 16),
            vs = round_up(p.bc * dv, 16), s = round_up(p.bs * p.bc, 16), o = p.br * p.ldo;
  const i64 ml = round_up(p.br, 16);
  p.off_kp = qp, p.off_vp = p.off_kp + kp, p.off_vs = p.off_vp + vp, p.off_s = p.off_vs + vs, p.off_o = p.off_s + s;
  p.off_op = p.off_o + o, p.off_m = p.off_op + o, p.off_l = p.off_m + ml, p.off_mt = p.off_l + ml;
  p.off_lp = p.off_mt + ml;
  p.off_alpha = p.off_lp + ml;
  p.per_thread = p.off_alpha + ml;
  const i64 items = p.BH * p.nqb * p.nsplit;
  // Waking a thread costs microseconds: give each one at least kMinFlopsPerThread
  // of work. (The result does not depend on it.)
  const i64 flops = 2 * p.BH * nq * nk * (d + dv);
  p.slots = std::max<i64>(1, std::min<i64>({static_cast<i64>(threads), items, flops / kMinFlopsPerThread}));
  if (p.nsplit > 1) {
    p.partial_row = round_up(dv + 2, 16);
    p.partial_floats = p.BH * p.nsplit * nq * p.partial_row;
  }
  return p;
}

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

/// Q rows [i0, i0 + rows) of head (b, h) into MR-row panels, times c = scale·log2(e);
/// rows past the end are zero. Panel ip, element (k, r) at qp[(ip·d + k)·MR + r].
void pack_q(const KernelArgs& a, const Plan& p, i64 b, i64 h, i64 i0, i64 rows, float c, float* qp) {
  const i64 d = p.d, mr = p.mr, panels = ceil_div(rows, mr);
  for (i64 ip = 0; ip < panels; ++ip) {
    float* panel = qp + ip * d * mr;
    for (i64 r = 0; r < mr; ++r) {
      const i64 row = ip * mr + r;
      if (row < rows) {
        const float* q = a.q.row(b, h, i0 + row);
        for (i64 k = 0; k < d; ++k) panel[k * mr + r] = c * q[k];
      } else {
        for (i64 k = 0; k < d; ++k) panel[k * mr + r] = 0.0f;
      }
    }
  }
}

bool all_finite(const float* v, i64 ldv, i64 rows, i64 cols) {
  bool ok = true;
  for (i64 j = 0; j < rows; ++j)
    for (i64 t = 0; t < cols; ++t) ok &= (v[j * ldv + t] - v[j * ldv + t]) == 0.0f;  // NaN for inf and NaN
  return ok;
}

/// One block of keys [kb, kb + n) for the query rows [i0 + r0, i0 + r0 + rows) of an item (a slice):
/// S = (c·Q) Kᵀ from the packed panels, masking, the online-softmax step, O = alpha·O + P V
/// into the group's partials (op, lp). `first`: the group's first block for these rows (β = 0).
void slice_step(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 r0, i64 rows, i64 kb,
                i64 n, bool first, const Scratch& w) {
  const i64 d = p.d, dv = p.dv, mr = p.mr, nr = p.nr, pv_nr = p.pv_nr, lds = p.bc, ldo = p.ldo;
  const i64 hk = kv_head(a, h), ldv = a.v.strides[2], row0 = i0 + r0;
  const float* qp = w.qp + r0 * d;  // r0 is a multiple of MR: the slice starts at a panel
  float* o = w.op + r0 * ldo;
  const i64 q_panels = ceil_div(rows, mr);
  // Keys of this block that row panel ip can see at all (causal: its last row sees the most);
  // tiles past it are skipped here and filled with -inf by the masking below.
  auto panel_keys = [&](i64 ip) {
    return std::clamp<i64>(visible_keys(a, row0 + std::min(rows, (ip + 1) * mr) - 1) - kb, 0, n);
  };
  // S = (c·Q) Kᵀ, panel by panel: the Kᵀ panel stays in L1 across the Q panels.
  for (i64 jp = 0; jp < ceil_div(n, nr); ++jp)
    for (i64 ip = 0; ip < q_panels; ++ip)
      if (jp * nr < panel_keys(ip))
        uk.qk(d, qp + ip * mr * d, w.kp + jp * nr * d, w.s + ip * mr * lds + jp * nr, lds,
              static_cast<int>(std::min(mr, rows - ip * mr)), static_cast<int>(nr));

  // Masking only where some key of the block is hidden from some row: selected-away
  // keys become -inf (overwriting, so a NaN/inf logit there disappears).
  const bool masking = kb + n > visible_keys(a, row0) || a.mask.data != nullptr;
  if (masking)
    for (i64 r = 0; r < rows; ++r) {
      float* srow = w.s + r * lds;
      const i64 vis = std::clamp<i64>(visible_keys(a, row0 + r) - kb, 0, n);
      if (const float* mrow = mask_row(a.mask, row0 + r))
        for (i64 c = 0; c < vis; ++c) srow[c] = mrow[kb + c] == kNegInf ? kNegInf : srow[c] + mrow[kb + c] * kLog2e;
      std::fill(srow + vis, srow + n, kNegInf);
    }

  // Online softmax: P = 2^(S − m) in place, m and l updated, alpha = the rescale of O
  // (applied by the P V epilogue below: O = alpha·O + P V).
  float* const alpha = w.alpha + r0;
  uk.softmax_step(w.s, lds, rows, n, w.m + r0, w.lp + r0, alpha);

  // O = alpha·O + P V (first block: O = P V). A masked key has p = 0, but 0 · NaN = NaN: when V holds a
  // non-finite value in a block with masked keys, those V rows must not be multiplied in.
  const float* v0 = a.v.row(b, hk, kb);
  if (masking && !all_finite(v0, ldv, n, dv)) {
    // Row by row on a copy of the V block whose rows masked for that row are zero:
    // the same microkernel, the same sums (fma(0, 0, o) = o = fma(0, v, o) for finite v),
    // so the result is bitwise what finite values there would give.
    for (i64 r = 0; r < rows; ++r) {
      const i64 vis = visible_keys(a, row0 + r) - kb;
      const float* mrow = mask_row(a.mask, row0 + r);
      for (i64 c = 0; c < n; ++c) {
        if (c >= vis || masked_out(mrow, kb + c))
          std::fill_n(w.vs + c * dv, dv, 0.0f);
        else
          std::copy_n(v0 + c * ldv, dv, w.vs + c * dv);
      }
      for (i64 c0 = 0; c0 < dv; c0 += pv_nr)
        uk.pv(n, w.s + r * lds, lds, w.vs + c0, dv, o + r * ldo + c0, ldo, 1,
              static_cast<int>(std::min(pv_nr, dv - c0)), first ? nullptr : alpha + r);
    }
    return;
  }
  // Column strips of the packed V outermost: a Bc × PV_NR strip stays in L1 across the row
  // panels. Each panel stops at the last key it can see (its p are 0 beyond); kc = 0 still
  // writes β = 0 zeros, and is otherwise skipped: a panel that sees no key of the block has
  // alpha = 1 (its max did not move).
  for (i64 c0 = 0; c0 < dv; c0 += pv_nr)
    for (i64 ip = 0; ip < q_panels; ++ip) {
      const i64 kc = panel_keys(ip);
      if (kc > 0 || first)
        uk.pv(kc, w.s + ip * mr * lds, lds, w.vp + c0 * n, pv_nr, o + ip * mr * ldo + c0, ldo,
              static_cast<int>(std::min(mr, rows - ip * mr)), static_cast<int>(std::min(pv_nr, dv - c0)),
              first ? nullptr : alpha + ip * mr);
    }
}

/// Adds the group's partials of rows [r0, r0 + rows) into the totals: with f = 2^(mt − m),
/// o = f·o + op, l = f·l + lp, mt = m (f by one exp2, not a product of the blocks' alphas).
/// The first group, or rows that saw no key before it (mt = -inf), take the partials as they are.
void merge_group(const Plan& p, i64 r0, i64 rows, bool first_group, const Scratch& w) {
  for (i64 r = r0; r < r0 + rows; ++r) {
    float* o = w.o + r * p.ldo;
    const float* op = w.op + r * p.ldo;
    if (first_group || w.mt[r] == kNegInf) {
      std::copy_n(op, p.dv, o);
      w.l[r] = w.lp[r];
    } else {
      const float f = w.m[r] > w.mt[r] ? simd::exp2_rr1_p6(w.mt[r] - w.m[r]) : 1.0f;
      for (i64 t = 0; t < p.dv; ++t) o[t] = f * o[t] + op[t];
      w.l[r] = f * w.l[r] + w.lp[r];
    }
    w.mt[r] = w.m[r];
  }
}

/// The online softmax over keys [j0, j1) for query rows [i0, i0 + rows) of head (b, h): each
/// block of Bc keys is packed once (Kᵀ and V) and then used by every Bs-row slice of the rows;
/// every kBlocksPerGroup blocks the partial sums are merged into the totals.
/// Leaves in w: o (unnormalised Σ p V), m (running max, log2 units), l (Σ p).
/// Returns false when no KV block was visible to any row (o is then unset).
bool block_rows(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows, i64 j0, i64 j1,
                const Scratch& w) {
  const i64 d = p.d, dv = p.dv, bc = p.bc;
  const i64 hk = kv_head(a, h);
  // Causal keys are a prefix per row, growing with the row: the last row sees the most.
  // Blocks no row sees are skipped, but a block is never cut short: its width (and so the
  // order of every row's max and sum) must not depend on which rows share the item.
  const i64 vis_last = visible_keys(a, i0 + rows - 1);
  if (vis_last <= j0) return false;
  j1 = std::min(j1, j0 + round_up(vis_last - j0, bc));

  pack_q(a, p, b, h, i0, rows, a.scale * kLog2e, w.qp);
  std::fill_n(w.m, rows, kNegInf);
  // Whether the slice of rows [r0, r0 + n) takes part in the key block (or group) starting at
  // `key`: the very first block always (it writes the slice's zeros); later ones only if its
  // last row sees that key. Visibility is a prefix, so a slice that takes part in any block of
  // a group takes part in its first one, which is therefore where its `first` (β = 0) falls.
  auto takes_part = [&](i64 r0, i64 n, i64 key) { return key == j0 || key < visible_keys(a, i0 + r0 + n - 1); };
  const i64 group_keys = kBlocksPerGroup * bc;
  for (i64 g0 = j0; g0 < j1; g0 += group_keys) {
    const i64 g1 = std::min(j1, g0 + group_keys);
    std::fill_n(w.lp, rows, 0.0f);
    for (i64 kb = g0; kb < g1; kb += bc) {
      const i64 n = std::min(bc, g1 - kb);
      uk.pack_kt(n, d, a.k.row(b, hk, kb), a.k.strides[2], w.kp);
      uk.pack_v(n, dv, a.v.row(b, hk, kb), a.v.strides[2], w.vp);
      for (i64 r0 = 0; r0 < rows; r0 += p.bs) {
        const i64 slice = std::min(p.bs, rows - r0);
        if (takes_part(r0, slice, kb)) slice_step(a, p, uk, b, h, i0, r0, slice, kb, n, kb == g0, w);
      }
    }
    for (i64 r0 = 0; r0 < rows; r0 += p.bs) {  // the slices that took part in this group
      const i64 slice = std::min(p.bs, rows - r0);
      if (takes_part(r0, slice, g0)) merge_group(p, r0, slice, g0 == j0, w);
    }
  }
  return true;
}

/// Final rows: O / l and LSE = (m + log2 l)·ln 2; rows that saw no key get 0 and -inf.
void write_rows(const KernelArgs& a, const Plan& p, i64 b, i64 h, i64 i0, i64 rows, const Scratch& w, bool any) {
  for (i64 r = 0; r < rows; ++r) {
    float* out = a.out.row(b, h, i0 + r);
    const float m = any ? w.m[r] : kNegInf;
    // Every key masked: 0 and -inf. (m = -inf with l = NaN is a row of NaN logits: it falls through.)
    if (!any || (m == kNegInf && w.l[r] == 0.0f)) {
      std::fill_n(out, p.dv, 0.0f);
      if (a.lse.data) *a.lse.row(b, h, i0 + r) = kNegInf;
      continue;
    }
    const float l = w.l[r];
    const float* orow = w.o + r * p.ldo;
    for (i64 t = 0; t < p.dv; ++t) out[t] = orow[t] / l;
    if (a.lse.data) *a.lse.row(b, h, i0 + r) = (m + std::log2(l)) * kLn2;
  }
}

/// Partial results of one KV chunk: per row O (dv floats), then m, then l.
float* partial_rows(const Plan& p, float* partials, i64 bh, i64 qb, i64 split) {
  return partials + ((bh * p.nqb + qb) * p.nsplit + split) * p.nq * p.partial_row;  // nqb = 1, qb = 0
}

void save_partial(const Plan& p, i64 rows, const Scratch& w, bool any, float* dst) {
  for (i64 r = 0; r < rows; ++r) {
    float* row = dst + r * p.partial_row;
    row[p.dv] = any ? w.m[r] : kNegInf;
    row[p.dv + 1] = any ? w.l[r] : 0.0f;
    if (any) std::copy_n(w.o + r * p.ldo, p.dv, row);
  }
}

/// The fused kernel's partials: m in log2 units, O unnormalised (l = Σ p).
struct Log2Units {
  static float weight(float m, float max) { return simd::exp2_rr1_p6(m - max); }
  static float lse(float max, float sum) { return (max + std::log2(sum)) * kLn2; }
};

/// Merges the chunks of one row in chunk order (row_merge.hpp). Chunks that saw no key
/// (m_s = -inf) are skipped.
void merge_row(const KernelArgs& a, const Plan& p, float* partials, i64 bh, i64 qb, i64 r) {
  const i64 b = bh / a.q.shape[1], h = bh % a.q.shape[1], i = qb * p.br + r;
  const auto part = [&](i64 s) {
    const float* row = partial_rows(p, partials, bh, qb, s) + r * p.partial_row;
    return detail::PartialRow{row, row[p.dv], row[p.dv + 1]};
  };
  float* out = a.out.row(b, h, i);
  detail::merge_row<Log2Units>(p.nsplit, part, p.dv, out, out, detail::lse_row(a, b, h, i));
}

void run_blocked(const KernelArgs& a, const Plan& p, const Ukernels& uk) {
  const i64 H = a.q.shape[1];
  const i64 items = p.BH * p.nqb * p.nsplit;
  float* const base = static_cast<float*>(a.workspace);
  float* const partials = base + p.slots * p.per_thread;
  // Heaviest first: a query block's cost grows with its index under causal masking.
  auto item = [&](i64 t, const Scratch& w) {
    const i64 qb = p.nqb - 1 - t / (p.BH * p.nsplit), rest = t % (p.BH * p.nsplit);
    const i64 bh = rest / p.nsplit, split = rest % p.nsplit, b = bh / H, h = bh % H;
    const i64 i0 = qb * p.br, rows = std::min(p.br, p.nq - i0);
    const i64 j0 = p.nsplit > 1 ? split * p.chunk : 0, j1 = p.nsplit > 1 ? std::min(p.nk, j0 + p.chunk) : p.nk;
    const bool any = block_rows(a, p, uk, b, h, i0, rows, j0, j1, w);
    if (p.nsplit > 1)
      save_partial(p, rows, w, any, partial_rows(p, partials, bh, qb, split));
    else
      write_rows(a, p, b, h, i0, rows, w, any);
  };
  const i64 merge_rows = p.nsplit > 1 ? p.BH * p.nqb * p.br : 0;
  auto merge = [&](i64 t) {
    const i64 bh = t / (p.nqb * p.br), qb = t / p.br % p.nqb, r = t % p.br;
    if (qb * p.br + r < p.nq) merge_row(a, p, partials, bh, qb, r);
  };
  if (p.slots == 1) {
    const Scratch w(p, base);
    for (i64 t = 0; t < items; ++t) item(t, w);
    for (i64 t = 0; t < merge_rows; ++t) merge(t);
    return;
  }
#pragma omp parallel num_threads(static_cast <int>(p.slots))
  {
    const Scratch w(p, base + omp_get_thread_num() * p.per_thread);
#pragma omp for schedule(dynamic, 1)
    for (i64 t = 0; t < items; ++t) item(t, w);
#pragma omp for schedule(static)
    for (i64 t = 0; t < merge_rows; ++t) merge(t);
  }
}

/// The lab sentences: everything on the stack, one head at a time, masked keys never read.
/// Scalar dot products and sums, each accumulated in a register; the exps of the whole head
/// in one call of the ISA's exp2 (a handful of vector instructions instead of a dependent
/// chain of scalar Horner steps per key).
void run_tiny(const KernelArgs& a, const Ukernels& uk) {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2];
  const i64 d = a.q.shape[3], dv = a.v.shape[3];
  const float c = a.scale * kLog2e;
  const float* krow[kTinyMaxN];  // the head's key and value rows, addressed once per head
  const float* vrow[kTinyMaxN];
  i64 keys[kTinyMaxN * kTinyMaxN];  // row i's visible keys at keys[first[i] ..< first[i + 1]]
  float s[kTinyMaxN * kTinyMaxN];   // their logits minus the row max, then their p
  i64 first[kTinyMaxN + 1];
  float m[kTinyMaxN];
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h) {
      const i64 hk = kv_head(a, h);
      for (i64 j = 0; j < nk; ++j) krow[j] = a.k.row(b, hk, j), vrow[j] = a.v.row(b, hk, j);
      i64 e = 0;
      for (i64 i = 0; i < nq; ++i) {
        const float* mrow = mask_row(a.mask, i);
        const float* q = a.q.row(b, h, i);
        first[i] = e;
        m[i] = kNegInf;  // running max, NaN ignored: a NaN logit shows up in l below
        for (i64 j = 0, vis = visible_keys(a, i); j < vis; ++j) {
          if (masked_out(mrow, j)) continue;
          float dot = 0.0f;
          for (i64 t = 0; t < d; ++t) dot += q[t] * krow[j][t];
          keys[e] = j;
          s[e] = dot * c + (mrow ? mrow[j] * kLog2e : 0.0f);
          m[i] = s[e] > m[i] ? s[e] : m[i];
          ++e;
        }
        const float mu = m[i] == kNegInf ? 0.0f : m[i];  // never exp2(-inf − (-inf))
        for (i64 u = first[i]; u < e; ++u) s[u] -= mu;
      }
      first[nq] = e;
      uk.exp2(s, s, e);
      for (i64 i = 0; i < nq; ++i) {
        float l = 0.0f;
        for (i64 u = first[i]; u < first[i + 1]; ++u) l += s[u];
        float* out = a.out.row(b, h, i);
        if (m[i] == kNegInf && l == 0.0f) {  // every key masked
          std::fill_n(out, dv, 0.0f);
          if (a.lse.data) *a.lse.row(b, h, i) = kNegInf;
          continue;
        }
        for (i64 t = 0; t < dv; ++t) {
          float acc = 0.0f;
          for (i64 u = first[i]; u < first[i + 1]; ++u) acc += s[u] * vrow[keys[u]][t];
          out[t] = acc / l;
        }
        if (a.lse.data) *a.lse.row(b, h, i) = (m[i] + std::log2(l)) * kLn2;
      }
    }
}

void fused_run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2], d = a.q.shape[3];
  const i64 dv = a.v.shape[3];
  const Ukernels& uk = active_ukernels();
  if (is_tiny(B * H, nq, nk, d, dv)) return run_tiny(a, uk);
  run_blocked(a, make_plan(B, H, nq, nk, d, dv, a.threads, uk), uk);
}

std::size_t fused_workspace(const Problem& pr) {
  if (pr.batch * pr.heads * pr.q_len * pr.kv_len == 0) return 0;
  if (is_tiny(pr.batch * pr.heads, pr.q_len, pr.kv_len, pr.head_dim, pr.value_dim)) return 0;
  return make_plan(pr.batch, pr.heads, pr.q_len, pr.kv_len, pr.head_dim, pr.value_dim, pr.threads, active_ukernels())
      .bytes();
}

}  // namespace

}  // namespace fused

KernelInfo fused_kernel_info() {
  return {"fused",
          "FlashAttention-2: packed Q Kᵀ and P V SIMD microkernels, online exp2 softmax, O(N·d) memory",
          {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
          fused::fused_workspace,
          fused::fused_run,
          20};
}

}  // namespace attn
