// decode: attention for few query rows per K/V head (decode, speculative decoding, GQA
// groups), bound by memory bandwidth. Each pass reads the K and V rows of one K/V head
// straight from the caller's memory, once, for every query row that reads that head: all
// H/Hkv query heads of the group and all Nq rows (up to kRowsPerPass at a time). Nothing
// is packed; the per-row online-softmax state (m, l) and the logits of one tile of keys
// live on the stack, the unnormalised O rows in the output (or in a chunk's partial).
//
// Work items are (batch, K/V head, row block, chunk of keys). The chunks follow from the
// shape only, and their partial (O, m, l) are merged in chunk order, so the result is
// bitwise the same for any number of threads. Threads take runs of adjacent items; a pass
// of one row reads its chunks of a run as one stream (one_row_chunks), each chunk's
// arithmetic unchanged.
//
// Units as in the fused kernel: logits are scaled by scale·log2(e), so m is in log2 units
// and the softmax uses exp2: p_j = 2^(s_j − m), l = Σ p_j, O = Σ p_j V_j / l.
#include "decode/plan.hpp"

#include "decode/kernels.hpp"
#include "dtype_rows.hpp"
#include "fused/log2_units.hpp"
#include "fused/ukernels.hpp"
#include "kernel_decls.hpp"
#include "masking.hpp"
#include "row_merge.hpp"
#include "team.hpp"
#include "widening.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace attn {

