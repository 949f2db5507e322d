// The decode loops as plain C++: the specification the SIMD versions are tested against
// (kernels.hpp states the contract).
#include "decode/kernels.hpp"

namespace attn::decode {

namespace {

/// A K or V element as fp32 (the one place a 16-bit type would convert).
inline float load_kv(const float* p) {
  return *p;
}

void scores_scalar(int rows, const float* const* q, i64 d, const float* k, i64 ldk, i64 n, float c, float* s, i64 lds,
                   Ahead) {
  for (i64 j = 0; j < n; ++j)
    for (int r = 0; r < rows; ++r) {
      float dot = 0.0f;
      for (i64 t = 0; t < d; ++t) dot += q[r][t] * load_kv(k + j * ldk + t);
      s[r * lds + j] = c * dot;
    }
}

void pv_scalar(int rows, const float* p, i64 ldp, const float* v, i64 ldv, i64 n, i64 dv, float* const* o,
               const float* alpha, Ahead) {
  for (int r = 0; r < rows; ++r) {
    float* orow = o[r];
    for (i64 t = 0; t < dv; ++t) orow[t] *= alpha[r];
    for (i64 j = 0; j < n; ++j) {
      const float pj = p[r * ldp + j];
      for (i64 t = 0; t < dv; ++t) orow[t] += pj * load_kv(v + j * ldv + t);
    }
  }
}

}  // namespace

Kernels scalar_kernels() {
  return {Isa::scalar, scores_scalar, pv_scalar};
}

}  // namespace attn::decode
