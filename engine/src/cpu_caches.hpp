// The data caches of the core this runs on, read from cpuid once: the fused kernel sizes its
// work items from them (fused/tiling.hpp), the benchmarks size their DRAM buffers from the L3.
#pragma once

#include <cstddef>

namespace attn::cpu {

struct Caches {
  std::size_t l1d = 0;  ///< bytes of level-1 data cache per core; 0 when unknown
  std::size_t l2 = 0;   ///< bytes of level-2 cache per core; 0 when unknown
  std::size_t l3 = 0;   ///< bytes of level-3 cache the core's threads share (per CCX on AMD Zen); 0 when unknown
  const char* source = "unknown";  ///< "cpuid leaf 4", "cpuid leaf 0x8000001d", "sysconf", ...
};

/// Detected on first use, thread-safely: Intel's cpuid leaf 4, AMD's leaf 0x8000001D (the same
/// layout), AMD's older leaves 0x80000005/6, then sysconf. A level cpuid does not describe stays 0.
const Caches& caches() noexcept;

}  // namespace attn::cpu
