// std::vector whose elements start on a 64-byte boundary (a cache line, an AVX-512 register),
// and large ones on 2 MiB pages where Linux grants them (workload/pages.hpp): where the command
// line and the benchmarks keep Q, K, V and O, so kernels that read rows in place (decode) are
// timed on the layout and the pages a KV cache has (docs/api.md, "Tensors"), not on the
// 16-bytes-into-a-line, 4 KiB-page blocks glibc gives large std::vectors.
#pragma once

#include "workload/pages.hpp"

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace attnlab {

template <class T>
struct StreamAllocator {
  using value_type = T;

  StreamAllocator() noexcept = default;
  template <class U>
  StreamAllocator(const StreamAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    if (void* p = allocate_streamed(n * sizeof(T))) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const StreamAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, StreamAllocator<T>>;

}  // namespace attnlab
