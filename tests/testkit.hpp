// Shared test machinery: a problem description, inputs in several memory
// layouts and dtypes, running a kernel by name, and the error bound derived for a
// stable fp32 attention against the fp64 reference (plus O's rounding to its dtype).
#pragma once

#include <gtest/gtest.h>
#include <attn/attention.hpp>
#include <attn/dtype.hpp>
#include <attn/kernels.hpp>

#include "workload/narrowed.hpp"

#include <cmath>
#include <cstddef>
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

/// Whether p is a multiple of `alignment` bytes.
inline bool aligned_to(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}
/// Whether p starts a 64-byte line (where the engine's workspace and the workload's and
/// attnlab's arrays put their data).
inline bool on_a_line(const void* p) {
  return aligned_to(p, 64);
}

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
  /// The dtypes of q, k, v, out and the mask. Buffers keeps every tensor's values in fp32,
  /// rounded to its dtype (the values the 16-bit tensor holds), so the oracle sees the same
  /// rounded inputs as the kernel.
  DTypes dtypes;

  Case& shape(i64 nq, i64 nk, i64 dd) {
    Nq = nq, Nk = nk, d = dv = dd;
    return *this;
  }
  std::string name() const;
};

/// "f32", "f16", "bf16" when every tensor has that dtype, else "q<t>_k<t>_v<t>_out<t>_mask<t>".
std::string dtypes_name(const DTypes& t);

using attnlab::Narrowed;

/// Owns the buffers of a Case and hands out views in its layout. q, k, v, mask, out and lse
/// are always fp32: for a 16-bit tensor they hold the values its 16-bit copy holds.
struct Buffers {
  Case c;
  std::vector<float> q, k, v, out, lse, mask;
  explicit Buffers(const Case& c);
  /// fp32 views of the fp32 values, whatever the case's dtypes.
  ConstTensor qv() const { return view(q, c.H, c.Nq, c.d); }
  ConstTensor kv() const { return view(k, c.Hkv, c.Nk, c.d); }
  ConstTensor vv() const { return view(v, c.Hkv, c.Nk, c.dv); }
  Tensor outv() { return mut_view(out, c.H, c.Nq, c.dv); }
  Tensor lsev() { return lse_view(lse.data(), c.B, c.H, c.Nq); }
  /// Rounds q, k, v and the mask to their dtypes (in place: tests edit them before a run) and
  /// refreshes the 16-bit copies that the typed views below read. run() calls it.
  void store_inputs();
  /// Views in the case's dtypes (the 16-bit copies where a dtype is 16-bit).
  AnyConstTensor q_typed() const { return typed(qv(), q16, c.dtypes.q, q); }
  AnyConstTensor k_typed() const { return typed(kv(), k16, c.dtypes.k, k); }
  AnyConstTensor v_typed() const { return typed(vv(), v16, c.dtypes.v, v); }
  AnyTensor out_typed();
  /// Widens a 16-bit out into `out`. run() calls it.
  void load_output();
  /// The case's options; the mask (when the case has one) in its dtype.
  Options options(const std::string& kernel, int threads = 0) const;
  /// Element (b, h, n, t) of a tensor stored in this case's layout.
  i64 index(i64 heads, i64 n_len, i64 dim, i64 b, i64 h, i64 n, i64 t) const;

 private:
  Narrowed q16, k16, v16, out16, mask16;
  ConstTensor view(const std::vector<float>& x, i64 h, i64 n, i64 d) const;
  Tensor mut_view(std::vector<float>& x, i64 h, i64 n, i64 d);
  static AnyConstTensor typed(ConstTensor fp32, const Narrowed& n, DType t, const std::vector<float>& values);
};

/// Runs `kernel` on the buffers in the case's dtypes (out and lse are overwritten; a 16-bit
/// out is widened into b.out).
void run(Buffers& b, const std::string& kernel, int threads = 0);

/// Unit roundoff of a dtype: 2^-24 (f32), 2^-11 (f16), 2^-8 (bf16).
double unit_roundoff(DType t);
/// A bound on |round_to(t, y) − y| for |y| <= magnitude: relative to the value, and half the
/// spacing of the dtype's subnormals below its normal range.
double rounding_error(DType t, double magnitude);
/// A bound on |x − y| when x = round_to(t, y) is what a tensor of dtype t holds (0 for f32):
/// what narrowing an fp32 result y to an output of dtype t may have changed, from x alone.
double narrowing_error(DType t, float x);

/// Expects every output and LSE element of `got` to agree with the reference
/// results in `ref` within the bound derived in testkit.cpp; both NaN is
/// agreement, exactly one NaN is not.
/// merged_parts > 0: `got` is the merge (merge_partials) of that many partial results, each
/// over a subset of the keys, and the bound grows by the merge's terms (testkit.cpp).
void expect_matches_reference(const Buffers& got, const Buffers& ref, const std::string& what, int merged_parts = 0);

/// Kernel names from the registry, so a new kernel is tested by registering it.
std::vector<std::string> kernel_names();

/// The dtype combinations the contract tests run over: all f32, all f16, all bf16, and fp32 Q
/// and O with 16-bit K and V (a KV cache) and a mask of the other 16-bit type.
std::vector<DTypes> contract_dtypes();
/// A kernel and a dtype combination (a test parameter).
struct KernelDtypes {
  std::string kernel;
  DTypes dtypes;
};
void PrintTo(const KernelDtypes& p, std::ostream* os);
/// Every registered kernel with every combination of contract_dtypes() whose dtypes it takes
/// (KernelInfo::dtypes); `keep` filters the kernels by name.
std::vector<KernelDtypes> kernels_with_dtypes(bool (*keep)(const std::string&) = nullptr);
/// A gtest parameter name: "fused_bf16", "blas_qf32_kbf16_vbf16_outf32_maskf16".
std::string param_name(const ::testing::TestParamInfo<KernelDtypes>& info);

/// Case c (dtypes t) with row 0 fully masked and a NaN in row 2's query: row 0 gives O = 0
/// and LSE = -inf, row 1 finite values, row 2 NaN in O and LSE; on `kernel`.
void expect_masked_row_zero_and_nan_query_nan(const std::string& kernel, i64 nk, const DTypes& t = {});

}  // namespace attn::test
