// An .npy file's values held in one of the engine's dtypes (attn/dtype.hpp), so that
// `attnlab run` hands 16-bit data to attention() as it is, and rounds float32/float64 files
// to f16 or bf16 only when asked (--dtype).
#pragma once

#include "npy.hpp"

#include <attn/attention.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace attnlab {

struct TypedArray {
  std::vector<std::int64_t> shape;
  std::variant<AlignedVector<float>, AlignedVector<attn::f16>, AlignedVector<attn::bf16>>
      values;                          ///< on a 64-byte line
  npy::DType stored = npy::DType::f4;  ///< what the file held
  bool converted = false;              ///< values were rounded on reading (npy::BasicArray::converted)
  std::size_t overflowed = 0;          ///< finite values too large for the dtype (now +-inf)

  /// `n` zeros of `dtype` (an output buffer).
  static TypedArray zeros(attn::DType dtype, std::size_t n);
  /// `x` rounded to `dtype`, to nearest even (attn::to_f16, attn::to_bf16).
  static TypedArray rounded(attn::DType dtype, std::span<const float> x);

  attn::DType dtype() const;
  std::size_t size() const;
  /// Element i, widened to float32 (exact).
  float at(std::size_t i) const;
  /// Every element widened to float32.
  std::vector<float> widened() const;
  /// A dense view of the data as [B, H, N, D] = `shape4`.
  attn::AnyConstTensor view(const std::array<std::int64_t, 4>& shape4) const;
  attn::AnyTensor mutable_view(const std::array<std::int64_t, 4>& shape4);
  /// The data as a mask pointer (its rows and columns are the caller's).
  attn::AnyConstPtr pointer() const;
};

/// The dtype a file's values keep when none is asked for: float16 files f16, the others f32.
attn::DType natural_dtype(npy::DType stored);

/// Reads `path` as `dtype` (npy::read_as: float64 through float32, rounding to nearest even).
/// Throws npy::Error naming the path.
TypedArray read_typed(const std::string& path, attn::DType dtype);

/// Writes `a` as a '<f4' or '<f2' .npy of `shape`, atomically. bf16 has no NumPy dtype: a bf16
/// array is refused with std::invalid_argument (write it widened, as f32).
void write_typed(const std::string& path, const TypedArray& a, std::span<const std::int64_t> shape);

}  // namespace attnlab
