// Row softmax and log-sum-exp variants, fp32 and fp64, for teaching and reuse.
//
// Notation for the accuracy contracts below: x is the row as given (n entries),
// a = max_i x_i, y_i = exp(x_i - a) / Σ_j exp(x_j - a) the exact softmax of the
// given values, u the unit roundoff of T (2^-24 for float, 2^-53 for double).
// libm exp, log and log1p are taken to be faithful (error < 1 ulp, so relative
// error ≤ 2u); glibc meets that for both types. Every weight bound is a relative
// bound on y_i that holds while exp(x_i - a) is a normal number; a weight whose
// exact value is below the smallest normal (≈ 1.2e-38 / 2.2e-308) may instead be
// off by an absolute error up to the smallest normal. O(u²) terms are covered by
// the slack in the constants (the derivations give ≈ 1.4n where we state 2n).
//
// Edge cases, the attention contract (docs/design.md §3), for every variant except
// where said: a -inf entry gets weight exactly 0; a row of only -inf (or n == 0)
// gives all 0 weights and log-sum-exp -inf; a NaN anywhere makes every weight
// and the log-sum-exp NaN; a +inf entry makes the row NaN (inf - inf), as the
// fp64 reference kernel does.
//
// References: P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing
// the log-sum-exp and softmax functions", IMA J. Numer. Anal. 41(4), 2021,
// 2311–2330 (BHH below). M. Milakov, N. Gimelshein, "Online normalizer
// calculation for softmax", arXiv:1805.02867, 2018.
#pragma once

#include <cstddef>
#include <limits>

