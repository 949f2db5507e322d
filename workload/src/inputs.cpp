#include "workload/inputs.hpp"

namespace attnlab {

void fill_uniform(std::span<float> x, std::uint64_t seed, float lo, float hi) {
  fill_uniform_from(x, seed, 0, lo, hi);
}

void fill_uniform_from(std::span<float> x, std::uint64_t seed, std::uint64_t first, float lo, float hi) {
  // splitmix64: tiny, fast, and the same sequence everywhere. Its state advances by a constant
  // per element, so element `first` starts from a multiple of it (wrapping, as the loop does).
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull + first * 0x9E3779B97F4A7C15ull;
  for (float& e : x) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * 0x1.0p-24f;  // [0, 1) on a 2^-24 grid
    e = lo + (hi - lo) * u;
  }
}

Inputs make_inputs(const Shape& s, std::uint64_t seed) {
  Inputs in;
  in.shape = s;
  in.q.resize(static_cast<std::size_t>(s.batch * s.heads * s.q_len * s.head_dim));
  in.k.resize(static_cast<std::size_t>(s.batch * s.kv_heads * s.kv_len * s.head_dim));
  in.v.resize(static_cast<std::size_t>(s.batch * s.kv_heads * s.kv_len * s.value_dim));
  in.out.assign(static_cast<std::size_t>(s.batch * s.heads * s.q_len * s.value_dim), 0.0f);
  in.lse.assign(static_cast<std::size_t>(s.batch * s.heads * s.q_len), 0.0f);
  fill_uniform(in.q, seed * 3 + 0);
  fill_uniform(in.k, seed * 3 + 1);
  fill_uniform(in.v, seed * 3 + 2);
  return in;
}

attn::ConstTensor Inputs::qv() const {
  return attn::ConstTensor::contiguous(q.data(), shape.batch, shape.heads, shape.q_len, shape.head_dim);
}
attn::ConstTensor Inputs::kv() const {
  return attn::ConstTensor::contiguous(k.data(), shape.batch, shape.kv_heads, shape.kv_len, shape.head_dim);
}
attn::ConstTensor Inputs::vv() const {
  return attn::ConstTensor::contiguous(v.data(), shape.batch, shape.kv_heads, shape.kv_len, shape.value_dim);
}
attn::Tensor Inputs::outv() {
  return attn::Tensor::contiguous(out.data(), shape.batch, shape.heads, shape.q_len, shape.value_dim);
}
attn::Tensor Inputs::lsev() {
  return attn::lse_view(lse.data(), shape.batch, shape.heads, shape.q_len);
}

}  // namespace attnlab
