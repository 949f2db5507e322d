// The portable microkernels: plain loops that state what every SIMD table
// computes (ukernels.hpp). Compiled with the baseline flags.
#include "fused/online_softmax.hpp"
#include "fused/tiling.hpp"
#include "fused/ukernels.hpp"
#include "simd/exp_poly.hpp"

#include <limits>

namespace attn::fused {

namespace {

// The tile of tiling.hpp (the same as AVX2's, so the driver's packing is shared).
constexpr int kMR = tiling(Isa::scalar).mr, kNR = tiling(Isa::scalar).nr;
static_assert(tiling(Isa::scalar).pv_nr == kNR, "the scalar P V tile is its Q K tile");

void qk_scalar(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int m, int n) {
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      float acc = 0.0f;
      for (i64 k = 0; k < kc; ++k) acc += qp[k * kMR + r] * kp[k * kNR + c];
      s[r * lds + c] = acc;
    }
}

void pv_scalar(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int m, int n,
               const float* scale) {
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      float acc = 0.0f;
      for (i64 j = 0; j < kc; ++j) acc += p[r * ldp + j] * v[j * ldv + c];
      o[r * ldo + c] = scale ? scale[r] * o[r * ldo + c] + acc : acc;
    }
}

// K and V of any dtype (float, f16, bf16), widened by to_float as they are read.
template <class T>
void pack_kt_scalar(i64 n, i64 d, const T* k, i64 ldk, float* kp) {
  for (i64 jp = 0; jp * kNR < n; ++jp) {
    float* panel = kp + jp * d * kNR;
    for (i64 c = 0; c < kNR; ++c) {
      const i64 j = jp * kNR + c;
      for (i64 t = 0; t < d; ++t) panel[t * kNR + c] = j < n ? to_float(k[j * ldk + t]) : 0.0f;
    }
  }
}

template <class T>
void pack_v_scalar(i64 n, i64 dv, const T* v, i64 ldv, float* vp) {
  for (i64 s = 0; s * kNR < dv; ++s)
    for (i64 j = 0; j < n; ++j)
      for (i64 c = 0; c < kNR && s * kNR + c < dv; ++c) vp[(s * n + j) * kNR + c] = to_float(v[j * ldv + s * kNR + c]);
}

float rowmax_scalar(const float* x, i64 n) {
  float m = -std::numeric_limits<float>::infinity();
  for (i64 j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;  // NaN compares false: ignored
  return m;
}

float exp2_store_sum_scalar(float* x, i64 n, float m) {
  float sum = 0.0f;
  for (i64 j = 0; j < n; ++j) {
    x[j] = simd::exp2_rr1_p6(x[j] - m);
    sum += x[j];
  }
  return sum;
}

void exp2_scalar_array(const float* x, float* y, i64 n) {
#pragma omp simd
  for (i64 j = 0; j < n; ++j) y[j] = simd::exp2_rr1_p6(x[j]);
}

}  // namespace

Ukernels scalar_ukernels() {
  Ukernels u = {
      Isa::scalar,
      kMR,
      kNR,
      kNR,
      qk_scalar,
      pv_scalar,
      pack_kt_scalar<float>,
      pack_v_scalar<float>,
      online_softmax_step<rowmax_scalar, exp2_store_sum_scalar>,
      exp2_scalar_array,
      1.25f,
      {"f32_qk_6x16__scalar", "f32_pv_6x16__scalar", "f32_softmax_step__scalar_rr1_p6", "f32_exp2__scalar_rr1_p6"}};
  u.pack_kt_f16 = pack_kt_scalar<f16>, u.pack_kt_bf16 = pack_kt_scalar<bf16>;
  u.pack_v_f16 = pack_v_scalar<f16>, u.pack_v_bf16 = pack_v_scalar<bf16>;
  u.store_o_f16 = [](const float* o, float l, f16* out, i64 n) {
    for (i64 t = 0; t < n; ++t) out[t] = to_f16(o[t] / l);
  };
  u.widen_f16 = [](const f16* x, float* y, i64 n) {
    for (i64 t = 0; t < n; ++t) y[t] = to_float(x[t]);
  };
  return u;
}

}  // namespace attn::fused
