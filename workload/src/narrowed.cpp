#include "workload/narrowed.hpp"

#include <algorithm>
#include <iterator>

namespace attnlab {

using attn::DType;

void Narrowed::store(DType t, std::span<float> values) {
  for (float& x : values) x = attn::round_to(t, x);
  h.clear(), b.clear();
  if (t == DType::f16) std::transform(values.begin(), values.end(), std::back_inserter(h), attn::to_f16);
  if (t == DType::bf16) std::transform(values.begin(), values.end(), std::back_inserter(b), attn::to_bf16);
}

void Narrowed::load(DType t, std::span<float> values) const {
  auto widen = [](auto x) { return attn::to_float(x); };
  if (t == DType::f16) std::transform(h.begin(), h.end(), values.begin(), widen);
  if (t == DType::bf16) std::transform(b.begin(), b.end(), values.begin(), widen);
}

const void* Narrowed::data(DType t, std::span<const float> values) const {
  return t == DType::f16    ? static_cast<const void*>(h.data())
         : t == DType::bf16 ? static_cast<const void*>(b.data())
                            : static_cast<const void*>(values.data());
}

void* Narrowed::data(DType t, std::span<float> values) {
  return t == DType::f16    ? static_cast<void*>(h.data())
         : t == DType::bf16 ? static_cast<void*>(b.data())
                            : values.data();
}

}  // namespace attnlab
