// A 64-byte aligned, uninitialised byte buffer owned by one attention() call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace attn {

class Workspace {
 public:
  Workspace() = default;
  /// nullptr-holding Workspace when the allocation fails (never throws).
  static Workspace allocate(std::size_t bytes) {
    Workspace w;
    if (bytes > SIZE_MAX - 63) return w;  // rounding up would wrap to a tiny allocation
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    w.ptr_.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded)));
    return w;
  }
  std::byte* get() const { return ptr_.get(); }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> ptr_;
};

}  // namespace attn
