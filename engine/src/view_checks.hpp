// Validation of tensor views, shared by attention() and merge_partials(): every
// invalid view becomes an attn::Error that names the argument.
#pragma once

#include <attn/attention.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace attn::detail {

using i64 = std::int64_t;

[[noreturn]] void fail(const std::string& what);

/// "[a, b, c, d]".
std::string shape_str(const std::array<i64, 4>& s);

[[noreturn, gnu::cold, gnu::noinline]] void fail_overflow(std::string_view what);

/// a * b and a + b, or an Error naming `what` when they do not fit in int64. Inline, with the
/// message built out of line: validation runs on every call, the lab-sized ones included.
inline i64 checked_mul(i64 a, i64 b, std::string_view what) {
  i64 r = 0;
  if (__builtin_mul_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what);
  return r;
}
inline i64 checked_add(i64 a, i64 b, std::string_view what) {
  i64 r = 0;
  if (__builtin_add_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what);
  return r;
}

/// Byte range [lo, hi) that a view touches; empty when any dimension is 0.
struct Extent {
  std::uintptr_t lo = 0, hi = 0;
  bool empty() const { return lo == hi; }
  bool overlaps(const Extent& o) const { return !empty() && !o.empty() && lo < o.hi && o.lo < hi; }
};

/// Product of the dimensions (an Error naming `name` on overflow).
i64 element_count(const std::array<i64, 4>& shape, std::string_view name);

/// Checks shape, strides and data of one view and returns its byte extent. With
/// `data_required` false, a view whose data is null is checked for shape and strides only
/// (its extent is empty): validate() before the caller has allocated.
Extent check_view(const ConstTensor& t, std::string_view name, bool data_required = true);

/// An output view must not write one element twice.
void check_no_self_overlap(const Tensor& t, std::string_view name);

}  // namespace attn::detail