namespace decode {

namespace {

using detail::kv_head;
using detail::mask_row;
using detail::masked_out;
using detail::visible_keys;

using fused::kLog2e;
using fused::kNegInf;

/// The query rows of one pass and their per-row state.
struct Pass {
  int rows = 0;
  const float* q[kRowsPerPass];
  const bf16* q_bf16[kRowsPerPass];  ///< Q as it is, when the logits come from bf16 pairs (uses_bf16_dot)
  bool bf16_dot = false;
  float* o[kRowsPerPass];  ///< unnormalised O: the output row, or the chunk's partial row
  const float* mask[kRowsPerPass];
  i64 visible[kRowsPerPass];  ///< keys 0..visible-1 pass the causal rule
  float m[kRowsPerPass], l[kRowsPerPass], alpha[kRowsPerPass];
  i64 tile = kTileKeys;                           ///< keys per step
  alignas(64) float s[kRowsPerPass * kTileKeys];  ///< one tile's logits, then its p, rows tile_stride(tile) apart
  static_assert(kOneRowTileKeys <= kRowsPerPass * kTileKeys && kTileKeys <= kOneRowTileKeys);
  static_assert(kTileKeys >= kLineFloats, "rows of s a line apart fit the buffer");
};

template <class T>
bool all_finite(const T* v, i64 dv) {
  bool ok = true;
  for (i64 t = 0; t < dv; ++t) {
    const float x = to_float(v[t]);
    ok &= (x - x) == 0.0f;  // NaN for inf and NaN
  }
  return ok;
}

/// The rows a step over keys [kb, kb + n) prefetches, given its first row `at` (key kb): those
/// `dist` keys ahead, as far as key `limit` (dist 0: none). A pointer to a row past the last may
/// overflow under a large stride (found by fuzz_attention_args), so none is formed.
template <class T>
Ahead<T> ahead_of(const T* at, i64 ld, i64 kb, i64 n, i64 dist, i64 limit) {
  const i64 ahead = dist == 0 ? 0 : std::clamp<i64>(limit - kb - dist, 0, n);
  return {ahead > 0 ? at + dist * ld : nullptr, ahead};
}

/// The logits of keys [kb, kb + n) (K row kb at k) for every row of the pass, into s (rows
/// tile_stride(w.tile) apart).
template <class Tk>
void scores_step(const KernelArgs& a, const Plan& p, const Kernels& dk, Pass& w, const Tk* k, i64 n, float* s,
                 Ahead<Tk> ahead) {
  const i64 ldk = a.k.strides[2], lds = tile_stride(w.tile);
  if constexpr (std::is_same_v<Tk, bf16>)
    if (w.bf16_dot) return dk.scores_bf16_dot(w.rows, w.q_bf16, p.d, k, ldk, n, a.scale * kLog2e, s, lds, ahead);
  dk.loops<Tk>().scores(w.rows, w.q, p.d, k, ldk, n, a.scale * kLog2e, s, lds, ahead);
}

/// Masking and the online-softmax step of keys [kb, kb + n) whose logits are in s: s becomes p,
/// and w's m, l, alpha move on. Returns whether some key of the step is hidden from some row.
bool softmax_step(const fused::Ukernels& uk, Pass& w, float* s, i64 kb, i64 n) {
  const i64 lds = tile_stride(w.tile);
  // Selected-away keys become -inf, overwriting: whatever K held there (inf, NaN) disappears.
  bool hidden = false;
  for (int r = 0; r < w.rows; ++r) {
    float* srow = s + r * lds;
    const i64 vis = std::clamp<i64>(w.visible[r] - kb, 0, n);
    if (const float* mrow = w.mask[r]) {
      for (i64 j = 0; j < vis; ++j) {
        const float mj = mrow[kb + j];
        hidden |= mj == kNegInf;
        srow[j] = mj == kNegInf ? kNegInf : srow[j] + mj * kLog2e;
      }
    }
    hidden |= vis < n;
    std::fill(srow + vis, srow + n, kNegInf);
  }
  uk.softmax_step(s, lds, w.rows, n, w.m, w.l, w.alpha);
  return hidden;
}

/// Whether V's rows of a step (n rows at v) need the masked-NaN path: some key is hidden and V
/// is not finite everywhere. A hidden key has p = 0, but 0 · NaN = NaN.
template <class Tv>
bool needs_seen_copy(const Tv* v, i64 ldv, i64 n, i64 dv, bool hidden) {
  if (!hidden) return false;
  for (i64 j = 0; j < n; ++j)
    if (!all_finite(v + j * ldv, dv)) return true;
  return false;
}

/// O = alpha·O + P V for the keys [kb, kb + n) of a step whose p is in s (V row kb at v), where
/// V is not finite at a key some row may not see: each row reads a copy of the step's V with
/// zeros at its hidden keys, a few columns at a time. The contract of pv makes that bitwise what
/// finite values there would give (adding 0 · v is exact; an element's arithmetic does not
/// depend on the columns of the call).
template <class Tv>
void pv_seen_copy(const KernelArgs& a, const Plan& p, const Kernels& dk, Pass& w, const float* s, const Tv* v, i64 kb,
                  i64 n) {
  const i64 ldv = a.v.strides[2], lds = tile_stride(w.tile);
  constexpr i64 kCols = 16;
  Tv seen[kOneRowTileKeys * kCols];  // n <= kOneRowTileKeys (tile_keys)
  for (int r = 0; r < w.rows; ++r) {
    const i64 vis = std::clamp<i64>(w.visible[r] - kb, 0, n);
    for (i64 c0 = 0; c0 < p.dv; c0 += kCols) {
      const i64 cols = std::min(kCols, p.dv - c0);
      for (i64 j = 0; j < n; ++j) {
        const bool sees = j < vis && !masked_out(w.mask[r], kb + j);
        for (i64 t = 0; t < cols; ++t) seen[j * kCols + t] = sees ? v[j * ldv + c0 + t] : Tv{};
      }
      float* o = w.o[r] + c0;
      dk.loops<Tv>().pv(1, s + r * lds, lds, seen, kCols, n, cols, &o, w.alpha + r, {});
    }
  }
}

/// O = alpha·O + P V for every row of the pass over the keys [kb, kb + n) of a step whose p is in
/// s (V row kb at v; `hidden` from softmax_step): by the copy where needs_seen_copy says so.
template <class Tv>
void pv_step(const KernelArgs& a, const Plan& p, const Kernels& dk, Pass& w, const float* s, const Tv* v, i64 kb, i64 n,
             bool hidden, Ahead<Tv> ahead) {
  const i64 ldv = a.v.strides[2];
  if (needs_seen_copy(v, ldv, n, p.dv, hidden)) return pv_seen_copy(a, p, dk, w, s, v, kb, n);
  dk.loops<Tv>().pv(w.rows, s, tile_stride(w.tile), v, ldv, n, p.dv, w.o, w.alpha, ahead);
}

/// Keys [kb, kb + n) for every row of the pass (K and V rows kb at k and v): logits, masking,
/// the online-softmax step, then O = alpha·O + P V. Rows `dist` keys ahead are prefetched as
/// far as key `limit`.
template <class Tk, class Tv>
void tile_step(const KernelArgs& a, const Plan& p, const Kernels& dk, const fused::Ukernels& uk, Pass& w, const Tk* k,
               const Tv* v, i64 kb, i64 n, i64 dist, i64 limit) {
  scores_step(a, p, dk, w, k, n, w.s, ahead_of(k, a.k.strides[2], kb, n, dist, limit));
  const bool hidden = softmax_step(uk, w, w.s, kb, n);
  pv_step(a, p, dk, w, w.s, v, kb, n, hidden, ahead_of(v, a.v.strides[2], kb, n, dist, limit));
}

/// Row r of a K/V head's group: query head hk·G + r / Nq, query row r % Nq.
struct GroupRow {
  i64 h, i;
};
GroupRow group_row(const Plan& p, i64 hk, i64 r) {
  return {hk * p.group + r / p.nq, r % p.nq};
}

/// Partial row of (b, hk, group row r) for chunk c: O (dv floats), m, l.
float* partial_row(const Plan& p, float* partials, i64 b, i64 hk, i64 r, i64 c) {
  return partials + (((b * p.hkv + hk) * p.group_rows + r) * p.chunks + c) * p.partial_stride;
}

/// Whether a pass over K of type Tk takes its logits from bf16 pairs: bf16 Q and K (keep_for kept
/// Q as it is only for the bf16 logits).
template <class Tk>
bool bf16_logits(const KernelArgs& a) {
  return std::is_same_v<Tk, bf16> && a.q.dtype == DType::bf16;
}

/// The keys a pass reads, [j0, j1) of its chunk, and the last key any row of it sees, `limit`:
/// its prefetches run on past j1 into the next chunk, which the same thread usually takes next
/// (decode_typed hands out runs of adjacent chunks).
struct Span {
  i64 j0 = 0, j1 = 0, limit = 0;
};

/// Sets w up for rows [r0, r0 + rows) of group (b, hk) over chunk c: its Q, O (the output row,
/// or the chunk's partial row) zeroed, mask, visible keys, m = -inf, l = 0 and step; returns the
/// pass's keys.
template <class Tk, class Tv>
Span start_pass(const KernelArgs& a, const Plan& p, const Kernels& dk, float* partials, i64 b, i64 hk, i64 r0, i64 c,
                Pass& w) {
  w.rows = static_cast<int>(std::min(kRowsPerPass, p.group_rows - r0));
  w.bf16_dot = bf16_logits<Tk>(a);
  i64 last = 0;  // keys any row of the pass sees
  for (int r = 0; r < w.rows; ++r) {
    const GroupRow g = group_row(p, hk, r0 + r);
    if (w.bf16_dot)
      w.q_bf16[r] = detail::row_of<bf16>(a.q, b, g.h, g.i);
    else
      w.q[r] = a.q.as<float>().row(b, g.h, g.i);
    w.o[r] = p.chunks == 1 ? a.out.as<float>().row(b, g.h, g.i) : partial_row(p, partials, b, hk, r0 + r, c);
    w.mask[r] = mask_row(a.mask, g.i);
    w.visible[r] = visible_keys(a, g.i);
    last = std::max(last, w.visible[r]);
    w.m[r] = kNegInf, w.l[r] = 0.0f;
    std::fill_n(w.o[r], p.dv, 0.0f);
  }
  w.tile = tile_keys(w.rows, p.d * static_cast<i64>(sizeof(Tk)) + p.dv * static_cast<i64>(sizeof(Tv)), dk.isa);
  const i64 j0 = c * p.chunk;
  return {j0, std::min({p.nk, j0 + p.chunk, last}), std::min(p.nk, last)};
}

/// The end of a pass (rows r0.. of group (b, hk)): m and l after a chunk's partial O, or, with no
/// split, the output rows divided by l and their LSE.
void finish_pass(const KernelArgs& a, const Plan& p, const Pass& w, i64 b, i64 hk, i64 r0) {
  for (int r = 0; r < w.rows; ++r) {
    if (p.chunks > 1) {  // m and l after the chunk's O
      w.o[r][p.dv] = w.m[r], w.o[r][p.dv + 1] = w.l[r];
      continue;
    }
    const GroupRow g = group_row(p, hk, r0 + r);
    float* lse = detail::lse_row(a, b, g.h, g.i);
    // Every key masked: 0 and -inf. (m = -inf with l = NaN is a row of NaN logits: it falls through.)
    if (w.m[r] == kNegInf && w.l[r] == 0.0f) {
      detail::write_no_keys_row(w.o[r], p.dv, lse);
      continue;
    }
    for (i64 t = 0; t < p.dv; ++t) w.o[r][t] /= w.l[r];
    if (lse) *lse = fused::lse_from_log2(w.m[r], w.l[r]);
  }
}

/// One work item: rows [r0, r0 + rows) of group (b, hk) over the keys of chunk c, a step at a
/// time.
template <class Tk, class Tv>
void run_item(const KernelArgs& a, const Plan& p, const Kernels& dk, const fused::Ukernels& uk, float* partials, i64 b,
              i64 hk, i64 r0, i64 c) {
  Pass w;
  const Span span = start_pass<Tk, Tv>(a, p, dk, partials, b, hk, r0, c, w);
  const Tk* k0 = a.k.as<Tk>().row(b, hk, 0);
  const Tv* v0 = a.v.as<Tv>().row(b, hk, 0);
  const i64 dist = prefetch_keys(w.rows, sizeof(Tk), p.d);
  for (i64 kb = span.j0; kb < span.j1; kb += w.tile) {
    const i64 n = std::min(w.tile, span.j1 - kb);
    tile_step(a, p, dk, uk, w, k0 + kb * a.k.strides[2], v0 + kb * a.v.strides[2], kb, n, dist, span.limit);
  }
  finish_pass(a, p, w, b, hk, r0);
}

/// Chunks [c0, c1) of the pass of one row over K/V head hk of batch b (a group of one row), read
/// as one stream two steps at a time: P·V of a step and the logits of the next in one loop
/// (Loops::pv_scores), so memory sees V's rows and K's side by side, each in address order,
/// instead of 64 KiB of one and then of the other; and on across the chunks' boundaries (a
/// chunk's last P·V beside the next one's first logits), so only the first logits and the last
/// P·V of the run read alone. Each chunk's arithmetic is run_item's, step by step: the same bits.
template <class T>
void one_row_chunks(const KernelArgs& a, const Plan& p, const Kernels& dk, const fused::Ukernels& uk, float* partials,
                    i64 b, i64 hk, i64 c0, i64 c1) {
  const i64 ldk = a.k.strides[2], ldv = a.v.strides[2];
  const T* k0 = a.k.as<T>().row(b, hk, 0);
  const T* v0 = a.v.as<T>().row(b, hk, 0);
  const i64 dist = prefetch_keys(1, sizeof(T), p.d);
  // Two chunks' passes at a boundary: the one whose last P·V is running and the next.
  Pass passes[2];
  int free_pass = 0;
  alignas(64) float logits[2 * kOneRowTileKeys];  // a step's p and the next step's logits
  struct Step {
    Pass* w;
    Span span;
    i64 kb, n;  // keys [kb, kb + n) of w's chunk
  };
  i64 c = c0;
  // The first step of the next chunk with keys to read; chunks without (past the causal limit)
  // are finished at once. False when no chunk is left.
  auto next_chunk = [&](Step& st) {
    for (; c < c1; ++c) {
      Pass& w = passes[free_pass];
      const Span span = start_pass<T, T>(a, p, dk, partials, b, hk, 0, c, w);
      if (span.j0 < span.j1) {
        st = {&w, span, span.j0, std::min(w.tile, span.j1 - span.j0)};
        ++c, free_pass ^= 1;
        return true;
      }
      finish_pass(a, p, w, b, hk, 0);
    }
    return false;
  };
  auto next_step = [&](const Step& at, Step& st) {
    const i64 kb = at.kb + at.n;
    if (kb >= at.span.j1) return next_chunk(st);
    st = {at.w, at.span, kb, std::min(at.w->tile, at.span.j1 - kb)};
    return true;
  };
  Step cur, next;
  if (!next_chunk(cur)) return;
  float* s = logits;
  float* s_next = logits + kOneRowTileKeys;
  const T* k = k0 + cur.kb * ldk;
  scores_step(a, p, dk, *cur.w, k, cur.n, s, ahead_of(k, ldk, cur.kb, cur.n, dist, cur.span.limit));
  bool hidden = softmax_step(uk, *cur.w, s, cur.kb, cur.n);
  for (;; cur = next) {
    const T* v = v0 + cur.kb * ldv;
    const Ahead<T> v_ahead = ahead_of(v, ldv, cur.kb, cur.n, dist, cur.span.limit);
    if (!next_step(cur, next)) {  // the last step
      pv_step(a, p, dk, *cur.w, s, v, cur.kb, cur.n, hidden, v_ahead);
      return finish_pass(a, p, *cur.w, b, hk, 0);
    }
    k = k0 + next.kb * ldk;
    const Ahead<T> k_ahead = ahead_of(k, ldk, next.kb, next.n, dist, next.span.limit);
    if (needs_seen_copy(v, ldv, cur.n, p.dv, hidden)) {
      pv_seen_copy(a, p, dk, *cur.w, s, v, cur.kb, cur.n);
      scores_step(a, p, dk, *next.w, k, next.n, s_next, k_ahead);
    } else if (next.w->bf16_dot) {
      if constexpr (std::is_same_v<T, bf16>)
        dk.pv_scores_bf16_dot(s, v, ldv, cur.n, p.dv, cur.w->o[0], cur.w->alpha[0], v_ahead, next.w->q_bf16[0], p.d, k,
                              ldk, next.n, a.scale * kLog2e, s_next, k_ahead);
    } else {
      dk.loops<T>().pv_scores(s, v, ldv, cur.n, p.dv, cur.w->o[0], cur.w->alpha[0], v_ahead, next.w->q[0], p.d, k, ldk,
                              next.n, a.scale * kLog2e, s_next, k_ahead);
    }
    if (next.w != cur.w) finish_pass(a, p, *cur.w, b, hk, 0);  // its chunk's last P·V is done
    hidden = softmax_step(uk, *next.w, s_next, next.kb, next.n);
    std::swap(s, s_next);
  }
}

/// The chunks of group row r merged in chunk order (row_merge.hpp, the one row merge).
void merge_row(const KernelArgs& a, const Plan& p, float* partials, i64 b, i64 hk, i64 r) {
  const GroupRow g = group_row(p, hk, r);
  const auto part = [&](i64 c) {
    const float* row = partial_row(p, partials, b, hk, r, c);
    return detail::PartialRow{row, row[p.dv], row[p.dv + 1]};
  };
  float* out = a.out.as<float>().row(b, g.h, g.i);
  detail::merge_row<fused::Log2Units>(p.chunks, part, p.dv, out, out, detail::lse_row(a, b, g.h, g.i));
}

template <class Tk, class Tv>
void decode_typed(const KernelArgs& a) noexcept {
  const Plan p = make_plan(a.q.shape[0], a.q.shape[1], a.k.shape[1], a.q.shape[2], a.k.shape[2], a.q.shape[3],
                           a.v.shape[3], a.threads);
  const fused::Ukernels& uk = fused::active_ukernels();
  // A bf16 Q is here only because keep_for chose the bf16 logits, which only the avx512 table
  // has: take that table then, whatever ISA force_isa may have set since.
  const Kernels& dk = kernels_for(a.q.dtype == DType::bf16 ? Isa::avx512 : uk.isa);
  float* const partials = static_cast<float*>(a.workspace);
  const i64 items = p.items();
  // Chunks of one pass are adjacent items: a thread's consecutive items read adjacent keys.
  // Chunks [c0, c1) of pass `pass`: a pass of one row over K and V of one dtype reads them as
  // one stream (one_row_chunks), any other pass an item at a time.
  auto chunks = [&](i64 pass, i64 c0, i64 c1) {
    const i64 rb = pass % p.row_blocks, bh = pass / p.row_blocks;
    if constexpr (std::is_same_v<Tk, Tv>)
      if (p.group_rows == 1) return one_row_chunks<Tk>(a, p, dk, uk, partials, bh / p.hkv, bh % p.hkv, c0, c1);
    for (i64 c = c0; c < c1; ++c)
      run_item<Tk, Tv>(a, p, dk, uk, partials, bh / p.hkv, bh % p.hkv, rb * kRowsPerPass, c);
  };
  const i64 merges = p.chunks > 1 ? p.batch * p.hkv * p.group_rows : 0;
  auto merge = [&](i64 t) {
    merge_row(a, p, partials, t / (p.hkv * p.group_rows), t / p.group_rows % p.hkv, t % p.group_rows);
  };
  // Runs of adjacent items (about four per thread): a thread reads one long stream of keys,
  // which its prefetches follow across chunks, and a slow thread still leaves runs to share.
  // The caller starts at once; helpers join as they wake (team.hpp).
  const i64 run = std::max<i64>(1, items / (p.slots * 4));
  team::run_ranges(static_cast<int>(p.slots), items, run, [&](int, i64 begin, i64 end) {
    for (i64 t = begin; t < end;) {  // the run's chunks of one pass at a time
      const i64 c = t % p.chunks, n = std::min(end - t, p.chunks - c);
      chunks(t / p.chunks, c, c + n);
      t += n;
    }
  });
  team::run_in_runs(static_cast<int>(p.slots), merges, 16, [&](int, i64 t) { merge(t); });
}

/// The call with O and the mask in fp32 (widening::run made them so), K and V in their dtypes, Q
/// in fp32 or, for the bf16 logits (keep_for), bf16.
void decode_run(const KernelArgs& a) noexcept {
  auto with_v = [&]<class Tk>() {
    switch (a.v.dtype) {
      case DType::f16:
        return decode_typed<Tk, f16>(a);
      case DType::bf16:
        return decode_typed<Tk, bf16>(a);
      case DType::f32:
        return decode_typed<Tk, float>(a);
    }
  };
  switch (a.k.dtype) {
    case DType::f16:
      return with_v.template operator()<f16>();
    case DType::bf16:
      return with_v.template operator()<bf16>();
    case DType::f32:
      return with_v.template operator()<float>();
  }
}

std::size_t decode_workspace(const Problem& pr) {
  if (pr.batch * pr.heads * pr.q_len * pr.kv_len == 0) return 0;
  return make_plan(pr.batch, pr.heads, pr.kv_heads, pr.q_len, pr.kv_len, pr.head_dim, pr.value_dim, pr.threads)
      .workspace_bytes();
}

/// K and V are read in their own dtype (the loops widen on load: half the bytes at 16 bits);
/// Q, the mask and O, a few rows, go through fp32 copies (widening.hpp). The workspace counts
/// Q's copy always: an upper bound for the calls that keep Q (keep_for).
constexpr widening::Keep kKeepKv{.kv = true};

std::size_t workspace_any(const Problem& pr) {
  return widening::workspace_bytes(pr, decode_workspace(widening::as_f32(pr, kKeepKv)), kKeepKv);
}

/// Q is kept as it is too where the logits come from bf16 pairs: bf16 Q and K on a CPU whose
/// fused table computes S so (fused::uses_bf16_dot; the decode avx512 table has its loop exactly
/// then: dispatch.cpp).
widening::Keep keep_for(const KernelArgs& a) {
  return {.kv = true, .q = fused::uses_bf16_dot(fused::active_ukernels(), a.q.dtype, a.k.dtype)};
}

void run_any(const KernelArgs& a) noexcept {
  widening::run(a, decode_run, keep_for(a));
}

}  // namespace

}  // namespace decode

KernelInfo decode_kernel_info() {
  return {"decode",
          "few query rows per K/V head: K and V rows read once in place for a whole GQA group, keys split in "
          "fixed chunks merged in order",
          {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
          decode::workspace_any,
          decode::run_any,
          30,
          decode::prefers,
          {DType::f32, DType::f16, DType::bf16}};
}

}  // namespace attn
