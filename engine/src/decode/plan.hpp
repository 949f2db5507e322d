// How a decode call is cut into work items, from the shape only (so the result is the same
// for any thread count), and when `auto` prefers the decode kernel.
#pragma once

#include "cpu_features.hpp"

#include <attn/kernels.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace attn::decode {

using i64 = std::int64_t;

/// Query rows that share one pass over a K/V head: the logit tile (kRowsPerPass × kTileKeys
/// floats, 2 KiB) and the per-row state live on the stack. A group with more rows takes
/// several passes (correct, but it reads K and V once per pass: `auto` does not pick decode then).
inline constexpr i64 kRowsPerPass = 16;
/// Keys per online-softmax step, at most: their K and V rows stay in L1 while every row tile
/// of the pass reads them (tile_keys).
inline constexpr i64 kTileKeys = 32;
/// K and V bytes of one step (their real size: 16-bit rows take twice the keys of fp32 ones)
/// for a pass of a few rows (at most kFewRows: one AVX-512 row tile, a GQA group of 4) on AVX2
/// and of more (and of a few on AVX-512). Measured on the Zen 5 of docs/performance.md (Nk 32768,
/// d = dv = 128, 1 thread, wall min of 2 × 2 interleaved runs, 2026-12-01): fp32 4-row passes 8
/// against 16 keys: H = 32 Hkv = 8 9.12-9.53 / 10.03-10.26 ms (AVX-512), H = 4 Hkv = 1 1.10 / 1.21
/// (AVX-512), 1.19-1.24 / 1.34-1.36 (AVX2); f16 4-row passes took 6.0 ms at 8 keys against
/// 4.3-4.4 at 16, so the budget is bytes, not keys. Passes of 8 and more rows do more per key and
/// want longer steps: f16 32 against 16 keys 4-9 % faster (AVX-512 and AVX2), fp32 16 against 32
/// keys level on AVX-512 and level to 13 % faster on AVX2, 16 against 8 keys level to 39 % faster.
/// Since the rows of the logits start a line apart (tile_stride), AVX-512's 4-row passes, which
/// load each K and V element once per pass (4-row tiles for both loops), are faster at 16 KiB
/// too: in cache 10-17 % (the step's fixed cost over twice the keys), from DRAM level; AVX2's
/// (2-row logits tiles: K read twice) stay at 8 KiB, where 16 KiB read f16 from DRAM 7 % slower
/// in a same-process A/B (docs/performance.md, "Longer steps for AVX-512 GQA passes").
inline constexpr i64 kFewRows = 4, kFewRowsTileBytes = 8 << 10, kTileBytes = 16 << 10;
/// Keys per step when the pass has one row (plain decode): its loops do little per key, so the
/// step's fixed cost (the softmax call, masking, loop set-up) weighs more; its logits fit the
/// same buffer (kOneRowTileKeys <= kRowsPerPass · kTileKeys). Measured on the Zen 5 of
/// docs/performance.md (Nk 32768, H = Hkv = 8, 1 thread, CPU time, 5 interleaved rounds):
/// 32 keys f32 8.56 ms, f16 4.61; 64: 8.12, 4.65; 128: 8.18, 4.29; 256: 8.32, 4.28.
inline constexpr i64 kOneRowTileKeys = 128;

