// A tensor's values in a 16-bit dtype, beside the fp32 values they were rounded from: what a
// test or benchmark hands a kernel as an f16 or bf16 tensor while its oracle reads the same
// rounded values in fp32. The conversions are attn/dtype.hpp's.
#pragma once

#include "workload/aligned_vector.hpp"

#include <attn/dtype.hpp>

#include <span>

namespace attnlab {

/// The 16-bit copy of one tensor (the vector of its dtype; both empty for f32), on a 64-byte
/// boundary as Inputs are.
struct Narrowed {
  AlignedVector<attn::f16> h;
  AlignedVector<attn::bf16> b;
  /// Rounds `values` to `t` in place and copies them into the vector of that dtype.
  void store(attn::DType t, std::span<float> values);
  /// Widens the copy into `values` (exact; nothing for f32).
  void load(attn::DType t, std::span<float> values) const;
  /// The data of the tensor of dtype t: the copy, or `values` for f32.
  const void* data(attn::DType t, std::span<const float> values) const;
  void* data(attn::DType t, std::span<float> values);
};

}  // namespace attnlab
