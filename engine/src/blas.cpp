// blas: the way most libraries do it. S = scale · Q Kᵀ with cblas_sgemm,
// a stable row softmax on S, O = P V with cblas_sgemm. Needs an Nq × Nk score
// matrix per head in flight, so it refuses shapes whose S exceeds the budget.
//
// Threads: with many heads, OpenMP takes one head per thread and OpenBLAS runs
// single-threaded inside (no oversubscription); with few heads, heads run one
// after another and OpenBLAS gets the threads.
#include "kernel_decls.hpp"
#include "masking.hpp"

#include <attn/softmax.hpp>
#include <cblas.h>
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

/// Heads computed at once: one per thread when there are enough of them.
i64 heads_in_flight(i64 heads, int threads) { return threads > 1 && heads >= threads ? threads : 1; }

/// Leading dimension BLAS accepts for a row-major panel of `rows` × `cols`.
i64 leading_dim(i64 stride, i64 rows, i64 cols) { return rows > 1 ? stride : std::max<i64>(cols, 1); }

/// S = scale · Q Kᵀ for one head; a plain loop when a view's row stride is too
/// small for BLAS (broadcast rows with stride 0 are valid inputs).
void scores(const float* q, i64 ldq, const float* k, i64 ldk, i64 nq, i64 nk, i64 d, float scale, float* s) {
  if (ldq >= d && ldk >= d) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nq), static_cast<int>(nk),
                static_cast<int>(d), scale, q, static_cast<int>(ldq), k, static_cast<int>(ldk), 0.0f, s,
                static_cast<int>(nk));
    return;
  }
  for (i64 i = 0; i < nq; ++i)
    for (i64 j = 0; j < nk; ++j) {
      float dot = 0.0f;
      for (i64 t = 0; t < d; ++t) dot += q[i * ldq + t] * k[j * ldk + t];
      s[i * nk + j] = scale * dot;
    }
}

bool all_finite(const KernelArgs& a, i64 b, i64 hk) {
  const i64 nk = a.v.shape[2], dv = a.v.shape[3];
  for (i64 j = 0; j < nk; ++j) {
    const float* r = a.v.row(b, hk, j);
    for (i64 t = 0; t < dv; ++t)
      if (!std::isfinite(r[t])) return false;
  }
  return true;
}

/// One (b, h): scores, masking by selection, softmax, then P V.
void blas_head(const KernelArgs& a, i64 b, i64 h, float* s) {
  const i64 nq = a.q.shape[2], nk = a.k.shape[2], d = a.q.shape[3], dv = a.v.shape[3];
  const i64 hk = kv_head(a, h);
  const float* q = a.q.row(b, h, 0);
  const float* k = a.k.row(b, hk, 0);
  const float* v = a.v.row(b, hk, 0);
  float* o = a.out.row(b, h, 0);
  const i64 ldq = leading_dim(a.q.strides[2], nq, d), ldk = leading_dim(a.k.strides[2], nk, d);
  const i64 ldv = leading_dim(a.v.strides[2], nk, dv), ldo = leading_dim(a.out.strides[2], nq, dv);
  scores(q, ldq, k, ldk, nq, nk, d, a.scale, s);

  const bool masking = a.causal != Causal::none || a.mask.data != nullptr;
  for (i64 i = 0; i < nq; ++i) {
    float* row = s + i * nk;
    const float* mrow = mask_row(a.mask, i);
    const i64 visible = visible_keys(a.causal, i, nq, nk);
    for (i64 j = 0; j < nk; ++j)
      row[j] = (j >= visible || masked_out(mrow, j)) ? -INFINITY : row[j] + (mrow ? mrow[j] : 0.0f);
    const float lse = softmax::stable_inplace(row, static_cast<std::size_t>(nk));
    if (a.lse.data) *a.lse.row(b, h, i) = lse;
  }

  // A masked key's weight is 0, but 0 · NaN is NaN: when V holds non-finite
  // values, the product must skip masked keys instead of multiplying by 0.
  if (masking && !all_finite(a, b, hk)) {
    for (i64 i = 0; i < nq; ++i) {
      const float* p = s + i * nk;
      const float* mrow = mask_row(a.mask, i);
      const i64 visible = visible_keys(a.causal, i, nq, nk);
      float* orow = o + i * ldo;
      for (i64 t = 0; t < dv; ++t) orow[t] = 0.0f;
      for (i64 j = 0; j < visible; ++j) {
        if (masked_out(mrow, j)) continue;
        for (i64 t = 0; t < dv; ++t) orow[t] += p[j] * v[j * ldv + t];
      }
    }
    return;
  }
  if (ldv >= dv) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(nq), static_cast<int>(dv),
                static_cast<int>(nk), 1.0f, s, static_cast<int>(nk), v, static_cast<int>(ldv), 0.0f, o,
                static_cast<int>(ldo));
    return;
  }
  for (i64 i = 0; i < nq; ++i)
    for (i64 t = 0; t < dv; ++t) {
      float acc = 0.0f;
      for (i64 j = 0; j < nk; ++j) acc += s[i * nk + j] * v[j * ldv + t];
      o[i * ldo + t] = acc;
    }
}

/// Sets OpenBLAS's thread count for this thread's calls and restores it after.
class BlasThreads {
 public:
  explicit BlasThreads(int n) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(n);  // the OpenMP build of OpenBLAS follows this ICV
    if (openblas_get_parallel() == 1) openblas_set_num_threads(n);  // the pthreads build
  }
  ~BlasThreads() { omp_set_num_threads(saved_); }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int saved_;
};

void blas_run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2];
  const i64 heads = B * H, in_flight = heads_in_flight(heads, a.threads);
  float* const ws = static_cast<float*>(a.workspace);
  if (in_flight == 1) {
    BlasThreads scope(a.threads);
    for (i64 bh = 0; bh < heads; ++bh) blas_head(a, bh / H, bh % H, ws);
    return;
  }
  BlasThreads scope(1);
#pragma omp parallel for num_threads(static_cast<int>(in_flight)) schedule(dynamic, 1)
  for (i64 bh = 0; bh < heads; ++bh) blas_head(a, bh / H, bh % H, ws + omp_get_thread_num() * nq * nk);
}

std::size_t blas_workspace(const Problem& p) {
  const double bytes = static_cast<double>(heads_in_flight(p.batch * p.heads, p.threads)) *
                       static_cast<double>(p.q_len) * static_cast<double>(p.kv_len) * sizeof(float);
  return bytes >= 1.8e19 ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(bytes);
}

}  // namespace

KernelInfo blas_kernel_info() {
  return {"blas",
          "OpenBLAS sgemm for Q Kᵀ and P V around a stable row softmax; Nq × Nk scores per head",
          {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
          blas_workspace,
          blas_run,
          10};
}

}  // namespace attn
