// Streaming read loops: the machine's read bandwidth (read_bandwidth.hpp), one per ISA.
//
// Each sums a buffer with the widest loads the ISA has, several accumulators deep (an add's
// latency never waits), optionally asking for the line `ahead` floats further on as it goes.
// One ISA per translation unit, compiled with its own flags and called only when cpuid (lowered
// by ATTN_ISA) says the engine's kernels may use it: the yardstick is read the way those
// kernels can read. Measured on the Zen 5 of docs/performance.md (1 thread, 512 MiB, best of 4
// passes, 2026-12-01): a 16-byte-load sum read 31.6-34.6 GB/s, 256-bit loads 37.3-39.0, 512-bit
// 39.0-39.6, while decode's loops read 38-39 GB/s of 16-bit K/V: a narrow sum is not the most
// a core can read.
#pragma once

#include <cstddef>

namespace attnbench {

/// Σ x[0..n) in some order (so no load can be removed), read as `streams` (>= 1) equal parts
/// side by side, a few lines of each in turn (256 bytes; the plain loop 128), since a memory
/// system may serve several streams faster than one; the elements left over after them last.
/// Prefetches x[i + ahead] alongside x[i] when ahead > 0, never past x[n − 1] (a hint: never
/// dereferenced).
using ReadLoop = float (*)(const float* x, std::size_t n, std::size_t ahead, int streams);

float read_loop_plain(const float* x, std::size_t n, std::size_t ahead, int streams);  ///< no ISA flags
float read_loop_avx2(const float* x, std::size_t n, std::size_t ahead, int streams);
float read_loop_avx512(const float* x, std::size_t n, std::size_t ahead, int streams);

/// The widest loop the engine's kernels may use here (attn::cpu_info(): cpuid, lowered by ATTN_ISA).
ReadLoop best_read_loop();

}  // namespace attnbench
