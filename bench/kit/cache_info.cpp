#include "cache_info.hpp"

#include <cpuid.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace attnbench {

namespace {

/// The deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001D share the layout):
/// the size of the level-3 data or unified cache, or 0.
std::size_t l3_from_cache_leaf(unsigned leaf) {
  for (unsigned sub = 0; sub < 16; ++sub) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(leaf, sub, &a, &b, &c, &d)) return 0;
    const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
    if (type == 0) return 0;  // no more caches
    if (level == 3 && (type == 1 || type == 3)) {
      const std::size_t ways = ((b >> 22) & 0x3ff) + 1, partitions = ((b >> 12) & 0x3ff) + 1, line = (b & 0xfff) + 1,
                        sets = static_cast<std::size_t>(c) + 1;
      return ways * partitions * line * sets;
    }
  }
  return 0;
}

L3Cache detect() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4), std::memcpy(vendor + 4, &d, 4), std::memcpy(vendor + 8, &c, 4);
    const bool amd = std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
    if (!amd && a >= 4)
      if (const std::size_t s = l3_from_cache_leaf(4)) return {s, "cpuid leaf 4"};
    if (amd) {
      if (const std::size_t s = l3_from_cache_leaf(0x8000001d)) return {s, "cpuid leaf 0x8000001d"};
      if (__get_cpuid(0x80000006, &a, &b, &c, &d) && (d >> 18) != 0)  // L3 in 512 KiB units
        return {static_cast<std::size_t>(d >> 18) * (512 << 10), "cpuid leaf 0x80000006"};
    }
  }
  if (const long s = sysconf(_SC_LEVEL3_CACHE_SIZE); s > 0) return {static_cast<std::size_t>(s), "sysconf"};
  return {0, "unknown"};
}

}  // namespace

const L3Cache& l3_cache() {
  static const L3Cache l3 = detect();
  return l3;
}

std::size_t dram_buffer_bytes() {
  return std::max<std::size_t>(4 * l3_cache().bytes, std::size_t{512} << 20);
}

}  // namespace attnbench
