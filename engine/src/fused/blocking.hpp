// Block sizes of the fused kernel for a call: the ISA's key block and slice (tiling.hpp) and
// the work item's query rows from the L2 cpuid reports. ATTN_FUSED_BLOCKS=Br,Bc[,Bs] overrides
// all three (for sweeps: docs/performance.md).
#pragma once

#include "cpu_caches.hpp"
#include "fused/tiling.hpp"

#include <charconv>
#include <cstddef>
#include <optional>
#include <string_view>

namespace attn::fused {

struct BlockSizes {
  int br;  ///< query rows per work item (most; query_block_rows may lower it)
  int bc;  ///< keys per block: a multiple of NR
  int bs;  ///< query rows per online-softmax slice: a multiple of MR
};

/// The L2 assumed when cpuid reports none.
inline constexpr std::size_t kAssumedL2 = std::size_t{1} << 20;
/// Work items never grow past this many rows (small heads would otherwise take thousands).
inline constexpr i64 kMaxItemRows = 2048;

/// Floats a work item of br rows keeps in use (tiling.hpp): packed Q, O and its group
/// partials, the packed Kᵀ and V blocks, the S slice.
constexpr i64 item_floats(i64 br, i64 bc, i64 bs, i64 d, i64 dv) {
  return br * (d + 2 * dv) + bc * (d + dv) + bs * bc;
}

/// Block sizes for head dimensions d, dv on an L2 of `l2_bytes` (0: unknown): Bc and Bs from
/// the ISA's tiling, Br the most rows (a multiple of MR, at least Bs) whose item fits the L2.
constexpr BlockSizes block_sizes(Isa isa, i64 d, i64 dv, std::size_t l2_bytes) {
  const Tiling& t = tiling(isa);
  const i64 bc = d <= 64 ? t.bc_d64 : t.bc_wide, bs = d <= 64 ? t.bs_d64 : t.bs_wide;
  const i64 budget = static_cast<i64>((l2_bytes > 0 ? l2_bytes : kAssumedL2) / sizeof(float));
  const i64 fixed = item_floats(0, bc, bs, d, dv), per_row = d + 2 * dv;
  i64 br = budget > fixed ? (budget - fixed) / per_row / t.mr * t.mr : 0;
  br = br < bs ? bs : br > kMaxItemRows ? kMaxItemRows / t.mr * t.mr : br;
  return {static_cast<int>(br), static_cast<int>(bc), static_cast<int>(bs)};
}

/// The same for this CPU's L2 (cpu_caches.hpp), with dv = d.
inline BlockSizes block_sizes(Isa isa, i64 d) {
  return block_sizes(isa, d, d, cpu::caches().l2);
}

/// Parses "Br,Bc" or "Br,Bc,Bs" (ATTN_FUSED_BLOCKS, for sweeps; Bs defaults to Br): whole
/// positive numbers up to 4096 with Bs <= Br and nothing else in the text, or std::nullopt.
inline std::optional<BlockSizes> parse_block_sizes(std::string_view text) {
  int v[3] = {0, 0, 0};
  int count = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (count < 3) {
    const auto [next, ec] = std::from_chars(p, end, v[count]);
    if (ec != std::errc{} || v[count] < 1 || v[count] > 4096) return std::nullopt;
    ++count, p = next;
    if (p == end || *p != ',') break;
    ++p;
  }
  if (p != end || count < 2) return std::nullopt;
  if (count == 2) v[2] = v[0];
  if (v[2] > v[0]) return std::nullopt;
  return BlockSizes{v[0], v[1], v[2]};
}

/// O and l are summed in two levels: each group of this many key blocks into a partial, the
/// partials into the total. Over Nk/Bc blocks the rounding of the sums then grows like
/// 2·√(Nk/Bc) terms' worth instead of Nk/Bc (a long sequence has hundreds of blocks).
inline constexpr i64 kBlocksPerGroup = 16;

/// Query rows per work item for B·H heads of nq rows: the table's Br, a multiple of MR, no
/// larger than the rows, and small enough that there are at least `min_items` (head, block)
/// work items so two or four threads get balanced shares (never below 4 MR rows).
/// The rows of an item never change a row's result (blocks of keys, not of rows, fix the
/// order of every sum), so the item size may follow the thread count; whether a short query
/// splits the keys instead (the decode path) is decided with kMinItems for every thread count.
inline constexpr i64 kMinItems = 8;
constexpr i64 query_block_rows(i64 table_br, i64 mr, i64 bh, i64 nq, i64 min_items = kMinItems) {
  auto round_up = [](i64 a, i64 b) { return (a + b - 1) / b * b; };
  i64 br = round_up(table_br < 1 ? 1 : table_br, mr);
  if (bh * ((nq + br - 1) / br) < min_items) {
    const i64 per_head = (min_items + bh - 1) / bh;
    const i64 want = round_up((nq + per_head - 1) / per_head, mr);
    br = want < 4 * mr ? 4 * mr : (want < br ? want : br);
  }
  const i64 rows = round_up(nq, mr);
  return br < rows ? br : rows;
}

/// Query rows per work item when `threads` threads share B·H heads of nq rows without a causal
/// mask (every item of a head then costs the same): at most the L2's Br (rounded to MR), at least
/// 4 MR rows, and the fewest items per head that give B·H·items a multiple of the threads
/// (N = 4096, one head, 2 threads: 8 items of 516 rows, the last 484, not 7 of 576 and one of 64).
/// (One thread: the L2's Br.) Like query_block_rows, it never changes a row's result.
/// Causal calls on several threads fold their rows instead (folded_items).
constexpr i64 balanced_query_rows(i64 table_br, i64 mr, i64 bh, i64 nq, i64 threads) {
  auto round_up = [](i64 a, i64 b) { return (a + b - 1) / b * b; };
  const i64 rows = round_up(nq, mr), br_max = round_up(table_br < 1 ? 1 : table_br, mr);
  if (threads <= 1) return br_max < rows ? br_max : rows;
  i64 per_head = (nq + br_max - 1) / br_max;
  while (bh * per_head % threads != 0) ++per_head;
  // Rounded up to whole panels: equal items stay equal (no short item at the end).
  i64 br = round_up((nq + per_head - 1) / per_head, mr);
  br = br < 4 * mr ? 4 * mr : br;
  return br < rows ? br : rows;
}

/// Work items per head when `threads` threads share B·H heads of nq rows under a causal mask.
/// Row i sees i + 1 keys (plus the same shift for every row: bottom-right, offsets), so rows i
/// and nq − 1 − i together see the same number of keys whatever i is. The rows are folded: item k
/// of a head takes folds [F·k/K, F·(k+1)/K) of its F = ⌈nq/2⌉ folds, i.e. a range of rows in the
/// first half and its mirror image in the second (folded_rows), and so the K items of a head cost
/// the same within one fold (rows of equal length would cost 1, 3, 5, ... and leave a thread idle
/// at the end; smaller items to even that out repack Kᵀ and V for fewer rows). K: the fewest whose
/// ranges fit the L2's Br (rounded to MR) and that make B·H·K a multiple of the threads, while a
/// range keeps at least 4 MR rows. (Exact when no row's keys are cut at Nk or 0: nq <= nk, offsets
/// that keep the shift within 0..nk − nq.) Like query_block_rows, it never changes a row's result.
constexpr i64 folded_items(i64 table_br, i64 mr, i64 bh, i64 nq, i64 threads) {
  auto ceil_div = [](i64 a, i64 b) { return (a + b - 1) / b; };
  const i64 half = ceil_div(nq, 2), br_max = ceil_div(table_br < 1 ? 1 : table_br, mr) * mr;
  const i64 min_rows = half < 4 * mr ? half : 4 * mr;
  i64 k = ceil_div(half, br_max);
  while (threads > 1 && bh * k % threads != 0 && ceil_div(half, k + 1) >= min_rows) ++k;
  return k;
}

/// The rows of work item `item` (of `items`) of a head folded by folded_items: part 0 the range
/// in the first half, part 1 its mirror image in the second (empty for the middle row of an odd
/// nq when it falls in part 0). Every row is in exactly one part of one item.
struct RowRange {
  i64 i0, rows;
};
constexpr RowRange folded_rows(i64 nq, i64 items, i64 item, int part) {
  const i64 half = (nq + 1) / 2, f0 = half * item / items, f1 = half * (item + 1) / items;
  if (part == 0) return {f0, f1 - f0};
  const i64 i0 = nq - f1 > half ? nq - f1 : half;
  return {i0, nq - f0 > i0 ? nq - f0 - i0 : 0};
}

}  // namespace attn::fused
