// Element types of attention tensors: fp32, and the two 16-bit storage formats real KV
// caches are kept in. A 16-bit value is only storage: every kernel widens it to fp32 on
// load and keeps its accumulators, row maxima and row sums in fp32.
//
//   f16   IEEE 754 binary16: 1 sign, 5 exponent, 10 fraction bits; max 65504, 2^-24 subnormal.
//   bf16  bfloat16: the top 16 bits of an fp32 (8 exponent, 7 fraction bits); fp32's range.
//
// Narrowing (to_f16, to_bf16) rounds to nearest, ties to even, as NumPy's astype and
// PyTorch's .to() do: finite values past the format's range become ±inf, NaN stays NaN
// (quiet, sign kept). Widening (to_float) is exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

namespace attn {

enum class DType : std::uint8_t { f32, f16, bf16 };

/// IEEE binary16 storage (the bits; no arithmetic).
struct f16 {
  std::uint16_t bits = 0;
  friend bool operator==(f16, f16) = default;
};
/// bfloat16 storage (the bits; no arithmetic).
struct bf16 {
  std::uint16_t bits = 0;
  friend bool operator==(bf16, bf16) = default;
};

namespace dtype_detail {
template <class T>
struct dtype_of;  // only the three element types below have one
template <>
struct dtype_of<float> : std::integral_constant<DType, DType::f32> {};
template <>
struct dtype_of<f16> : std::integral_constant<DType, DType::f16> {};
template <>
struct dtype_of<bf16> : std::integral_constant<DType, DType::bf16> {};
}  // namespace dtype_detail

/// The DType of an element type: dtype_of<float>, dtype_of<const f16>, ...
template <class T>
inline constexpr DType dtype_of = dtype_detail::dtype_of<std::remove_cv_t<T>>::value;

/// Bytes per element.
constexpr std::size_t size_of(DType t) {
  return t == DType::f32 ? 4 : 2;
}

/// "f32", "f16", "bf16": the names the CLI, the bench JSON and Python use.
constexpr const char* to_string(DType t) {
  return t == DType::f32 ? "f32" : t == DType::f16 ? "f16" : "bf16";
}

/// The DType called `name` ("f32", "f16", "bf16"; also "float32", "float16", "bfloat16",
/// "fp32", "fp16"), or nullopt.
constexpr std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return DType::f32;
  if (name == "f16" || name == "fp16" || name == "float16") return DType::f16;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  return std::nullopt;
}

namespace dtype_detail {
inline std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
}  // namespace dtype_detail

/// Exact.
inline float to_float(bf16 h) {
  return dtype_detail::float_of(static_cast<std::uint32_t>(h.bits) << 16);
}

/// Exact (every binary16 value, subnormals included, is an fp32 value).
inline float to_float(f16 h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu, fraction = h.bits & 0x3ffu;
  if (exponent == 0x1f)  // inf, NaN (payload kept in the top fraction bits)
    return dtype_detail::float_of(sign | 0x7f800000u | fraction << 13);
  if (exponent != 0)  // normal: rebias 15 -> 127
    return dtype_detail::float_of(sign | (exponent + 112) << 23 | fraction << 13);
  // Zero and subnormals: fraction · 2^-24, exact in fp32.
  const float magnitude = static_cast<float>(fraction) * 0x1p-24f;
  return dtype_detail::float_of(sign | dtype_detail::bits_of(magnitude));
}

inline float to_float(float x) {
  return x;
}

/// Round to nearest, ties to even; overflow to ±inf; NaN stays a (quiet) NaN.
inline bf16 to_bf16(float x) {
  const std::uint32_t u = dtype_detail::bits_of(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40u)};  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<std::uint16_t>((u + rounding) >> 16)};
}

/// Round to nearest, ties to even; |x| >= 65520 becomes ±inf; below 2^-25 rounds to ±0;
/// NaN stays a (quiet) NaN.
inline f16 to_f16(float x) {
  const std::uint32_t u = dtype_detail::bits_of(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};  // NaN
  if (a >= 0x477ff000u) return {static_cast<std::uint16_t>(sign | 0x7c00u)};  // >= 65520: rounds to inf
  if (a >= 0x38800000u) {                                                     // normal in binary16 (>= 2^-14)
    const std::uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);
    return {static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13))};
  }
  // Subnormal or zero in binary16: the multiple of 2^-24 nearest |x|. |x| · 2^24 < 2^10 is
  // exact in fp32, and adding 2^23 rounds it to an integer (ties to even) in the low bits.
  const float scaled = dtype_detail::float_of(a) * 0x1p24f + 0x1p23f;
  return {static_cast<std::uint16_t>(sign | (dtype_detail::bits_of(scaled) & 0x7ffu))};
}

/// x as an element of type T: float unchanged, f16 and bf16 rounded to nearest even.
template <class T>
inline T from_float(float x) {
  if constexpr (std::is_same_v<T, f16>)
    return to_f16(x);
  else if constexpr (std::is_same_v<T, bf16>)
    return to_bf16(x);
  else
    return static_cast<float>(x);
}

/// Rounds an fp32 value to `t` and back (the value a tensor of that dtype would hold).
inline float round_to(DType t, float x) {
  return t == DType::f16 ? to_float(to_f16(x)) : t == DType::bf16 ? to_float(to_bf16(x)) : x;
}

}  // namespace attn
