// The last-level cache size, read from cpuid, so memory-bound benchmarks can size their
// data to come from DRAM (design.md §5: at least 4× the L3).
#pragma once

#include <cstddef>
#include <string>

namespace attnbench {

struct L3Cache {
  std::size_t bytes = 0;  ///< 0 when neither cpuid nor the OS reports one
  std::string source;     ///< "cpuid leaf 4", "cpuid leaf 0x8000001d", "sysconf", ...
};

/// The L3 of the core this runs on (per CCX on AMD Zen: the L3 one core's threads share).
const L3Cache& l3_cache();

/// Bytes a buffer must have to come from DRAM: 4× the L3, and at least 512 MiB. The floor is
/// measured: on the 2-core AMD EPYC VM where this was written (cpuid: L3 32 MiB), 128 MiB were
/// still read at cache speed (53 GB/s on 2 threads against 13 GB/s from 256 MiB up): a virtual
/// machine's cpuid need not show the host's whole cache.
std::size_t dram_buffer_bytes();

}  // namespace attnbench
