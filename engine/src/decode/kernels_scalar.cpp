// The decode loops as plain C++: the specification the SIMD versions are tested against
// (kernels.hpp states the contract), for each K/V element type.
#include "decode/kernels.hpp"

namespace attn::decode {

namespace {

/// s = c · q·k per row and key: an fp32 dot product in t order, 16-bit elements widened exactly.
template <class T>
void scores_scalar(int rows, const float* const* q, i64 d, const T* k, i64 ldk, i64 n, float c, float* s, i64 lds,
                   Ahead<T>) {
  for (i64 j = 0; j < n; ++j)
    for (int r = 0; r < rows; ++r) {
      float dot = 0.0f;
      for (i64 t = 0; t < d; ++t) dot += q[r][t] * to_float(k[j * ldk + t]);
      s[r * lds + j] = c * dot;
    }
}

template <class T>
void pv_scalar(int rows, const float* p, i64 ldp, const T* v, i64 ldv, i64 n, i64 dv, float* const* o,
               const float* alpha, Ahead<T>) {
  for (int r = 0; r < rows; ++r)
    for (i64 t = 0; t < dv; ++t) {
      float a = 0.0f;
      for (i64 j = 0; j < n; ++j) a += p[r * ldp + j] * to_float(v[j * ldv + t]);
      o[r][t] = alpha[r] * o[r][t] + a;
    }
}

/// The two calls, one after the other.
template <class T>
void pv_scores_scalar(const float* p, const T* v, i64 ldv, i64 npv, i64 dv, float* o, float alpha, Ahead<T>,
                      const float* q, i64 d, const T* k, i64 ldk, i64 nsc, float c, float* s, Ahead<T>) {
  pv_scalar<T>(1, p, 1, v, ldv, npv, dv, &o, &alpha, {});
  scores_scalar<T>(1, &q, d, k, ldk, nsc, c, s, 1, {});
}

template <class T>
Loops<T> loops() {
  return {scores_scalar<T>, pv_scalar<T>, pv_scores_scalar<T>};
}

}  // namespace

Kernels scalar_kernels() {
  return {Isa::scalar, loops<float>(), loops<f16>(), loops<bf16>()};
}

}  // namespace attn::decode
