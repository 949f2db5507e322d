// Arrays on 64-byte boundaries for the data benchmarks stream through: a cache line, and the
// widest load the kernels issue. What a serving stack's KV cache or PyTorch's CPU allocator gives
// (64-byte aligned); std::vector's large blocks start 16 bytes into a page with glibc, where
// every AVX-512 load of a row straddles two lines (docs/performance.md, "Aligned K/V").
//
// Large arrays are on 2 MiB pages where Linux grants them (workload/pages.hpp): the K/V pool and
// the yardstick's buffer alike.
#pragma once

#include "workload/pages.hpp"

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace attnbench {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using AlignedArray = std::unique_ptr<T[], FreeDeleter>;

/// n uninitialised elements at a 64-byte boundary, on huge pages from 2 MiB (null when the
/// allocation fails).
template <class T>
AlignedArray<T> aligned_array(std::size_t n) {
  return AlignedArray<T>(static_cast<T*>(attnlab::allocate_streamed(n * sizeof(T))));
}

}  // namespace attnbench
