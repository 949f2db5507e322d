// The fused kernel's microkernels written once over an ISA's vector traits V (simd/avx2.hpp,
// simd/avx512.hpp: W floats per register) and a register tile; ukernel_<isa>.cpp instantiates
// them with its flags. The contract is ukernels.hpp's; ukernel_scalar.cpp is the readable
// specification. Internal linkage (a unit per ISA: see simd/exp_poly.hpp).
//
// Tiles (BLIS's register blocking): Q Kᵀ is MR × NR, NR = QkVecs·W, with MR·QkVecs
// accumulators, QkVecs loads of the packed Kᵀ row and MR broadcasts of Q per step; P V is
// MR × PV_NR, PV_NR = PvVecs·W, the same on the V strip and the P rows. Tails (n < NR, d
// not a multiple of W) use the ISA's masked loads and stores, which never touch masked-off
// memory; full tiles load and store unmasked.
#pragma once

#include "fused/online_softmax.hpp"
#include "fused/ukernels.hpp"
#include "simd/exp_poly.hpp"
#include "simd/kernel_name.hpp"

namespace attn::fused {
namespace {

/// f.operator()<M>() for the row count m in [1, MAX] (the tile's rows as a
/// compile-time constant, so its loops unroll into registers).
template <int MAX, class F>
inline void with_rows(int m, F&& f) {
  if constexpr (MAX == 1)
    f.template operator()<1>();
  else if (m == MAX)
    f.template operator()<MAX>();
  else
    with_rows<MAX - 1>(m, f);
}

template <class V, int MR_, int QkVecs, int PvVecs>
struct SimdUkernels {
  using reg = typename V::reg;
  using mask = typename V::mask;
  static constexpr int W = V::W, MR = MR_, NR = QkVecs * W, PV_NR = PvVecs * W;

  /// S tile = Q panel · Kᵀ panel, m rows known at compile time; kScaled: times `scale` as it is
  /// stored. kChains: accumulator sets, step k into set k mod kChains, added at the end (more
  /// independent chains where an instruction's latency exceeds MR·QkVecs / its throughput).
  template <int M, bool kScaled = false, int kChains = 1>
  static void qk_tile(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int n, float scale = 1.0f) {
    reg c[kChains][M][QkVecs];
#pragma GCC unroll 2
    for (int h = 0; h < kChains; ++h)
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < QkVecs; ++q) c[h][r][q] = V::zero();
    auto step = [&](reg(&acc)[M][QkVecs]) {
      reg b[QkVecs];
#pragma GCC unroll 4
      for (int q = 0; q < QkVecs; ++q) b[q] = V::load(kp + q * W);
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        const reg a = V::broadcast(qp + r);
#pragma GCC unroll 4
        for (int q = 0; q < QkVecs; ++q) acc[r][q] = V::fma(a, b[q], acc[r][q]);
      }
      qp += MR;
      kp += NR;
    };
    i64 k = 0;
    for (; k + kChains <= kc; k += kChains)
#pragma GCC unroll 2
      for (int h = 0; h < kChains; ++h) step(c[h]);
    for (; k < kc; ++k) step(c[0]);
#pragma GCC unroll 2
    for (int h = 1; h < kChains; ++h)
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < QkVecs; ++q) c[0][r][q] = V::add(c[0][r][q], c[h][r][q]);
    if constexpr (kScaled) {
      const reg f = V::set1(scale);
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < QkVecs; ++q) c[0][r][q] = V::mul(c[0][r][q], f);
    }
    if (n == NR) {
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < QkVecs; ++q) V::store(s + r * lds + q * W, c[0][r][q]);
      return;
    }
    mask mk[QkVecs];
