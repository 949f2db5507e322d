#include "cpu_caches.hpp"

#include <cpuid.h>
#include <unistd.h>

#include <cstring>

namespace attn::cpu {

namespace {

/// The deterministic cache parameters (Intel leaf 4 and AMD leaf 0x8000001D share the layout):
/// the size of each level's data or unified cache. False when the leaf describes no cache.
bool from_cache_leaf(unsigned leaf, Caches& out) {
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(leaf, sub, &a, &b, &c, &d)) break;
    const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
    if (type == 0) break;                  // no more caches
    if (type != 1 && type != 3) continue;  // instruction caches
    const std::size_t ways = ((b >> 22) & 0x3ff) + 1, partitions = ((b >> 12) & 0x3ff) + 1, line = (b & 0xfff) + 1,
                      sets = static_cast<std::size_t>(c) + 1, bytes = ways * partitions * line * sets;
    if (level == 1) out.l1d = bytes;
    if (level == 2) out.l2 = bytes;
    if (level == 3) out.l3 = bytes;
    any = true;
  }
  return any;
}

Caches detect() {
  Caches r;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4), std::memcpy(vendor + 4, &d, 4), std::memcpy(vendor + 8, &c, 4);
    const bool amd = std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
    if (!amd && a >= 4 && from_cache_leaf(4, r)) {
      r.source = "cpuid leaf 4";
      return r;
    }
    if (amd && from_cache_leaf(0x8000001d, r)) {
      r.source = "cpuid leaf 0x8000001d";
      return r;
    }
    if (amd && __get_cpuid(0x80000006, &a, &b, &c, &d)) {
      r.l2 = static_cast<std::size_t>(c >> 16) << 10;                                                // KiB
      r.l3 = static_cast<std::size_t>(d >> 18) << 19;                                                // 512 KiB units
      if (__get_cpuid(0x80000005, &a, &b, &c, &d)) r.l1d = static_cast<std::size_t>(c >> 24) << 10;  // KiB
      r.source = "cpuid leaves 0x80000005/6";
      return r;
    }
  }
  const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE),
             l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  r.l1d = l1 > 0 ? static_cast<std::size_t>(l1) : 0;
  r.l2 = l2 > 0 ? static_cast<std::size_t>(l2) : 0;
  r.l3 = l3 > 0 ? static_cast<std::size_t>(l3) : 0;
  if (r.l1d + r.l2 + r.l3 > 0) r.source = "sysconf";
  return r;
}

}  // namespace

const Caches& caches() noexcept {
  static const Caches c = detect();
  return c;
}

}  // namespace attn::cpu
