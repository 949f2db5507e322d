// .npy values in an engine dtype (typed_array.hpp).
#include "typed_array.hpp"

#include <stdexcept>
#include <type_traits>

namespace attnlab {

namespace {

template <class T>
TypedArray from(npy::BasicArray<T>&& a) {
  TypedArray t;
  t.shape = std::move(a.shape);
  t.values = std::move(a.data);
  t.stored = a.stored;
  t.converted = a.converted;
  t.overflowed = a.overflowed;
  return t;
}

/// A dense [B, H, N, D] view of `p` (strides from the shape).
template <class View, class P>
View dense(P p, attn::DType dtype, const std::array<std::int64_t, 4>& s) {
  View v;
  v.data = p;
  v.dtype = dtype;
  v.shape = s;
  v.strides = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  return v;
}

}  // namespace

TypedArray TypedArray::zeros(attn::DType dtype, std::size_t n) {
  TypedArray t;
  t.shape = {static_cast<std::int64_t>(n)};
  if (dtype == attn::DType::f16)
    t.values = AlignedVector<attn::f16>(n);
  else if (dtype == attn::DType::bf16)
    t.values = AlignedVector<attn::bf16>(n);
  else
    t.values = AlignedVector<float>(n);
  return t;
}

TypedArray TypedArray::rounded(attn::DType dtype, std::span<const float> x) {
  TypedArray t = zeros(dtype, x.size());
  std::visit(
      [x](auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        for (std::size_t i = 0; i < x.size(); ++i) {
          if constexpr (std::is_same_v<T, attn::f16>)
            v[i] = attn::to_f16(x[i]);
          else if constexpr (std::is_same_v<T, attn::bf16>)
            v[i] = attn::to_bf16(x[i]);
          else
            v[i] = x[i];
        }
      },
      t.values);
  return t;
}

attn::DType TypedArray::dtype() const {
  return std::visit([](const auto& v) { return attn::dtype_of<typename std::decay_t<decltype(v)>::value_type>; },
                    values);
}

std::size_t TypedArray::size() const {
  return std::visit([](const auto& v) { return v.size(); }, values);
}

float TypedArray::at(std::size_t i) const {
  return std::visit([i](const auto& v) { return attn::to_float(v[i]); }, values);
}

std::vector<float> TypedArray::widened() const {
  return std::visit(
      [](const auto& v) {
        std::vector<float> out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out[i] = attn::to_float(v[i]);
        return out;
      },
      values);
}

attn::AnyConstTensor TypedArray::view(const std::array<std::int64_t, 4>& shape4) const {
  const void* p = std::visit([](const auto& v) -> const void* { return v.data(); }, values);
  return dense<attn::AnyConstTensor>(p, dtype(), shape4);
}

attn::AnyTensor TypedArray::mutable_view(const std::array<std::int64_t, 4>& shape4) {
  void* p = std::visit([](auto& v) -> void* { return v.data(); }, values);
  return dense<attn::AnyTensor>(p, dtype(), shape4);
}

attn::AnyConstPtr TypedArray::pointer() const {
  attn::AnyConstPtr p;
  p.ptr = std::visit([](const auto& v) -> const void* { return v.data(); }, values);
  p.dtype = dtype();
  return p;
}

attn::DType natural_dtype(npy::DType stored) {
  return stored == npy::DType::f2 ? attn::DType::f16 : attn::DType::f32;
}

TypedArray read_typed(const std::string& path, attn::DType dtype) {
  switch (dtype) {
    case attn::DType::f16:
      return from(npy::read_as<attn::f16>(path));
    case attn::DType::bf16:
      return from(npy::read_as<attn::bf16>(path));
    case attn::DType::f32:
      break;
  }
  return from(npy::read_as<float>(path));
}

void write_typed(const std::string& path, const TypedArray& a, std::span<const std::int64_t> shape) {
  if (const auto* f = std::get_if<AlignedVector<float>>(&a.values)) return npy::write(path, *f, shape);
  if (const auto* h = std::get_if<AlignedVector<attn::f16>>(&a.values)) return npy::write(path, *h, shape);
  throw std::invalid_argument(path + ": bf16 has no NumPy dtype; write the output as f32");
}

}  // namespace attnlab
