// blas: the way most libraries do it. S = scale · Q Kᵀ with cblas_sgemm,
// a stable row softmax on S, O = P V with cblas_sgemm. Needs an Nq × Nk score
// matrix per head in flight, so it refuses shapes whose S exceeds the budget.
//
// Threads: OpenMP splits the work into fixed (head, row block) items and
// OpenBLAS runs single-threaded inside each, so the cores are never
// oversubscribed and results do not depend on the thread count.
#include "cpu_features.hpp"
#include "kernel_decls.hpp"
#include "masking.hpp"
#include "widening.hpp"

#include <cblas.h>
#include <omp.h>
#include <attn/softmax.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace attn {

namespace {

using i64 = std::int64_t;
using detail::kv_head;
using detail::mask_row;
using detail::masked_out;
using detail::visible_keys;

/// Heads computed at once: one per thread when there are enough of them.
i64 heads_in_flight(i64 heads, int threads) {
  return threads > 1 && heads >= threads ? threads : 1;
}

/// Leading dimension BLAS accepts for a row-major panel of `rows` × `cols`.
i64 leading_dim(i64 stride, i64 rows, i64 cols) {
  return rows > 1 ? stride : std::max<i64>(cols, 1);
}

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

// P V runs over chunks of kKeyChunk keys, each one sgemm that adds to O (β = 1 after the
// first), so that a chunk of V holding inf or NaN can be replaced by a copy in a per-thread
// panel of kKeyChunk × dv floats.
constexpr i64 kKeyChunk = 512;

/// O = P V for rows × nk weights P (leading dimension nk) and the visible V of KV head (b, hk).
///
/// A masked key's weight is 0, but 0 · NaN is NaN. So a chunk of V holding inf or NaN is
/// multiplied as a copy with them replaced by 0 (the same sgemm call as for a finite chunk:
/// garbage in a key that is selected away changes no bit of O, whatever kernels OpenBLAS
/// runs), and each non-finite V entry is then added to the rows that see its key. A sum with
/// inf or NaN terms has the same value in any order (inf, -inf or NaN, decided by those
/// terms alone), so this equals the plain P V wherever a non-finite value is visible.
void weighted_sum(const KernelArgs& a, i64 b, i64 hk, i64 i0, i64 rows, const float* p, float* o, i64 ldo,
                  float* panel) {
  const i64 nk = a.k.shape[2], dv = a.v.shape[3];
  const i64 ldv = leading_dim(a.v.strides[2], nk, dv);
  if (nk == 0) {  // no keys: no sgemm call, O = 0
    for (i64 i = 0; i < rows; ++i) std::fill_n(o + i * ldo, dv, 0.0f);
    return;
  }
  bool any_non_finite = false;
  for (i64 c0 = 0; c0 < nk; c0 += kKeyChunk) {
    const i64 n = std::min(kKeyChunk, nk - c0);
    const float* v = a.v.as<float>().row(b, hk, c0);
    i64 ld = ldv;
    bool finite = true;
    for (i64 j = 0; j < n && finite; ++j)
      for (i64 t = 0; t < dv; ++t) finite &= std::isfinite(v[j * ldv + t]);
    if (!finite || ldv < dv) {  // a copy: zeros for inf and NaN, and the stride BLAS needs
      for (i64 j = 0; j < n; ++j)
        for (i64 t = 0; t < dv; ++t) {
          const float x = v[j * ldv + t];
          panel[j * dv + t] = std::isfinite(x) ? x : 0.0f;
        }
      v = panel, ld = dv;
    }
    any_non_finite |= !finite;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(dv),
                static_cast<int>(n), 1.0f, p + c0, static_cast<int>(nk), v, static_cast<int>(ld), c0 == 0 ? 0.0f : 1.0f,
                o, static_cast<int>(ldo));
  }
  if (!any_non_finite) return;
  for (i64 j = 0; j < nk; ++j) {
    const float* vj = a.v.as<float>().row(b, hk, j);
    for (i64 t = 0; t < dv; ++t) {
      if (std::isfinite(vj[t])) continue;
      for (i64 i = i0; i < i0 + rows; ++i)
        if (j < visible_keys(a, i) && !masked_out(mask_row(a.mask, i), j))
          o[(i - i0) * ldo + t] += p[(i - i0) * nk + j] * vj[t];
    }
  }
}

/// Rows [i0, i1) of one (b, h): scores into rows of that head's S, masking
/// by selection, softmax, then P V.
void blas_rows(const KernelArgs& a, i64 b, i64 h, i64 i0, i64 i1, float* s_head, float* panel) {
  const i64 nk = a.k.shape[2], d = a.q.shape[3], dv = a.v.shape[3];
  const i64 hk = kv_head(a, h), rows = i1 - i0;
  const float* q = a.q.as<float>().row(b, h, i0);
  const float* k = a.k.as<float>().row(b, hk, 0);
  float* o = a.out.as<float>().row(b, h, i0);
  float* s = s_head + i0 * nk;
  const i64 ldq = leading_dim(a.q.strides[2], rows, d), ldk = leading_dim(a.k.strides[2], nk, d);
  const i64 ldo = leading_dim(a.out.strides[2], rows, dv);
  scores(q, ldq, k, ldk, rows, nk, d, a.scale, s);

  for (i64 i = i0; i < i1; ++i) {
    float* row = s + (i - i0) * nk;
    const float* mrow = mask_row(a.mask, i);
    const i64 visible = visible_keys(a, i);
    for (i64 j = 0; j < nk; ++j)
      row[j] = (j >= visible || masked_out(mrow, j)) ? -INFINITY : row[j] + (mrow ? mrow[j] : 0.0f);
    const float lse = softmax::stable_inplace(row, static_cast<std::size_t>(nk));
    if (a.lse.data) *a.lse.row(b, h, i) = lse;
  }

  weighted_sum(a, b, hk, i0, rows, s, o, ldo, panel);
}

