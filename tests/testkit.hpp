// Shared test machinery: a problem description, inputs in several memory
// layouts, running a kernel by name, and the error bound derived for a
// stable fp32 attention against the fp64 reference.
#pragma once

#include <gtest/gtest.h>
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace attn {
/// Readable parameter names in gtest and ctest output.
inline void PrintTo(Causal c, std::ostream* os) {
  *os << to_string(c);
}
}  // namespace attn

namespace attn::test {

using i64 = std::int64_t;

/// One attention call: shape, options and how the inputs are laid out.
struct Case {
  i64 B = 1, H = 1, Hkv = 1, Nq = 1, Nk = 1, d = 4, dv = 4;
  Causal causal = Causal::none;
  bool mask = false;          ///< additive random mask with some -inf entries
  bool permuted = false;      ///< tensors stored as [B, N, H, d] and viewed as [B, H, N, d]
  float value_range = 1.0f;   ///< q, k, v uniform in [-range, range)
  float logit_offset = 0.0f;  ///< added to every logit through the mask (needs mask)
  std::uint64_t seed = 7;
  std::optional<float> scale;

  Case& shape(i64 nq, i64 nk, i64 dd) {
    Nq = nq, Nk = nk, d = dv = dd;
    return *this;
  }
  std::string name() const;
};

/// Owns the buffers of a Case and hands out views in its layout.
struct Buffers {
  Case c;
  std::vector<float> q, k, v, out, lse, mask;
  explicit Buffers(const Case& c);
  ConstTensor qv() const { return view(q, c.H, c.Nq, c.d); }
  ConstTensor kv() const { return view(k, c.Hkv, c.Nk, c.d); }
  ConstTensor vv() const { return view(v, c.Hkv, c.Nk, c.dv); }
  Tensor outv() { return mut_view(out, c.H, c.Nq, c.dv); }
  Tensor lsev() { return lse_view(lse.data(), c.B, c.H, c.Nq); }
  Options options(const std::string& kernel, int threads = 0) const;
  /// Element (b, h, n, t) of a tensor stored in this case's layout.
  i64 index(i64 heads, i64 n_len, i64 dim, i64 b, i64 h, i64 n, i64 t) const;

 private:
  ConstTensor view(const std::vector<float>& x, i64 h, i64 n, i64 d) const;
  Tensor mut_view(std::vector<float>& x, i64 h, i64 n, i64 d);
};

/// Runs `kernel` on the buffers (out and lse are overwritten).
void run(Buffers& b, const std::string& kernel, int threads = 0);

/// Expects every output and LSE element of `got` to agree with the reference
/// results in `ref` within the bound derived in testkit.cpp; both NaN is
/// agreement, exactly one NaN is not.
/// merged_parts > 0: `got` is the merge (merge_partials) of that many partial results, each
/// over a subset of the keys, and the bound grows by the merge's terms (testkit.cpp).
void expect_matches_reference(const Buffers& got, const Buffers& ref, const std::string& what, int merged_parts = 0);

/// Kernel names from the registry, so a new kernel is tested by registering it.
std::vector<std::string> kernel_names();

}  // namespace attn::test
