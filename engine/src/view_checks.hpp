// Validation of tensor views, shared by attention() and merge_partials(): every
// invalid view (of any dtype) becomes an attn::Error that names the argument, and its dtype
// when that is 16-bit: "k (f16): ..." (fp32, the default, is not named: "k: ...").
#pragma once

#include <attn/attention.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace attn::detail {

using i64 = std::int64_t;

[[noreturn]] void fail(const std::string& what);

/// "[a, b, c, d]".
std::string shape_str(const std::array<i64, 4>& s);

/// How a message names argument `name` of dtype t: "k" for f32, "k (f16)", "out (bf16)".
std::string labelled(std::string_view name, DType t);

[[noreturn, gnu::cold, gnu::noinline]] void fail_overflow(std::string_view what, DType dtype = DType::f32);
/// "q: dtype 7 is not a dtype (f32, f16, bf16)".
[[noreturn, gnu::cold, gnu::noinline]] void fail_dtype(std::string_view name, DType dtype);
/// "k: data 0x... is not aligned to its 2-byte f16 elements".
[[noreturn, gnu::cold, gnu::noinline]] void fail_misaligned(std::string_view name, const void* data, DType dtype);

/// a * b and a + b, or an Error naming `what` when they do not fit in int64. Inline, with the
/// message built out of line: validation runs on every call, the lab-sized ones included.
/// `dtype`: the argument's, for the message.
inline i64 checked_mul(i64 a, i64 b, std::string_view what, DType dtype = DType::f32) {
  i64 r = 0;
  if (__builtin_mul_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what, dtype);
  return r;
}
inline i64 checked_add(i64 a, i64 b, std::string_view what, DType dtype = DType::f32) {
  i64 r = 0;
  if (__builtin_add_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what, dtype);
  return r;
}

/// Byte range [lo, hi) that a view touches; empty when any dimension is 0.
struct Extent {
  std::uintptr_t lo = 0, hi = 0;
  bool empty() const { return lo == hi; }
  bool overlaps(const Extent& o) const { return !empty() && !o.empty() && lo < o.hi && o.lo < hi; }
};

/// Product of the dimensions (an Error naming `name` on overflow).
inline i64 element_count(const std::array<i64, 4>& shape, std::string_view name, DType dtype = DType::f32) {
  i64 n = 1;
  for (i64 s : shape) n = checked_mul(n, s, name, dtype);
  return n;
}

/// Checks shape, strides and data of one view and returns its byte extent. With
/// `data_required` false, a view whose data is null is checked for shape and strides only
/// (its extent is empty): validate() before the caller has allocated. Inline: it runs five
/// times per call, the lab-sized ones included; the messages are built out of line.
inline Extent check_view(const AnyConstTensor& t, std::string_view name, bool data_required = true) {
  const DType dtype = t.dtype;
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16) [[unlikely]]
    fail_dtype(name, dtype);
  const i64 element = static_cast<i64>(size_of(dtype));
  for (int i = 0; i < 4; ++i) {
    if (t.shape[i] < 0)
      fail(labelled(name, dtype) + ": dimension " + std::to_string(i) + " is negative (shape " + shape_str(t.shape) +
           ")");
    if (t.strides[i] < 0)
      fail(labelled(name, dtype) + ": stride " + std::to_string(i) + " is negative (strides " + shape_str(t.strides) +
           "); only non-negative strides are supported");
  }
  const i64 count = element_count(t.shape, name, dtype);
  checked_mul(count, element, name, dtype);
  if (count == 0) return {};
  if (t.data == nullptr && data_required)
    fail(labelled(name, dtype) + ": data is null but the shape " + shape_str(t.shape) + " is not empty");
  if (reinterpret_cast<std::uintptr_t>(t.data) % static_cast<std::uintptr_t>(element) != 0) [[unlikely]]
    fail_misaligned(name, t.data, dtype);
  if (t.strides[3] != 1 && t.shape[3] > 1)
    fail(labelled(name, dtype) + ": the last dimension must be contiguous (stride 1), got stride " +
         std::to_string(t.strides[3]));
  i64 last = 0;  // offset of the last element, in elements
  for (int i = 0; i < 4; ++i)
    last = checked_add(last, checked_mul(t.shape[i] - 1, t.strides[i], name, dtype), name, dtype);
  const i64 bytes = checked_mul(checked_add(last, 1, name, dtype), element, name, dtype);
  if (t.data == nullptr) return {};  // shape and strides only (data_required is false)
  const auto lo = reinterpret_cast<std::uintptr_t>(t.data);
  if (lo > std::numeric_limits<std::uintptr_t>::max() - static_cast<std::uintptr_t>(bytes))
    fail(labelled(name, dtype) + ": the view runs past the end of the address space");
  return {lo, lo + static_cast<std::uintptr_t>(bytes)};
}

void check_strided_no_self_overlap(const AnyTensor& t, std::string_view name);

/// An output view must not write one element twice.
inline void check_no_self_overlap(const AnyTensor& t, std::string_view name) {
  // An empty view writes nothing (and its strides were never bounded by check_view).
  if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) return;
  // The common case, a dense row-major view, cannot overlap itself.
  const auto& s = t.strides;
  if (s[3] == 1 && s[2] == t.shape[3] && s[1] == t.shape[2] * s[2] && s[0] == t.shape[1] * s[1]) return;
  check_strided_no_self_overlap(t, name);
}

}  // namespace attn::detail
