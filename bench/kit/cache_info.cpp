#include "cache_info.hpp"

#include "cpu_caches.hpp"

#include <algorithm>

namespace attnbench {

const L3Cache& l3_cache() {
  // The engine reads the caches from cpuid for its block sizes (cpu_caches.hpp): one detection.
  static const L3Cache l3{attn::cpu::caches().l3, attn::cpu::caches().l3 > 0 ? attn::cpu::caches().source : "unknown"};
  return l3;
}

std::size_t dram_buffer_bytes() {
  return std::max<std::size_t>(4 * l3_cache().bytes, std::size_t{512} << 20);
}

}  // namespace attnbench