#pragma GCC unroll 4
    for (int q = 0; q < QkVecs; ++q) mk[q] = V::first(n - q * W);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
      for (int q = 0; q < QkVecs; ++q) V::store_masked(s + r * lds + q * W, mk[q], c[0][r][q]);
  }

  static void qk(i64 kc, const float* qp, const float* kp, float* s, i64 lds, int m, int n) {
    with_rows<MR>(m, [&]<int M>() { qk_tile<M>(kc, qp, kp, s, lds, n); });
  }

  /// O tile = (α·O +) P · V, m rows known at compile time; kFull: n == PV_NR, nothing masked.
  template <int M, bool kFull>
  static void pv_tile(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int n,
                      const float* scale) {
    reg c[M][PvVecs];
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
      for (int q = 0; q < PvVecs; ++q) c[r][q] = V::zero();
    mask mk[PvVecs];
#pragma GCC unroll 4
    for (int q = 0; q < PvVecs; ++q) mk[q] = V::first(kFull ? W : n - q * W);
    auto load = [&](int q, const float* x) { return kFull ? V::load(x) : V::load_masked(x, mk[q]); };
    for (i64 j = 0; j < kc; ++j) {
      const float* vr = v + j * ldv;
      reg b[PvVecs];
#pragma GCC unroll 4
      for (int q = 0; q < PvVecs; ++q) b[q] = load(q, vr + q * W);
#pragma GCC unroll 6
      for (int r = 0; r < M; ++r) {
        const reg a = V::broadcast(p + r * ldp + j);
#pragma GCC unroll 4
        for (int q = 0; q < PvVecs; ++q) c[r][q] = V::fma(a, b[q], c[r][q]);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      float* orow = o + r * ldo;
      if (scale) {
        const reg alpha = V::broadcast(scale + r);
#pragma GCC unroll 4
        for (int q = 0; q < PvVecs; ++q) c[r][q] = V::fma(alpha, load(q, orow + q * W), c[r][q]);
      }
#pragma GCC unroll 4
      for (int q = 0; q < PvVecs; ++q) {
        if (kFull)
          V::store(orow + q * W, c[r][q]);
        else
          V::store_masked(orow + q * W, mk[q], c[r][q]);
      }
    }
  }

  static void pv(i64 kc, const float* p, i64 ldp, const float* v, i64 ldv, float* o, i64 ldo, int m, int n,
                 const float* scale) {
    with_rows<MR>(m, [&]<int M>() {
      if (n == PV_NR)
        pv_tile<M, true>(kc, p, ldp, v, ldv, o, ldo, n, scale);
      else
        pv_tile<M, false>(kc, p, ldp, v, ldv, o, ldo, n, scale);
    });
  }

  /// Kᵀ-style panels by W × W register transposes: ceil(n / NR) panels of `depth` rows of NR
  /// lanes, panel jp at kp + jp·stride; load(j, t0, count, first(count)) gives lanes [t0, t0 + count)
  /// of key j's row (count <= W, the rest zero). Missing keys are zeros.
  template <class Load>
  static void pack_panels(i64 n, i64 depth, i64 stride, float* kp, Load load) {
    for (i64 jp = 0; jp * NR < n; ++jp) {
      float* panel = kp + jp * stride;
      for (int part = 0; part < QkVecs; ++part) {
        const i64 j0 = jp * NR + part * W;
        const i64 rows = n - j0 < 0 ? 0 : (n - j0 < W ? n - j0 : W);
        for (i64 t0 = 0; t0 < depth; t0 += W) {
          const i64 count = depth - t0 < W ? depth - t0 : W;
          const mask mk = V::first(count);
          reg r[W];
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i) r[i] = i >= rows ? V::zero() : load(j0 + i, t0, count, mk);
          V::transpose(r);
#pragma GCC unroll 16
          for (int t = 0; t < W; ++t)
            if (t < count) V::store(panel + (t0 + t) * NR + part * W, r[t]);
        }
      }
    }
  }

  /// Kᵀ panels; the d tail by masked loads. T: float, f16 or bf16 (the traits' loads widen
  /// 16-bit values exactly).
  template <class T>
  static void pack_kt(i64 n, i64 d, const T* k, i64 ldk, float* kp) {
    pack_panels(n, d, d * NR, kp, [=](i64 j, i64 t0, i64 count, mask mk) {
      const T* src = k + j * ldk + t0;
      return count == W ? V::load(src) : V::load_masked(src, mk);
    });
  }

  /// V in column strips of PV_NR (the last one's columns past dv unwritten).
  template <class T>
  static void pack_v(i64 n, i64 dv, const T* v, i64 ldv, float* vp) {
    for (i64 s = 0; s * PV_NR < dv; ++s) {
      const i64 cols = dv - s * PV_NR < PV_NR ? dv - s * PV_NR : PV_NR;
      const T* src = v + s * PV_NR;
      float* dst = vp + s * n * PV_NR;
      if (cols == PV_NR) {
        for (i64 j = 0; j < n; ++j)
#pragma GCC unroll 4
          for (int q = 0; q < PvVecs; ++q) V::store(dst + j * PV_NR + q * W, V::load(src + j * ldv + q * W));
        continue;
      }
      mask mk[PvVecs];
#pragma GCC unroll 4
      for (int q = 0; q < PvVecs; ++q) mk[q] = V::first(cols - q * W);
      for (i64 j = 0; j < n; ++j)
#pragma GCC unroll 4
        for (int q = 0; q < PvVecs; ++q)
          V::store_masked(dst + j * PV_NR + q * W, mk[q], V::load_masked(src + j * ldv + q * W, mk[q]));
    }
  }

  static void store_o_f16(const float* o, float l, f16* out, i64 n) {
    const reg vl = V::set1(l);
    i64 t = 0;
    for (; t + W <= n; t += W) V::store(out + t, V::div(V::load(o + t), vl));
    if (t < n) {
      const mask mk = V::first(n - t);
      V::store_masked(out + t, mk, V::div(V::load_masked(o + t, mk), vl));
    }
  }

  static void widen_f16(const f16* x, float* y, i64 n) {
    i64 t = 0;
    for (; t + W <= n; t += W) V::store(y + t, V::load(x + t));
    if (t < n) {
      const mask mk = V::first(n - t);
      V::store_masked(y + t, mk, V::load_masked(x + t, mk));
    }
  }

  /// Max of x[0, n) ignoring NaN (-inf when none): 2 vectors per step ("u2W_acc2").
  static float rowmax(const float* x, i64 n) {
    const reg ninf = V::set1(-__builtin_inff());
    reg m0 = ninf, m1 = ninf;
    i64 j = 0;
    // max(a, b) returns b when either is NaN: with the running max second, NaN is ignored.
    for (; j + 2 * W <= n; j += 2 * W) {
      m0 = V::max(V::load(x + j), m0);
      m1 = V::max(V::load(x + j + W), m1);
    }
    // A whole register left (a decode step of one register of keys: AVX2's fp32 and AVX-512's
    // 16-bit passes of 4 rows): unmasked loads and stores here and below, not the masked tail's.
    // Same values, same order of the sums; such a pass with K/V in L2 took 3-4 % less (Zen 5).
    if (j + W <= n) {
      m0 = V::max(V::load(x + j), m0);
      j += W;
    }
    for (; j < n; j += W) m0 = V::max(V::load_masked_or(x + j, V::first(n - j), ninf), m0);
    return V::hmax(V::max(m0, m1));
  }

  /// x[j] = exp2_rr1_p6(x[j] − m) for j < n, returning their sum: 2 vectors per step, 2 accumulators.
  static float exp2_store_sum(float* x, i64 n, float m) {
    const reg vm = V::set1(m);
    reg s0 = V::zero(), s1 = V::zero();
    i64 j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
      const reg e0 = simd::exp2_rr1_p6<V>(V::sub(V::load(x + j), vm));
      const reg e1 = simd::exp2_rr1_p6<V>(V::sub(V::load(x + j + W), vm));
      V::store(x + j, e0);
      V::store(x + j + W, e1);
      s0 = V::add(s0, e0);
      s1 = V::add(s1, e1);
    }
    if (j + W <= n) {  // a whole register left: unmasked, summed where the tail would sum it
      const reg e = simd::exp2_rr1_p6<V>(V::sub(V::load(x + j), vm));
      V::store(x + j, e);
      s0 = V::add(s0, e);
      j += W;
    }
    for (; j < n; j += W) {
      const mask mk = V::first(n - j);
      const reg e = simd::exp2_rr1_p6<V>(V::sub(V::load_masked(x + j, mk), vm));
      V::store_masked(x + j, mk, e);
      s0 = V::add(s0, V::keep(mk, e));
    }
    return V::hsum(V::add(s0, s1));
  }

  static void exp2(const float* x, float* y, i64 n) {
    i64 j = 0;
    for (; j + W <= n; j += W) V::store(y + j, simd::exp2_rr1_p6<V>(V::load(x + j)));
    if (j < n) {
      const mask mk = V::first(n - j);
      V::store_masked(y + j, mk, simd::exp2_rr1_p6<V>(V::load_masked(x + j, mk)));
    }
  }

  static constexpr simd::KernelName kQkName = simd::KernelName() << "f32_qk_" << MR << "x" << NR << "__" << V::kFmaName;
  static constexpr simd::KernelName kPvName = simd::KernelName()
                                              << "f32_pv_" << MR << "x" << PV_NR << "__" << V::kFmaName;
  static constexpr simd::KernelName kSoftmaxName = simd::KernelName() << "f32_softmax_step__" << V::kName << "_rr1_p6_u"
                                                                      << 2 * W << "_acc2";
  static constexpr simd::KernelName kExp2Name = simd::KernelName() << "f32_exp2__" << V::kName << "_rr1_p6_u" << W;

  static Ukernels table(Isa isa, float exp2_max_ulp) {
    Ukernels u = {isa,
                  MR,
                  NR,
                  PV_NR,
                  qk,
                  pv,
                  pack_kt<float>,
                  pack_v<float>,
                  online_softmax_step<rowmax, exp2_store_sum>,
                  exp2,
                  exp2_max_ulp,
                  {kQkName.s, kPvName.s, kSoftmaxName.s, kExp2Name.s}};
    u.pack_kt_f16 = pack_kt<f16>, u.pack_kt_bf16 = pack_kt<bf16>;
    u.pack_v_f16 = pack_v<f16>, u.pack_v_bf16 = pack_v<bf16>;
    u.store_o_f16 = store_o_f16, u.widen_f16 = widen_f16;
    return u;
  }
};

}  // namespace
}  // namespace attn::fused
