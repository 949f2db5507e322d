// std::vector whose elements start on a 64-byte boundary (a cache line, an AVX-512 register):
// where the command line and the benchmarks keep Q, K, V and O, so kernels that read rows in
// place (decode) are timed on the layout a KV cache has (docs/api.md, "Tensors"), not on the
// 16-bytes-into-a-line blocks glibc gives large std::vectors.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace attnlab {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};

  CacheLineAllocator() noexcept = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace attnlab
