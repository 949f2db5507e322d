// An ISA's tiling of the fused kernel, in one place: the register tiles its microkernels are
// instantiated with (ukernel_<isa>.cpp), the key block, the query slice, and the rule that
// sizes a work item from the caches cpuid reports (cpu_caches.hpp).
//
// What changes the result and what does not (docs/design.md, fused kernel): the key block Bc
// and the split of a short query's keys fix the order of every sum, so they depend on the ISA,
// the head dimension and the shape only, never on the machine's caches or thread count. The
// query rows of a work item (Br) and of a slice (Bs) never change a row's result: Br follows
// the L2 here, and the thread count (query_block_rows).
//
// A work item is Br query rows. Each block of Bc keys is packed once per item (Kᵀ and V) and
// then used by the item's slices of Bs rows, one online-softmax step each: a large Br spreads
// the packing over many rows while the S tile (Bs × Bc) stays small. The item's working set,
// packed Q (Br·d) + O and its group partials (2·Br·dv) + the Kᵀ and V blocks (Bc·(d + dv)) +
// S (Bs·Bc) floats, is sized to the L2 (blocking.hpp), while the Kᵀ panel in use (NR·d) and a
// V strip (Bc·PV_NR) stay in the L1d. Measured on a Zen 5 (L2 1 MiB; docs/performance.md): items
// of a third of that were 3-5 % slower, twice that within 2 %; only the blocks and the slice
// are reused across the item's rows, the rows of Q and O stream once per key block.
#pragma once

#include "fused/ukernels.hpp"

namespace attn::fused {

struct Tiling {
  Isa isa;
  int mr, nr, pv_nr;    ///< register tiles: Q Kᵀ is MR × NR, P V is MR × PV_NR
  int bc_d64, bc_wide;  ///< keys per block (a multiple of NR) for d <= 64 and d > 64
  int bs_d64, bs_wide;  ///< query rows per online-softmax slice (a multiple of MR), same split
  int split_rows;       ///< a query of at most this many rows per head may split its keys (decode)
};

// Bc and Bs: the sweeps in docs/performance.md ("Block sizes"). split_rows: the item size the
// split rule was written with (it must not follow the caches: splitting changes the sums).
// clang-format off
inline constexpr Tiling kTilings[] = {
    // isa          MR  NR PV_NR  Bc(d<=64) Bc(d>64)  Bs(d<=64) Bs(d>64)  split rows
    {Isa::scalar,    6, 16,  16,      64,      64,       24,      24,        96},
    {Isa::avx2,      6, 16,  16,     128,     256,       96,      96,       576},
    {Isa::avx512,    6, 32,  64,     128,     128,       96,     192,       576},
};
// clang-format on

constexpr const Tiling& tiling(Isa isa) {
  for (const Tiling& t : kTilings)
    if (t.isa == isa) return t;
  return kTilings[0];
}

}  // namespace attn::fused
