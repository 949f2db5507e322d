#include "view_checks.hpp"

#include <algorithm>
#include <cstdio>

namespace attn::detail {

void fail(const std::string& what) {
  throw Error(what);
}

std::string shape_str(const std::array<i64, 4>& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
         std::to_string(s[3]) + "]";
}

std::string labelled(std::string_view name, DType t) {
  return t == DType::f32 ? std::string(name) : std::string(name) + " (" + to_string(t) + ")";
}

void fail_overflow(std::string_view what, DType dtype) {
  fail(labelled(what, dtype) + ": size product overflows int64");
}

void fail_dtype(std::string_view name, DType dtype) {
  fail(std::string(name) + ": dtype " + std::to_string(static_cast<int>(dtype)) +
       " is not a dtype (attn::DType: f32, f16, bf16)");
}

void fail_misaligned(std::string_view name, const void* data, DType dtype) {
  char address[32];
  std::snprintf(address, sizeof address, "%p", data);
  fail(labelled(name, dtype) + ": data " + address + " is not aligned to its " + std::to_string(size_of(dtype)) +
       "-byte " + to_string(dtype) + " elements");
}

// Sorted by stride, each stride must step over everything the smaller dimensions cover.
void check_strided_no_self_overlap(const AnyTensor& t, std::string_view name) {
  const auto& s = t.strides;
  std::array<int, 4> order{0, 1, 2, 3};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return s[a] != s[b] ? s[a] < s[b] : a > b; });
  i64 covered = 1;  // elements spanned by the dimensions visited so far
  for (int i : order) {
    if (t.shape[i] <= 1) continue;
    if (t.strides[i] < covered)
      fail(labelled(name, t.dtype) + ": strides " + shape_str(t.strides) + " make elements of shape " +
           shape_str(t.shape) + " overlap; an output must not alias itself");
    covered = t.strides[i] * (t.shape[i] - 1) + covered;
  }
}

}  // namespace attn::detail
