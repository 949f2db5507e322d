// The fused kernel's microkernels: the contract every ISA implements.
//
// A microkernel knows only packed panels or plain row-major tiles, a depth kc
// and strides; edges, masking, online-softmax bookkeeping, packing and threads
// belong to the driver (driver.cpp). ukernel_scalar.cpp is the readable
// specification; the SIMD tables are one template (ukernels_simd.hpp) over an ISA's vector
// traits (simd/avx2.hpp, simd/avx512.hpp) and must agree with it within the stated accuracy.
//
// Shared rules for every function below:
// - Pointers need only float alignment (SIMD code uses unaligned loads).
// - Reads and writes stay inside the elements the contract names: never past
//   the end of a caller's buffer (tails use masked loads/stores or scalar code).
// - No allocation, no exceptions, no global state.
#pragma once

#include "cpu_features.hpp"

#include <attn/dtype.hpp>

#include <cstdint>
#include <span>

namespace attn::fused {

using i64 = std::int64_t;
using cpu::Isa;
using cpu::isa_name;

/// One ISA's microkernels.
struct Ukernels {
  Isa isa;
  /// Register tiles: Q Kᵀ is MR rows × NR columns, P V is MR rows × PV_NR columns (pv_nr;
  /// AVX-512 has the registers for a wider P V tile, which halves its broadcasts per FMA).
  int mr, nr, pv_nr;

  /// S tile = Q panel · Kᵀ panel (sgemm with packed operands, β = 0).
  ///   qp: kc × MR, element (k, r) at qp[k * MR + r]   (rows r >= m may hold anything finite)
  ///   kp: kc × NR, element (k, c) at kp[k * NR + c]   (columns c >= n may hold anything finite)
  ///   s[r * lds + c] = Σ_k qp(k, r) · kp(k, c) for r < m <= MR, c < n <= NR; nothing else is written.
  /// Accuracy: an fp32 dot product of kc terms (error ≤ γ_kc Σ|q k|).
  void (*qk)(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int m, int n);

  /// O tile = P · V over kc keys (β = 0), or O tile = α_r · O tile + P · V (the online-softmax
  /// rescale folded into the epilogue), V read from a packed strip or in place:
  ///   o[r * ldo + c] = (scale ? scale[r] · o[r * ldo + c] : 0) + Σ_{j<kc} p[r * ldp + j] · v[j * ldv + c]
  ///   for r < m <= MR, c < n <= PV_NR, kc >= 0. Reads exactly p rows r < m (j < kc), v rows j < kc (c < n)
  ///   and scale[r < m]; with scale == nullptr the old o is never read (it may hold NaN). ldv may be 0.
  void (*pv)(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int m, int n,
             const float* scale);

  /// Kᵀ panels for the qk microkernel from n key rows of d floats (row j at k + j·ldk, ldk may be 0):
  /// ceil(n / NR) panels; element (t, c) of panel jp at kp[(jp·d + t)·NR + c] = k[(jp·NR + c)·ldk + t],
  /// and 0 for key columns past n. Reads exactly rows j < n, columns t < d.
  void (*pack_kt)(i64 n, i64 d, const float* k, i64 ldk, float* kp);

  /// V in column strips of PV_NR, so the P V microkernel streams a contiguous Bc × PV_NR strip
  /// (rows of V a power-of-two stride apart share a few L1 sets and evict each other):
  /// element (j, c) of strip s at vp[(s·n + j)·PV_NR + c] = v[j·ldv + s·PV_NR + c] for
  /// s·PV_NR + c < dv. Reads exactly rows j < n, columns < dv; writes ceil(dv / PV_NR) strips
  /// (the last one's columns past dv are left unwritten).
  void (*pack_v)(i64 n, i64 dv, const float* v, i64 ldv, float* vp);

  /// One online-softmax step over an S block, in place, for rows r < rows (row r at s + r·lds,
  /// keys j < n, log2 units), with the running max m[r] and sum l[r] of the keys before:
  ///   mb       = max(m[r], max_j s_rj)                    (NaN ignored; -inf when all are)
  ///   alpha[r] = mb > m[r] ? exp2_rr1_p6(m[r] − mb) : 1   (what O and l are rescaled by)
  ///   s_rj     = exp2(s_rj − mu), mu = mb or 0 when mb = -inf (never exp2(-inf − (-inf)))
  ///   l[r]     = l[r]·alpha[r] + Σ_j s_rj                 (fp32, a fixed order), m[r] = mb
  /// A NaN logit becomes a NaN p and a NaN l: it poisons its row, as the contract says.
  void (*softmax_step)(float* s, i64 lds, i64 rows, i64 n, float* m, float* l, float* alpha);

  /// y[j] = exp2(x[j]) for j < n (x and y may be the same array). Contract, for this ISA:
  ///   x in [-126, 0]: |y - 2^x| <= exp2_max_ulp ulp(2^x)  (proven by an exhaustive test)
  ///   x < -126 (including -inf): y = +0 exactly (flushed: 2^x would be subnormal)
  ///   x NaN: y NaN.   x > 0: outside the domain (the result is unspecified, but finite or NaN).
  void (*exp2)(const float* x, float* y, i64 n);
  float exp2_max_ulp;

