#include "memory_probe.hpp"

#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace attnbench {

namespace {

/// A "VmRSS:   1234 kB" style field of /proc/self/status, in bytes (0 if absent).
std::size_t status_bytes(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::stoull(line.substr(n + 1)) * 1024;
  return 0;
}

bool reset_peak() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

void pin_malloc_to_mmap() {
  // Setting the threshold explicitly also turns off glibc's dynamic raising of it.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

std::optional<CallMemory> measure_call_memory(const std::function<void()>& call) {
  if (!reset_peak()) {
    call();
    return std::nullopt;
  }
  CallMemory m;
  m.rss_before = status_bytes("VmRSS");
  call();
  m.rss_peak = status_bytes("VmHWM");
  if (m.rss_before == 0 || m.rss_peak == 0) return std::nullopt;
  return m;
}

}  // namespace attnbench
