#include "view_checks.hpp"

#include <algorithm>
#include <limits>

namespace attn::detail {

void fail(const std::string& what) {
  throw Error(what);
}

std::string shape_str(const std::array<i64, 4>& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
         std::to_string(s[3]) + "]";
}

void fail_overflow(std::string_view what) {
  fail(std::string(what) + ": size product overflows int64");
}

i64 element_count(const std::array<i64, 4>& shape, std::string_view name) {
  i64 n = 1;
  for (i64 s : shape) n = checked_mul(n, s, name);
  return n;
}

Extent check_view(const ConstTensor& t, std::string_view name, bool data_required) {
  for (int i = 0; i < 4; ++i) {
    if (t.shape[i] < 0)
      fail(std::string(name) + ": dimension " + std::to_string(i) + " is negative (shape " + shape_str(t.shape) + ")");
    if (t.strides[i] < 0)
      fail(std::string(name) + ": stride " + std::to_string(i) + " is negative (strides " + shape_str(t.strides) +
           "); only non-negative strides are supported");
  }
  const i64 count = element_count(t.shape, name);
  checked_mul(count, static_cast<i64>(sizeof(float)), name);
  if (count == 0) return {};
  if (t.data == nullptr && data_required)
    fail(std::string(name) + ": data is null but the shape " + shape_str(t.shape) + " is not empty");
  if (t.strides[3] != 1 && t.shape[3] > 1)
    fail(std::string(name) + ": the last dimension must be contiguous (stride 1), got stride " +
         std::to_string(t.strides[3]));
  i64 last = 0;  // offset of the last element, in elements
  for (int i = 0; i < 4; ++i) last = checked_add(last, checked_mul(t.shape[i] - 1, t.strides[i], name), name);
  const i64 bytes = checked_mul(checked_add(last, 1, name), static_cast<i64>(sizeof(float)), name);
  if (t.data == nullptr) return {};  // shape and strides only (data_required is false)
  const auto lo = reinterpret_cast<std::uintptr_t>(t.data);
  if (lo > std::numeric_limits<std::uintptr_t>::max() - static_cast<std::uintptr_t>(bytes))
    fail(std::string(name) + ": the view runs past the end of the address space");
  return {lo, lo + static_cast<std::uintptr_t>(bytes)};
}

// Sorted by stride, each stride must step over everything the smaller dimensions cover.
void check_no_self_overlap(const Tensor& t, std::string_view name) {
  // An empty view writes nothing (and its strides were never bounded by check_view).
  if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) return;
  // The common case, a dense row-major view, cannot overlap itself.
  const auto& s = t.strides;
  if (s[3] == 1 && s[2] == t.shape[3] && s[1] == t.shape[2] * s[2] && s[0] == t.shape[1] * s[1]) return;
  std::array<int, 4> order{0, 1, 2, 3};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return s[a] != s[b] ? s[a] < s[b] : a > b; });
  i64 covered = 1;  // elements spanned by the dimensions visited so far
  for (int i : order) {
    if (t.shape[i] <= 1) continue;
    if (t.strides[i] < covered)
      fail(std::string(name) + ": strides " + shape_str(t.strides) + " make elements of shape " + shape_str(t.shape) +
           " overlap; an output must not alias itself");
    covered = t.strides[i] * (t.shape[i] - 1) + covered;
  }
}

}  // namespace attn::detail