namespace attn::softmax {

/// Stable in-place fp32 softmax of one row; returns the natural log-sum-exp of
/// the row. Semantics as in the edge cases above. Vectorised (AVX-512 F/VL/BW/DQ, else
/// AVX2+FMA, chosen at run time, with a portable fallback; three passes below 2^18 floats, a
/// blocked two-pass kernel above); see engine/src/softmax_simd.hpp.
/// Accuracy: each weight within (|x_i − a| + 2n + 12)·u relative: `safe`'s bound
/// with the 2-ulp polynomial exp of engine/src/simd/exp_poly.hpp (4u) in place of libm's (2u).
float stable_inplace(float* x, std::size_t n) noexcept;

// ---- The thresholds every lesson starts from -------------------------------

/// Largest x with exp(x) finite in T: log(max finite) rounded down to T.
/// float: 88.7228317 (exp = 3.4028e38; exp of the next float, 88.7228394, is inf).
template <class T>
T exp_overflow_threshold() noexcept;
/// Smallest x with exp(x) a normal number (below it the result is subnormal).
/// float: -87.3365402 (≈ log 2^-126).
template <class T>
T exp_normal_threshold() noexcept;
/// Smallest x with exp(x) != 0 in round-to-nearest (below it exp underflows to 0).
/// float: -103.972076 (≈ log 2^-150, half the smallest subnormal).
template <class T>
T exp_zero_threshold() noexcept;

// ---- Softmax variants: y may equal x (in place) -----------------------------

/// naive: y_i = exp(x_i) / Σ exp(x_j) (two passes, no shift). Returns log Σ exp(x_j).
/// Overflows (weights NaN) as soon as some x_i > exp_overflow_threshold<T>(), and
/// underflows (0/0 = NaN) when every exp(x_i) is 0. Where no exp overflows or
/// underflows it is the most accurate: |ŷ_i − y_i| ≤ (n + 4)·u·y_i (exp 2u,
/// recursive sum of n positive terms (n − 1)u, division u).
template <class T>
T naive(const T* x, T* y, std::size_t n) noexcept;

/// safe: three passes: a = max, s = Σ exp(x_j − a), y_i = exp(x_i − a) / s.
/// Never overflows: the largest term is exactly exp(0) = 1, so s ∈ [1, n].
/// |ŷ_i − y_i| ≤ (|x_i − a| + 2n + 6)·u·y_i. The |x_i − a|·u term is the rounding
/// of the subtraction, amplified by exp. The shift is not free, but it costs about
/// what the conditioning of softmax already costs (BHH conclude the shifted
/// formulas are about as accurate as the unshifted ones; the relative condition
/// number of y_i with respect to the logits is |x_i| + Σ y_j|x_j|, our derivation).
template <class T>
T safe(const T* x, T* y, std::size_t n) noexcept;

/// Partial online-softmax state of a set of entries: m = their max and
/// l = Σ exp(x_j − m). The empty set (and a set of only -inf) is {-inf, 0}.
template <class T>
struct Partial {
  T m = -std::numeric_limits<T>::infinity();
  T l = 0;
};

/// One pass over x computing its Partial with a running max and a rescaled
/// running sum (Milakov & Gimelshein 2018): when the max grows
/// from m to m', l ← l·exp(m − m') + exp(x_j − m').
/// l is within (4.4n + 2)·u relative of the exact Σ exp(x_j − m): `safe`'s error plus
/// an exp and a multiply for each of at most n − 1 max updates.
template <class T>
Partial<T> online_partial(const T* x, std::size_t n) noexcept;

/// Merges the states of two disjoint sets: m = max(m1, m2),
/// l = l1·exp(m1 − m) + l2·exp(m2 − m). Associative and commutative in exact
/// arithmetic (it is the log-sum-exp of the union); in floating point each merge
/// adds at most 5u relative to l (two exps, two multiplies, one add) plus
/// u·|m1 − m2| for the subtraction. This is what split-KV / distributed
/// attention use to combine chunks.
template <class T>
Partial<T> merge(Partial<T> a, Partial<T> b) noexcept;

/// log-sum-exp of the set a Partial describes: m + log(l) (-inf for the empty set).
template <class T>
T lse(Partial<T> p) noexcept;

/// online: two passes: online_partial, then y_i = exp(x_i − m) / l. One pass
/// fewer than `safe` over memory, for one more exp per max update.
/// |ŷ_i − y_i| ≤ (|x_i − a| + 6n + 6)·u·y_i.
template <class T>
T online(const T* x, T* y, std::size_t n) noexcept;

// ---- log-sum-exp and log-softmax -------------------------------------------

/// Basic (unshifted) log Σ exp(x_j). Overflows to +inf as soon as some
/// x_j > exp_overflow_threshold<T>(); -inf when every exp underflows.
/// Where it does not: |f̂ − f| ≤ 3u|f| + (n + 1)·u (the sum's relative error,
/// (n + 1)u, becomes an absolute error after the log).
template <class T>
T logsumexp_basic(const T* x, std::size_t n) noexcept;

/// Shifted: a + log(Σ exp(x_j − a)). |f̂ − f| ≤ u|f| + 2u·log(n) + (2n + 2)·u: an
/// absolute error of order n·u even when f itself is tiny (a ≈ 0, one entry dominating).
template <class T>
T logsumexp_shifted(const T* x, std::size_t n) noexcept;

/// BHH's recommended form: a + log1p(Σ_{j≠k} exp(x_j − a)), k = argmax (first).
/// log1p keeps the relative accuracy of the small sum s' = Σ_{j≠k}, so when one
/// entry dominates (s' ≪ 1) the result is a + s'(1 + O(u)) instead of a + log(1 + s')
/// with 1 + s' rounded. With c = log1p(s') and D = max_j |x_j − a|:
/// |f̂ − f| ≤ u|f| + 2u·c + 2(n + 1)·u·min(1, s'·(1 + D)).
template <class T>
T logsumexp(const T* x, std::size_t n) noexcept;

/// Basic log-softmax: y_i = x_i − logsumexp_basic(x): overflows with it; elsewhere
/// |ŷ_i − y_i| ≤ u|y_i| + 3u|f| + (n + 1)·u.
template <class T>
void log_softmax_basic(const T* x, T* y, std::size_t n) noexcept;

/// BHH form: y_i = (x_i − a) − log1p(Σ_{j≠k} exp(x_j − a)).
/// |ŷ_i − y_i| ≤ u(|y_i| + |x_i − a| + 2c) + 2(n + 1)·u·min(1, s'·(1 + D)) (c, D as above).
template <class T>
void log_softmax(const T* x, T* y, std::size_t n) noexcept;

// ---- High-precision reference ----------------------------------------------

/// Softmax of the given values in long double (x87 extended, u = 2^-64), shifted
/// by the max; returns the log-sum-exp. The oracle for tests and `attnlab softmax`:
/// its own error, (|x_i − a| + 2n + 4)·2^-64 relative, is below 2^-40 for rows
/// with n < 2^22 and |x_i − a| < 2^22.
template <class T>
long double reference(const T* x, long double* y, std::size_t n) noexcept;

}  // namespace attn::softmax
