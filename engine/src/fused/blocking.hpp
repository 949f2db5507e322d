// Block sizes of the fused kernel, as data, per ISA and head dimension. Chosen by
// the sweep recorded in docs/performance.md (bench: ATTN_FUSED_BLOCKS=Br,Bc[,Bs]
// overrides the table).
//
// A work item is Br query rows. Each block of Bc keys is packed once per item
// (Kᵀ and V) and then used by the item's slices of Bs rows, one online-softmax
// step each: a large Br spreads the packing over many rows while the S tile
// (Bs × Bc) stays small. Working set: packed Q (Br·d) + O (Br·dv) + Kᵀ and V
// blocks (Bc·(d + dv)) + S (Bs·Bc) floats, meant for the 2 MiB L2, while the
// Kᵀ panel in use (NR·d) and a V strip (Bc·NR) stay in the 48 KiB L1d.
#pragma once

#include "ukernels.hpp"

#include <charconv>
#include <optional>
#include <string_view>

namespace attn::fused {

struct BlockSizes {
  Isa isa;
  i64 max_d;  ///< the row applies to head dimensions up to this
  int br;     ///< query rows per work item (most; query_block_rows may lower it)
  int bc;     ///< keys per block: a multiple of NR
  int bs;     ///< query rows per online-softmax slice: a multiple of MR
};

// clang-format off
inline constexpr BlockSizes kBlockTable[] = {
    // isa          head dim up to   Br   Bc   Bs
    {Isa::scalar,   i64{1} << 40,    96,  64,  24},
    {Isa::avx2,     64,             576, 128,  96},
    {Isa::avx2,     i64{1} << 40,   576, 256,  96},
    {Isa::avx512,   64,             576, 128,  96},
    {Isa::avx512,   i64{1} << 40,   576, 128, 192},
};
// clang-format on

/// The row of kBlockTable for this ISA and head dimension (before any ATTN_FUSED_BLOCKS override).
constexpr BlockSizes block_sizes(Isa isa, i64 d) {
  for (const BlockSizes& row : kBlockTable)
    if (row.isa == isa && d <= row.max_d) return row;
  return kBlockTable[0];
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
  return BlockSizes{Isa::scalar, 0, v[0], v[1], v[2]};
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

}  // namespace attn::fused
