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

inline constexpr BlockSizes kBlockTable[] = {
    {Isa::scalar, i64{1} << 40, 24, 64},
    {Isa::avx2, 64, 96, 128},
    {Isa::avx2, i64{1} << 40, 96, 64},
    {Isa::avx512, 64, 192, 128},
    {Isa::avx512, i64{1} << 40, 192, 64},
};

/// The row of kBlockTable for this ISA and head dimension (before any ATTN_FUSED_BLOCKS override).
constexpr BlockSizes block_sizes(Isa isa, i64 d) {
  for (const BlockSizes& row : kBlockTable)
    if (row.isa == isa && d <= row.max_d) return row;
  return kBlockTable[0];
}

}  // namespace attn::fused
