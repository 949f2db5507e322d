#include "workload/pages.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace attnlab {

namespace {

bool huge_pages_off() {
  const char* v = std::getenv("ATTN_HUGE_PAGES");
  return v && (std::strcmp(v, "off") == 0 || std::strcmp(v, "0") == 0);
}

/// The bracketed word of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"),
/// or "" where there is none (not Linux, no THP).
std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close == std::string::npos ? std::string{}
                                                                 : line.substr(open + 1, close - open - 1);
}

}  // namespace

void* allocate_streamed(std::size_t bytes) noexcept {
  if (bytes > static_cast<std::size_t>(-1) - kHugePageBytes) return nullptr;  // rounding up would wrap
  const bool huge = bytes >= kHugePageBytes && !huge_pages_off();
  const std::size_t alignment = huge ? kHugePageBytes : 64;
  // aligned_alloc wants a whole number of alignments, and at least one (a size of 0 may give null).
  const std::size_t rounded = std::max<std::size_t>(1, (bytes + alignment - 1) / alignment) * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
#if defined(MADV_HUGEPAGE)
  if (huge && p) madvise(p, rounded, MADV_HUGEPAGE);  // a hint; pages come on first touch
#endif
  return p;
}

std::string page_policy() {
  if (huge_pages_off()) return "4 KiB (ATTN_HUGE_PAGES=off)";
  const std::string mode = thp_mode();
  if (mode == "always" || mode == "madvise") return "2 MiB from 2 MiB up (THP " + mode + ")";
  return "4 KiB (THP " + (mode.empty() ? std::string("unavailable") : mode) + ")";
}

}  // namespace attnlab
