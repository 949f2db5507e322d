// The benchmark protocol's shapes (docs/design.md §5) by name, parsing of explicit
// shapes, and what a shape costs (FLOPs, compulsory bytes). Their seeded inputs:
// inputs.hpp. Shared by the CLI, the benchmarks and the tests.
#pragma once

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab {

struct Shape {
  std::string name;
  std::int64_t batch = 1, heads = 1, kv_heads = 1;
  std::int64_t q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  attn::Causal causal = attn::Causal::none;

  attn::Problem problem(int threads, bool wants_lse = false) const;
  double flops() const { return problem(1).flops(); }
  /// Bytes of Q, K, V and O that one call must move at least once.
  double io_bytes() const;
};

/// Parses "lab-3", "bert-512", "llm-4096-causal", "long-65536-d128", "decode-32768",
/// or an explicit "Nq x Nk x d [x H]" (spaces optional, "-causal" suffix allowed).
/// Throws std::invalid_argument naming the text and what is accepted.
Shape parse_shape(const std::string& text);

/// Comma-separated list of shapes.
std::vector<Shape> parse_shapes(const std::string& list);

/// Every named shape of the protocol, in table order.
std::vector<std::string> named_shapes();

}  // namespace attnlab