  /// What each routine is, XNNPACK style: type, routine, tile, then ISA and algorithm
  /// ("f32_qk_6x16__avx2_fma", "f32_softmax_step__avx2_rr1_p6_u16_acc2": exp2 with range
  /// reduction by 1 constant and a degree-6 polynomial, 16 floats a step in 2 accumulators).
  struct Names {
    const char *qk, *pv, *softmax_step, *exp2;
  } names;

  /// pack_kt and pack_v reading f16 or bf16 K and V: every value widened exactly as it is
  /// loaded (attn::to_float), the same layouts, reads (in elements) and writes. The packed
  /// panels are fp32, so the microkernels above never see a 16-bit value.
  void (*pack_kt_f16)(i64 n, i64 d, const f16* k, i64 ldk, float* kp) = nullptr;
  void (*pack_kt_bf16)(i64 n, i64 d, const bf16* k, i64 ldk, float* kp) = nullptr;
  void (*pack_v_f16)(i64 n, i64 dv, const f16* v, i64 ldv, float* vp) = nullptr;
  void (*pack_v_bf16)(i64 n, i64 dv, const bf16* v, i64 ldv, float* vp) = nullptr;

  /// An f16 O row as it is stored: out[t] = to_f16(o[t] / l) for t < n (IEEE division, round to
  /// nearest even: bitwise the scalar narrowing on every ISA). Writes exactly out[0, n).
  void (*store_o_f16)(const float* o, float l, f16* out, i64 n) = nullptr;
  /// y[t] = to_float(x[t]) for t < n (exact; F16C where the ISA has it). Reads exactly x[0, n).
  void (*widen_f16)(const f16* x, float* y, i64 n) = nullptr;

  /// S from bf16 Q and K without widening them, by vdpbf16ps (ukernel_avx512_bf16.cpp): set in the
  /// avx512 table where cpu::Features::avx512_bf16 says so, all null elsewhere (uses_bf16_dot).
  /// Panels of bf16 pairs: the 32-bit word of pair p holds elements 2p and 2p + 1 (the lower
  /// half first; an odd d's last pair has a zero upper half), ceil(d/2) words deep, each panel
  /// where the fp32 one starts (MR·d and NR·d floats apart), so the callers' offsets stay.
  struct Bf16Dot {
    /// Q rows r < rows (row r at q + r·ldq, d elements) into ceil(rows / MR) panels: pair
    /// (p, r) of panel ip at qp[ip·MR·d + p·MR + r]; rows past `rows` are zero. Not scaled.
    void (*pack_q)(i64 rows, i64 d, const bf16* q, i64 ldq, float* qp);
    /// Kᵀ panels as pack_kt above (same reads, missing keys zero): pair (p, c) of panel jp at
    /// kp[jp·NR·d + p·NR + c].
    void (*pack_kt)(i64 n, i64 d, const bf16* k, i64 ldk, float* kp);
    /// s[r·lds + c] = scale · Σ_{p < ceil(d/2)} q(p, r) · k(p, c) on those panels, otherwise qk's
    /// contract. Accuracy: qk's fp32 bound over d terms and one rounding for the scale, plus
    /// vdpbf16ps's flush to zero of denormals (simd/avx512_bf16.hpp).
    void (*qk)(i64 d, const float* qp, const float* kp, float* s, i64 lds, int m, int n, float scale);
    const char* qk_name;
  } bf16_dot{};
};

/// Whether a call with these Q and K dtypes computes S by uk.bf16_dot.
inline bool uses_bf16_dot(const Ukernels& uk, DType q, DType k) {
  return uk.bf16_dot.qk != nullptr && q == DType::bf16 && k == DType::bf16;
}

/// Tables compiled into this binary (each only valid to call where the CPU supports it).
Ukernels scalar_ukernels();
Ukernels avx2_ukernels();
Ukernels avx512_ukernels();
/// The AVX-512 BF16 S path for the avx512 table (only valid to call with avx512_bf16).
Ukernels::Bf16Dot avx512_bf16_dot();

// The one dispatch (dispatch.cpp), shared with the softmax rows (softmax_simd.hpp):

/// The table for `isa`, or nullptr when the CPU (or the build) lacks it.
const Ukernels* ukernels_for(Isa isa);

/// Every ISA this CPU can run, scalar first.
std::span<const Isa> supported_isas();

/// The table the fused kernel uses: the best supported ISA, or the one ATTN_ISA names
/// (read once, thread-safely, at the first call).
const Ukernels& active_ukernels();

/// For tests and benchmarks: makes `isa` the active table (returns false, changing
/// nothing, when the CPU lacks it). Not for use while another thread runs the kernel.
bool force_isa(Isa isa);

}  // namespace attn::fused
