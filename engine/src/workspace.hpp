// The workspace of one attention() call: a 64-byte aligned, uninitialised byte buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace attn {

class Workspace {
 public:
  /// Buffers up to this size are kept per calling thread and reused by its next call. A fresh
  /// multi-megabyte allocation is mapped anew by malloc and page-faults on first touch (measured:
  /// ~235 faults per llm-1024 call on 2 threads, several percent of the call); larger workspaces
  /// (blas's score matrices) are allocated and freed per call so no call keeps gigabytes alive.
  static constexpr std::size_t kCachedBytes = std::size_t{16} << 20;

  Workspace() = default;

  /// An owned buffer of at least `bytes`; nullptr-holding when the allocation fails (never throws).
  static Workspace allocate(std::size_t bytes) {
    Workspace w;
    w.owned_.reset(aligned(bytes));
    w.ptr_ = w.owned_.get();
    return w;
  }

  /// At least `bytes` for this call: this thread's cached buffer when `bytes` <= kCachedBytes
  /// (grown as needed, kept after the call), else an owned one. nullptr-holding on failure.
  static Workspace acquire(std::size_t bytes) {
    if (bytes > kCachedBytes) return allocate(bytes);
    Cache& cache = thread_cache();
    if (cache.size < bytes) {
      cache.buffer.reset();  // free first: the old and the new buffer need not coexist
      cache.size = 0;
      cache.buffer.reset(aligned(bytes));
      if (!cache.buffer) return Workspace{};
      cache.size = bytes;
    }
    Workspace w;
    w.ptr_ = cache.buffer.get();
    return w;
  }

  /// Frees this thread's cached buffer.
  static void release_cache() {
    Cache& cache = thread_cache();
    cache.buffer.reset();
    cache.size = 0;
  }

  std::byte* get() const { return ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  using Buffer = std::unique_ptr<std::byte, Free>;
  struct Cache {
    Buffer buffer;
    std::size_t size = 0;
  };

  static Cache& thread_cache() {
    thread_local Cache cache;
    return cache;
  }

  static std::byte* aligned(std::size_t bytes) {
    if (bytes > SIZE_MAX - 63) return nullptr;  // rounding up would wrap to a tiny allocation
    return static_cast<std::byte*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  }

  Buffer owned_;              ///< set when this call owns its buffer
  std::byte* ptr_ = nullptr;  ///< the buffer: owned_ or this thread's cache
};

}  // namespace attn
