#include "fused/plan.hpp"

#include "cpu_caches.hpp"
#include "fused/blocking.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace attn::fused {

namespace {

/// ATTN_FUSED_BLOCKS="Br,Bc[,Bs]" (for the block-size sweep), read once; all zero when unset.
/// Text that does not parse is ignored with a note on stderr, as ATTN_ISA is (dispatch.cpp).
BlockSizes blocks_from_env() {
  static const BlockSizes env = [] {
    const char* s = std::getenv("ATTN_FUSED_BLOCKS");
    if (s == nullptr || *s == '\0') return BlockSizes{0, 0, 0};
    if (const std::optional<BlockSizes> parsed = parse_block_sizes(s)) return *parsed;
    std::fprintf(stderr,
                 "attnlab: ATTN_FUSED_BLOCKS=%s is not Br,Bc or Br,Bc,Bs (whole numbers 1..4096, Bs <= Br); "
                 "using the block-size table\n",
                 s);
    return BlockSizes{0, 0, 0};
  }();
  return env;
}

}  // namespace

Plan make_plan(i64 B, i64 H, i64 nq, i64 nk, i64 d, i64 dv, bool causal, int threads, const Ukernels& uk) {
  Plan p;
  p.BH = B * H, p.nq = nq, p.nk = nk, p.d = d, p.dv = dv, p.mr = uk.mr, p.nr = uk.nr;
  p.pv_nr = uk.pv_nr;
  BlockSizes table = block_sizes(uk.isa, d, dv, cpu::caches().l2);
  i64 split_rows = tiling(uk.isa).split_rows;
  if (const BlockSizes env = blocks_from_env(); env.br > 0) table = env, split_rows = env.br;
  p.bc = round_up(std::max<i64>(table.bc, 1), p.nr);
  // Whether a short query splits the keys instead (decode) depends on the shape only (the
  // split changes the sums): split_rows, not the Br that follows the L2.
  if (ceil_div(nq, query_block_rows(split_rows, p.mr, p.BH, nq)) == 1 && nk >= 2 * kMinChunk) {
    const i64 want = std::min(kMaxSplits, nk / kMinChunk);
    p.chunk = round_up(ceil_div(nk, want), p.bc);
    p.nsplit = ceil_div(nk, p.chunk);
  }
  // Waking a thread costs microseconds: give each one at least kMinFlopsPerThread of work.
  // The rows of the items then follow the threads that share them: large items pack each Kᵀ
  // and V block once for more rows, items that share out evenly keep every thread busy to the
  // end (blocking.hpp). The result is the same. A split query is one item per head and chunk
  // (split_kv.hpp indexes its partials so).
  const i64 flops = 2 * p.BH * nq * nk * (d + dv);
  const i64 workers = std::clamp<i64>(flops / kMinFlopsPerThread, 1, std::max(threads, 1));
  // Causal rows on several threads are folded (blocking.hpp): each item a range of rows and its
  // mirror image, so that the items of a head see the same number of keys.
  p.fold = p.nsplit == 1 && causal && workers > 1;
  if (p.fold) {
    p.nqb = folded_items(table.br, p.mr, p.BH, nq, workers);
    p.br = round_up(ceil_div(ceil_div(nq, 2), p.nqb), p.mr);
  } else {
    p.br = p.nsplit > 1 ? query_block_rows(split_rows, p.mr, p.BH, nq)
                        : balanced_query_rows(table.br, p.mr, p.BH, nq, workers);
    p.nqb = ceil_div(nq, p.br);
  }
  p.bs = std::min(p.br, round_up(table.bs, p.mr));
  p.ldo = round_up(dv, 16);
  const i64 qp = round_up(p.br * d, 16), kp = round_up(p.bc * d, 16), vp = round_up(p.bc * round_up(dv, p.pv_nr), 16),
            vs = round_up(p.bc * dv, 16), s = round_up(p.bs * p.bc, 16), o = p.br * p.ldo;
  const i64 ml = round_up(p.br, 16);
  p.off_kp = qp, p.off_vp = p.off_kp + kp, p.off_vs = p.off_vp + vp, p.off_s = p.off_vs + vs, p.off_o = p.off_s + s;
  p.off_op = p.off_o + o, p.off_m = p.off_op + o, p.off_l = p.off_m + ml, p.off_mt = p.off_l + ml;
  p.off_lp = p.off_mt + ml;
  p.off_alpha = p.off_lp + ml;
  p.per_thread = p.off_alpha + ml;
  p.slots = std::min(workers, p.BH * p.nqb * p.nsplit);
  if (p.nsplit > 1) {
    p.partial_row = round_up(dv + 2, 16);
    p.partial_floats = p.BH * p.nsplit * nq * p.partial_row;
  }
  return p;
}

}  // namespace attn::fused
