// The machine's read bandwidth from DRAM, the yardstick of memory-bound kernels (decode):
// a streaming sum over a buffer of dram_buffer_bytes() (4× the L3 from cpuid), with and
// without software prefetches, in one stream and in several side by side, measured in process,
// once per thread count, the best of a few passes (other processes only lower it).
#pragma once

#include <cstddef>

namespace attnbench {

/// Buffer bytes read per second by `threads` OpenMP threads, each summing its slice. Measured
/// on first use for that thread count (about a second), then cached. Smoke profile: a 1 MiB
/// buffer, which exercises the code and measures a cache.
double read_bandwidth_gbs(int threads);

/// One pass over the shared buffer by `threads` threads, the way that read fastest in
/// read_bandwidth_gbs: {bytes read, seconds taken} (bytes 0 when the buffer could not be
/// allocated). For a benchmark of the yardstick itself.
struct ReadPass {
  double bytes = 0, seconds = 0;
  int streams = 1;            ///< the way: streams read side by side per thread
  double prefetch_bytes = 0;  ///< and how far ahead it prefetched (0: not)
};
ReadPass read_pass(int threads);

/// The same yardstick over memory the caller owns, such as a benchmark's own inputs: the best
/// pass of every way, a few rounds, by `threads` threads over the `bytes` at data (about 15
/// passes; not cached). Why: one process may place two large buffers on memory that reads up to
/// 12 % apart (docs/performance.md), so a kernel's share of a buffer of the yardstick's own
/// compares placements as well as loops. The bytes are summed as floats whatever they hold (only
/// their reading counts): keep them free of denormals, which some CPUs add slowly (random fp32
/// values do; so do f16 and bf16 values of magnitude below 2, read in pairs).
double read_bandwidth_gbs_over(const void* data, std::size_t bytes, int threads);

}  // namespace attnbench
