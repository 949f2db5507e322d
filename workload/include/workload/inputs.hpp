// Seeded inputs: the same values on every platform and compiler (no <random>
// distribution, whose algorithm is the library's own), for a shape of the protocol
// (shapes.hpp) or any buffer a test or benchmark fills.
#pragma once

#include "workload/aligned_vector.hpp"
#include "workload/shapes.hpp"

#include <attn/attention.hpp>

#include <cstdint>
#include <span>

namespace attnlab {

/// Dense, seeded, uniform [-1, 1) inputs and an output buffer for one shape, each on a 64-byte
/// boundary (aligned_vector.hpp).
struct Inputs {
  Shape shape;
  AlignedVector<float> q, k, v, out, lse;
  attn::ConstTensor qv() const;
  attn::ConstTensor kv() const;
  attn::ConstTensor vv() const;
  attn::Tensor outv();
  attn::Tensor lsev();
};
Inputs make_inputs(const Shape& s, std::uint64_t seed);

/// Fills `x` with uniform [lo, hi) values from a fixed generator (same on every platform).
void fill_uniform(std::span<float> x, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f);
/// Elements first, first + 1, ... of the sequence fill_uniform writes for `seed`: a large array
/// can be filled a block at a time (and narrowed as it goes) with the values of one call.
void fill_uniform_from(std::span<float> x, std::uint64_t seed, std::uint64_t first, float lo = -1.0f, float hi = 1.0f);

}  // namespace attnlab
