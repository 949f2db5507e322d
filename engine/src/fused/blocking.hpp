// Block sizes of the fused kernel, as data: Br query rows × Bc keys per step of
// the online softmax, per ISA and head dimension. Chosen by the sweep recorded
// in docs/performance.md (bench: ATTN_FUSED_BLOCKS=Br,Bc overrides the table).
//
// Working set per step: packed Q (Br·d) + packed Kᵀ (Bc·d) + S (Br·Bc) + O (Br·dv)
// floats, meant to stay in the 2 MiB L2 while the Kᵀ panel in use (NR·d) and
// a V strip (Bc·NR) stay in the 48 KiB L1d.
#pragma once

#include "ukernels.hpp"

namespace attn::fused {

struct BlockSizes {
  Isa isa;
  i64 max_d;  ///< the row applies to head dimensions up to this
  int br;     ///< query rows per block: a multiple of MR
  int bc;     ///< keys per block: a multiple of NR
};

// clang-format off
inline constexpr BlockSizes kBlockTable[] = {
    // isa          head dim up to   Br   Bc
    {Isa::scalar,   i64{1} << 40,    24,  64},
    {Isa::avx2,     64,              96, 128},
    {Isa::avx2,     i64{1} << 40,    96, 256},
    {Isa::avx512,   64,             192, 128},
    {Isa::avx512,   i64{1} << 40,   192,  64},
};
// clang-format on

/// The row of kBlockTable for this ISA and head dimension (before any ATTN_FUSED_BLOCKS override).
constexpr BlockSizes block_sizes(Isa isa, i64 d) {
  for (const BlockSizes& row : kBlockTable)
    if (row.isa == isa && d <= row.max_d) return row;
  return kBlockTable[0];
}

/// Query rows per block for B·H heads of nq rows: the table's Br, a multiple of MR, no
/// larger than the rows, and small enough that there are at least kMinItems (head, block)
/// work items so two or four threads get balanced shares (never below 4 MR rows).
/// Depends on the shape only, so the thread count never changes the result.
inline constexpr i64 kMinItems = 8;
constexpr i64 query_block_rows(i64 table_br, i64 mr, i64 bh, i64 nq) {
  auto round_up = [](i64 a, i64 b) { return (a + b - 1) / b * b; };
  i64 br = round_up(table_br < 1 ? 1 : table_br, mr);
  if (bh * ((nq + br - 1) / br) < kMinItems) {
    const i64 per_head = (kMinItems + bh - 1) / bh;
    const i64 want = round_up((nq + per_head - 1) / per_head, mr);
    br = want < 4 * mr ? 4 * mr : (want < br ? want : br);
  }
  const i64 rows = round_up(nq, mr);
  return br < rows ? br : rows;
}

}  // namespace attn::fused