/// Pins OpenBLAS to one thread for this call (restored after): our own
/// OpenMP loop owns the cores, so the two never oversubscribe them.
///
/// The OpenMP build of OpenBLAS follows the calling thread's ICV. The pthreads build (the one
/// NumPy loads first in a Python process) has one process-wide setting: the first call in
/// flight saves it and sets 1, the last one out restores it, so that concurrent calls never
/// restore each other's 1 and the host program's BLAS is not left single-threaded.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : saved_icv_(omp_get_max_threads()) {
    omp_set_num_threads(1);
    if (openblas_get_parallel() != 1) return;
    const std::lock_guard lock(pthreads_mutex());
    if (calls_in_flight()++ == 0) {
      saved_pthreads() = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
  }
  ~SingleThreadedBlas() {
    omp_set_num_threads(saved_icv_);
    if (openblas_get_parallel() != 1) return;
    const std::lock_guard lock(pthreads_mutex());
    if (--calls_in_flight() == 0) openblas_set_num_threads(saved_pthreads());
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  static std::mutex& pthreads_mutex() {
    static std::mutex m;
    return m;
  }
  static int& calls_in_flight() {
    static int n = 0;
    return n;
  }
  static int& saved_pthreads() {
    static int n = 1;
    return n;
  }
  int saved_icv_;
};

// Work items are (head, block of kRowBlock query rows), a fixed split, each
// computed by single-threaded sgemm: the result is bitwise the same for any
// thread count. Heads run in waves of `heads_in_flight`, each with its own
// Nq × Nk score matrix, as the conventional materialised-S method does.
constexpr i64 kRowBlock = 64;

void blas_run(const KernelArgs& a) noexcept {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2], dv = a.v.shape[3];
  const i64 heads = B * H, in_flight = heads_in_flight(heads, a.threads);
  const i64 blocks = (nq + kRowBlock - 1) / kRowBlock;
  float* const ws = static_cast<float*>(a.workspace);
  SingleThreadedBlas scope;
  for (i64 first = 0; first < heads; first += in_flight) {
    const i64 wave = std::min(in_flight, heads - first);
#pragma omp parallel for num_threads(a.threads) schedule(dynamic, 1)
    for (i64 item = 0; item < wave * blocks; ++item) {
      const i64 slot = item / blocks, bh = first + slot, i0 = item % blocks * kRowBlock;
      float* panel = ws + in_flight * nq * nk + omp_get_thread_num() * std::min(kKeyChunk, nk) * dv;
      blas_rows(a, bh / H, bh % H, i0, std::min(nq, i0 + kRowBlock), ws + slot * nq * nk, panel);
    }
  }
}

std::size_t blas_workspace(const Problem& p) {
  // The score matrices of the heads in flight, and each thread's V panel (weighted_sum).
  const double bytes = (static_cast<double>(heads_in_flight(p.batch * p.heads, p.threads)) *
                            static_cast<double>(p.q_len) * static_cast<double>(p.kv_len) +
                        static_cast<double>(p.threads) * static_cast<double>(std::min(kKeyChunk, p.kv_len)) *
                            static_cast<double>(p.value_dim)) *
                       sizeof(float);
  return bytes >= 1.8e19 ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(bytes);
}

}  // namespace

BlasBackend blas_backend() {
  BlasBackend b;
  b.config = openblas_get_config();
  b.core = openblas_get_corename();
  // DYNAMIC_ARCH builds fall back to these when they do not know the CPU model.
  const bool old_core = b.core == "Prescott" || b.core == "Core2" || b.core == "Penryn" || b.core == "Nehalem" ||
                        b.core == "Dunnington" || b.core == "Katmai" || b.core == "Coppermine" || b.core == "Northwood";
  const cpu::Features& cpu = cpu::features();
  b.generic_core = old_core && cpu.avx2_fma;
  if (b.generic_core) {
    b.advice = std::string("OpenBLAS did not recognise this CPU and uses its ") + b.core +
               " (SSE) kernels; set OPENBLAS_CORETYPE=" + (cpu.avx512_skx ? "SkylakeX" : "Haswell") +
               " before starting the program for its AVX kernels";
  }
  return b;
}

KernelInfo blas_kernel_info() {
  return widening::widened<blas_workspace, blas_run>(
      {"blas",
       "OpenBLAS sgemm for Q Kᵀ and P V around a stable row softmax; Nq × Nk scores per head",
       {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
       blas_workspace,
       blas_run,
       10});
}

}  // namespace attn
