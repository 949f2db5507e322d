// Memory for the arrays that kernels stream through (K/V caches, the read-bandwidth yardstick's
// buffer): 64-byte aligned always, and large arrays on 2 MiB pages where Linux grants them.
//
// Why: on the 2-vCPU Zen 5 VM of docs/performance.md ("Huge pages"), benchmarks streaming
// gigabytes from 4 KiB pages had stretches of seconds at a thirtieth of their speed (about 5 µs
// per page read, spent outside the guest) in every process; on 2 MiB pages none, and otherwise
// the same speed. Serving stacks can keep KV caches so; the benchmarks and the command line do
// the same for their arrays, and the yardstick reads its buffer on the same pages as the kernels.
#pragma once

#include <cstddef>
#include <string>

namespace attnlab {

/// Arrays of at least this many bytes start on a 2 MiB boundary and ask for huge pages.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

/// `bytes` of uninitialised memory on a 64-byte boundary, or null when the allocation fails. From
/// kHugePageBytes up: on a 2 MiB boundary, advised MADV_HUGEPAGE (a hint: granted where
/// /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or "always"), unless ATTN_HUGE_PAGES=off.
/// Free it with std::free.
void* allocate_streamed(std::size_t bytes) noexcept;

/// What allocate_streamed does here, for benchmark contexts and reports: "2 MiB (THP madvise)",
/// "4 KiB (ATTN_HUGE_PAGES=off)", "4 KiB (THP never)" and the like.
std::string page_policy();

}  // namespace attnlab
