// Peak resident memory of one call, measured, not claimed.
//
// Method: write "5" to /proc/self/clear_refs (Linux >= 4.0), which resets the
// process's peak RSS (VmHWM) to its current RSS; read VmRSS; make the call;
// read VmHWM. The difference is the memory the call made resident at its peak:
// workspace, score matrices, library buffers, pages first touched. So that a
// freed buffer is returned to the kernel instead of being kept (and silently
// reused) by malloc, pin_malloc_to_mmap() fixes glibc's mmap threshold at
// 64 KiB: every larger allocation is a fresh mapping, unmapped on free.
// What it cannot see: memory already resident before the call (OpenMP thread
// stacks created by an earlier call, OpenBLAS's start-up buffers). Resolution:
// Linux folds each thread's RSS counter into the process's every 64 page
// faults, so a reading can be off by 64 pages (256 KiB) per thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>

namespace attnbench {

struct CallMemory {
  std::size_t rss_before = 0;  ///< bytes resident just before the call
  std::size_t rss_peak = 0;    ///< peak bytes resident during the call
  std::size_t growth() const { return rss_peak > rss_before ? rss_peak - rss_before : 0; }
};

/// Makes large allocations fresh mappings (see above). Call once, early.
void pin_malloc_to_mmap();

/// Runs `call` and measures it; std::nullopt (the call still runs) where the
/// kernel does not let this process reset its peak.
std::optional<CallMemory> measure_call_memory(const std::function<void()>& call);

}  // namespace attnbench
