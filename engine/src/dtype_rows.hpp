// Elements of any dtype in the engine's generic (non-SIMD) code: one dispatch from a DType to
// its element type, and the one narrowing of an fp32 value to an element (attn/dtype.hpp:
// widening by to_float is exact, narrowing rounds to nearest even).
#pragma once

#include <attn/attention.hpp>

#include <cstdint>
#include <type_traits>

namespace attn::detail {

/// f(T{}) with T the element type of `t` (float, f16 or bf16).
template <class F>
decltype(auto) with_element(DType t, F&& f) {
  if (t == DType::f16) return f(f16{});
  if (t == DType::bf16) return f(bf16{});
  return f(float{});
}

/// x as an element of type T (attn::from_float: fp32 unchanged, 16-bit rounded to nearest even).
template <class T>
inline T narrow(float x) {
  return from_float<T>(x);
}

/// Row n of head (b, h) of `t` as a pointer to its elements of type T (T is t's dtype).
template <class T>
inline const T* row_of(const AnyConstTensor& t, std::int64_t b, std::int64_t h, std::int64_t n) {
  return t.as<T>().row(b, h, n);
}
template <class T>
inline T* row_of(const AnyTensor& t, std::int64_t b, std::int64_t h, std::int64_t n) {
  return t.as<T>().row(b, h, n);
}

/// dst[0, n) = src[0, n) narrowed to dst's dtype: row (b, h, i) of `out`.
inline void store_row(const float* src, const AnyTensor& out, std::int64_t b, std::int64_t h, std::int64_t i,
                      std::int64_t n) {
  with_element(out.dtype, [&]<class T>(T) {
    T* dst = row_of<T>(out, b, h, i);
    for (std::int64_t t = 0; t < n; ++t) dst[t] = narrow<T>(src[t]);
  });
}

/// The mask's entry (i, j) widened to fp32 (any dtype; for the rare paths, not the inner loops).
inline float mask_at(const Mask& m, std::int64_t i, std::int64_t j) {
  return with_element(m.data.dtype, [&]<class T>(T) { return to_float((m.data + i * m.row_stride).as<T>()[j]); });
}

}  // namespace attn::detail
