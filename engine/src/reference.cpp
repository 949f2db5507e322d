// Two plain-loop kernels that define the numbers everything else is judged by.
//
// reference: fp64 accumulation, two passes (max, then exp-sum), max
//   subtracted. The oracle: clarity over speed.
// textbook:  fp32 exactly as the formula is written, exp(s) / sum exp(s)
//   without subtracting the max. expf overflows once a logit passes
//   88.7228 and the row becomes NaN: kept that way, for teaching.
#include "kernel_decls.hpp"
#include "masking.hpp"
#include "widening.hpp"

#include <omp.h>

#include <cmath>
#include <limits>

namespace attn {

namespace {

using i64 = std::int64_t;
using detail::kv_head;
using detail::mask_row;
using detail::masked_out;
using detail::visible_keys;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Scores of one query row in fp64; masked keys get -inf. Returns the row
/// max, or NaN when any visible logit is NaN.
double reference_scores(const KernelArgs& a, i64 b, i64 h, i64 i, double* s) {
  const i64 nk = a.k.shape[2], d = a.q.shape[3], hk = kv_head(a, h);
  const i64 visible = visible_keys(a, i);
  const float* q = a.q.as<float>().row(b, h, i);
  const float* mrow = mask_row(a.mask, i);
  double m = kNegInf;
  bool nan = false;  // a NaN logit poisons the whole row
  for (i64 j = 0; j < nk; ++j) {
    if (j >= visible || masked_out(mrow, j)) {
      s[j] = kNegInf;
      continue;
    }
    const float* k = a.k.as<float>().row(b, hk, j);
    double dot = 0;
    for (i64 t = 0; t < d; ++t) dot += static_cast<double>(q[t]) * k[t];
    s[j] = dot * a.scale + (mrow ? mrow[j] : 0.0);
    if (std::isnan(s[j])) nan = true;
    if (s[j] > m) m = s[j];
  }
  return nan ? std::numeric_limits<double>::quiet_NaN() : m;
}

void reference_run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2];
  const i64 dv = a.v.shape[3];
  const i64 rows = B * H * nq;
#pragma omp parallel for num_threads(a.threads) schedule(static)
  for (i64 r = 0; r < rows; ++r) {
    const i64 b = r / (H * nq), h = r / nq % H, i = r % nq, hk = kv_head(a, h);
    // Two fp64 rows per thread: scores, then the output accumulator.
    auto* s = static_cast<double*>(a.workspace) + static_cast<i64>(omp_get_thread_num()) * (nk + dv);
    double* acc = s + nk;
    const double m = reference_scores(a, b, h, i, s);
    float* o = a.out.as<float>().row(b, h, i);
    if (std::isnan(m)) {  // a NaN logit
      detail::write_nan_row(o, dv, detail::lse_row(a, b, h, i));
      continue;
    }
    if (m == kNegInf) {  // every key masked
      detail::write_no_keys_row(o, dv, detail::lse_row(a, b, h, i));
      continue;
    }
    double l = 0;
    for (i64 t = 0; t < dv; ++t) acc[t] = 0;
    for (i64 j = 0; j < nk; ++j) {
      if (s[j] == kNegInf) continue;  // masked: selected away, V there is never read
      const double p = std::exp(s[j] - m);
      l += p;
      const float* vr = a.v.as<float>().row(b, hk, j);
      for (i64 t = 0; t < dv; ++t) acc[t] += p * vr[t];
    }
    for (i64 t = 0; t < dv; ++t) o[t] = static_cast<float>(acc[t] / l);
    if (a.lse.data) *a.lse.row(b, h, i) = static_cast<float>(m + std::log(l));
  }
}

std::size_t reference_workspace(const Problem& p) {
  return static_cast<std::size_t>(p.threads) * static_cast<std::size_t>(p.kv_len + p.value_dim) * sizeof(double);
}

void textbook_run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2];
  const i64 d = a.q.shape[3], dv = a.v.shape[3];
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h)
      for (i64 i = 0; i < nq; ++i) {
        const i64 hk = kv_head(a, h), visible = visible_keys(a, i);
        const float* q = a.q.as<float>().row(b, h, i);
        const float* mrow = mask_row(a.mask, i);
        float* o = a.out.as<float>().row(b, h, i);
        for (i64 t = 0; t < dv; ++t) o[t] = 0.0f;
        float l = 0.0f;
        bool any = false;
        for (i64 j = 0; j < visible; ++j) {
          if (masked_out(mrow, j)) continue;
          any = true;
          const float* k = a.k.as<float>().row(b, hk, j);
          float dot = 0.0f;
          for (i64 t = 0; t < d; ++t) dot += q[t] * k[t];
          const float e = std::exp(dot * a.scale + (mrow ? mrow[j] : 0.0f));  // no max subtracted
          l += e;
          const float* vr = a.v.as<float>().row(b, hk, j);
          for (i64 t = 0; t < dv; ++t) o[t] += e * vr[t];
        }
        if (!any) {
          detail::write_no_keys_row(o, dv, detail::lse_row(a, b, h, i));
          continue;
        }
        for (i64 t = 0; t < dv; ++t) o[t] /= l;
        if (a.lse.data) *a.lse.row(b, h, i) = std::log(l);
      }
}

std::size_t no_workspace(const Problem&) {
  return 0;
}

}  // namespace

KernelInfo reference_kernel_info() {
  return widening::widened<reference_workspace, reference_run>(
      {"reference",
       "fp64 oracle: plain loops, two-pass max-subtracted softmax",
       {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
       reference_workspace,
       reference_run,
       -1});
}

KernelInfo textbook_kernel_info() {
  return widening::widened<no_workspace, textbook_run>(
      {"textbook",
       "fp32 exp(s)/sum exp(s) as written: overflows past logit 88.72 (for teaching)",
       {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = false},
       no_workspace,
       textbook_run,
       -1});
}

}  // namespace attn