/// Keys per step for a pass of `rows` rows over keys of `key_bytes` bytes (a K row and a V row
/// in their dtypes) with the loops of `isa`: a power of two dividing kTileKeys (so chunks stay
/// whole steps), at least 8. The step is fixed by the shape, the dtypes and the ISA: a 16-bit run
/// steps unlike an fp32 run on its widened values where the budget gives them other keys (then
/// their results differ in the last bits, each within the accuracy rule).
inline i64 tile_keys(i64 rows, i64 key_bytes, cpu::Isa isa) {
  if (rows == 1) return kOneRowTileKeys;
  const i64 budget = rows <= kFewRows && isa != cpu::Isa::avx512 ? kFewRowsTileBytes : kTileBytes;
  i64 keys = kTileKeys;
  while (keys > 8 && keys * key_bytes > budget) keys /= 2;
  return keys;
}
/// Floats in a 64-byte line. The rows of a step's logits (s) start at least a line apart
/// (tile_stride), in a 64-byte-aligned buffer: a step of 8 keys on AVX-512 (fp32 at d = 128 in an
/// 8 KiB budget, as 4-row passes stepped until 2026-12-02, or at d = 256 in 16 KiB) is half a
/// register, and the softmax step's masked loads and stores of one row, whose 64-byte footprint
/// overlapped the next row's at stride 8, waited for that row's stores: the step took 96 against
/// 52 ns at stride 16 (attn_bench_fused_ukernels softmax_block rows:4/n:8, Zen 5 of
/// docs/performance.md), the 4-row pass 17 % longer (decode/cached f32 Nk 4096, H 4, Hkv 1).
inline constexpr i64 kLineFloats = 16;
inline i64 tile_stride(i64 tile) {
  return std::max(tile, kLineFloats);
}
/// Registers of columns in the P·V tile of a pass of one row (kernels_simd.hpp): 128 columns on
/// AVX-512, 64 on AVX2; the columns of V that Loops::pv_scores reads beside K (half as many
/// where V's row is shorter: AVX-512 at d = 64).
inline constexpr int kOneRowPvVecs = 8;
/// How far ahead of the keys being computed their K and V rows are prefetched, in bytes of a
/// K row: one line per line read, spread over the loops, each loop its own stream. A distance
/// in bytes, not keys, so 16-bit K/V keep as many bytes in flight as fp32 (8 KiB: 16 keys of
/// fp32 at d = 128, 32 of f16). The look-ahead runs on past the item's chunk into the rest of
/// its K/V head, so a thread going on to the next chunk finds its first rows on the way.
/// Measured on the Zen 5 of docs/performance.md (decode section): 16-bit K/V at 16, 24, 32 keys
/// (4, 6, 8 KiB) got faster up to 6 KiB and level after; fp32 at 8, 16, 24 keys (4, 8, 12 KiB)
/// level from 8 KiB; prefetching into L2 (prefetcht1) far ahead, a second, farther L2 prefetch
/// next to this one, or every other line only: all slower. A pass of one row (its longer
/// tiles, kOneRowTileKeys) does better at 6 KiB: CPU time, Nk 32768, H = Hkv = 8, 6 interleaved
/// rounds, 1 and 2 threads, min: f32 8.60 / 8.50 ms at 8 KiB -> 8.32 / 8.45 at 6, f16 4.31 / 4.47
/// -> 4.32 / 4.36, bf16 4.45 / 4.49 -> 4.22 / 4.24; GQA groups at 6 KiB were slower (f16 H = 32:
/// 5.57 against 4.82 ms).
inline constexpr i64 kPrefetchBytes = 8 << 10, kOneRowPrefetchBytes = 6 << 10;
/// The distance in keys for a pass of `rows` rows over K elements of k_bytes bytes, head size d.
inline i64 prefetch_keys(i64 rows, i64 k_bytes, i64 d) {
  const i64 bytes = rows == 1 ? kOneRowPrefetchBytes : kPrefetchBytes;
  return std::clamp<i64>(bytes / std::max<i64>(d * k_bytes, 1), 1, 256);
}
/// Keys are split into chunks of at least kMinChunkKeys (at most kMaxChunks chunks), so two
/// threads share even one K/V head; merging costs O(chunks · dv) per row against reading
/// kMinChunkKeys·(d + dv) floats per chunk. A thread reads the chunks of a run of adjacent
/// items that belong to one pass of one row as one stream (driver.cpp, one_row_chunks), so a
/// chunk of 4 steps does not read its first K and last V alone.
inline constexpr i64 kMinChunkKeys = 512, kMaxChunks = 64;
/// About 20 µs of reading at memory speed: below it per thread, one thread is faster.
inline constexpr i64 kMinBytesPerThread = i64{1} << 18;
/// `auto` picks decode for at most this many query rows per K/V head, and at least this many keys
/// (shorter sequences are the fused kernel's tiny path: no workspace, nothing to stream).
inline constexpr i64 kAutoMaxGroupRows = 16, kAutoMinKeys = 32;

inline i64 ceil_div(i64 a, i64 b) {
  return (a + b - 1) / b;
}

struct Plan {
  i64 batch = 0, hkv = 0, group = 0, nq = 0, nk = 0, d = 0, dv = 0;
  i64 group_rows = 0;      ///< query rows reading one K/V head: (H / Hkv) · Nq
  i64 row_blocks = 0;      ///< passes per K/V head
  i64 chunk = 0;           ///< keys per chunk (a multiple of kTileKeys)
  i64 chunks = 1;          ///< 1: no split, the passes write the output directly
  i64 partial_stride = 0;  ///< floats per partial row: O (dv), m, l, rounded to 64 bytes
  i64 slots = 1;           ///< threads used
  i64 items() const { return batch * hkv * row_blocks * chunks; }
  std::size_t workspace_bytes() const {
    return chunks == 1 ? 0
                       : static_cast<std::size_t>(batch * hkv * group_rows * chunks * partial_stride) * sizeof(float);
  }
};

inline Plan make_plan(i64 B, i64 H, i64 Hkv, i64 nq, i64 nk, i64 d, i64 dv, int threads) {
  Plan p;
  p.batch = B, p.hkv = Hkv, p.group = H / Hkv, p.nq = nq, p.nk = nk, p.d = d, p.dv = dv;
  p.group_rows = p.group * nq;
  p.row_blocks = ceil_div(p.group_rows, kRowsPerPass);
  p.chunk = nk;
  if (nk >= 2 * kMinChunkKeys) {
    p.chunks = std::min(kMaxChunks, nk / kMinChunkKeys);
    p.chunk = ceil_div(ceil_div(nk, p.chunks), kTileKeys) * kTileKeys;
    p.chunks = ceil_div(nk, p.chunk);
  }
  p.partial_stride = ceil_div(dv + 2, 16) * 16;
  const i64 bytes = B * Hkv * p.row_blocks * nk * (d + dv) * static_cast<i64>(sizeof(float));
  p.slots = std::max<i64>(1, std::min<i64>({static_cast<i64>(threads), p.items(), bytes / kMinBytesPerThread}));
  return p;
}

/// KernelInfo::auto_when: few query rows per K/V head and more than a handful of keys.
inline bool prefers(const Problem& p) {
  return p.kv_heads > 0 && (p.heads / p.kv_heads) * p.q_len <= kAutoMaxGroupRows && p.kv_len >= kAutoMinKeys;
}

}  // namespace attn::decode
