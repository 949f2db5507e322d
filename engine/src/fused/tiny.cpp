#include "fused/tiny.hpp"

#include "masking.hpp"

#include "fused/log2_units.hpp"
#include "fused/plan.hpp"

#include <algorithm>

namespace attn::fused {

using detail::kv_head;
using detail::mask_row;
using detail::masked_out;
using detail::visible_keys;

namespace {

/// Independent sums advanced together (four keys' dot products, four columns of an O row):
/// each is still summed in the specification's order, so the bits are those of one sum at a time.
constexpr i64 kLanes = 4;

}  // namespace

void run_tiny(const KernelArgs& a, const Ukernels& uk) {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2];
  const i64 d = a.q.shape[3], dv = a.v.shape[3];
  const float c = a.scale * kLog2e;
  const float* krow[kTinyMaxN + kLanes];     // the head's key and value rows, addressed once per head;
  const float* vrow[kTinyMaxN];              // keys past nk repeat row 0 (their dots are never used)
  const float* vkey[kTinyMaxN * kTinyMaxN];  // the V row of each visible key of each row, in order
  float s[kTinyMaxN * kTinyMaxN];            // their logits minus the row max, then their p
  i64 first[kTinyMaxN + 1];                  // row i's entries at [first[i], first[i + 1])
  float m[kTinyMaxN];
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h) {
      const i64 hk = kv_head(a, h);
      for (i64 j = 0; j < nk; ++j) krow[j] = a.k.as<float>().row(b, hk, j), vrow[j] = a.v.as<float>().row(b, hk, j);
      for (i64 j = nk; j < round_up(nk, kLanes); ++j) krow[j] = krow[0];
      i64 e = 0;
      for (i64 i = 0; i < nq; ++i) {
        const float* mrow = mask_row(a.mask, i);
        const float* q = a.q.as<float>().row(b, h, i);
        const i64 vis = visible_keys(a, i);
        first[i] = e;
        float mi = kNegInf;  // running max, NaN ignored: a NaN logit shows up in l below
        for (i64 j0 = 0; j0 < vis; j0 += kLanes) {
          float dot[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
          for (i64 t = 0; t < d; ++t)
            for (i64 u = 0; u < kLanes; ++u) dot[u] += q[t] * krow[j0 + u][t];
          for (i64 u = 0; u < kLanes && j0 + u < vis; ++u) {
            const i64 j = j0 + u;
            if (masked_out(mrow, j)) continue;  // a hidden key's dot product is never used
            vkey[e] = vrow[j];
            s[e] = dot[u] * c + (mrow ? mrow[j] * kLog2e : 0.0f);
            mi = s[e] > mi ? s[e] : mi;
            ++e;
          }
        }
        m[i] = mi;
        const float mu = mi == kNegInf ? 0.0f : mi;  // never exp2(-inf − (-inf))
        for (i64 u = first[i]; u < e; ++u) s[u] -= mu;
      }
      first[nq] = e;
      uk.exp2(s, s, e);
      for (i64 i = 0; i < nq; ++i) {
        const i64 u0 = first[i], u1 = first[i + 1];
        float l = 0.0f;
        for (i64 u = u0; u < u1; ++u) l += s[u];
        float* out = a.out.as<float>().row(b, h, i);
        float* const lse = detail::lse_row(a, b, h, i);
        if (m[i] == kNegInf && l == 0.0f) {  // every key masked
          detail::write_no_keys_row(out, dv, lse);
          continue;
        }
        // O row = Σ_u p_u · v_u over the row's keys in order, kLanes columns at a time.
        i64 t0 = 0;
        for (; t0 + kLanes <= dv; t0 += kLanes) {
          float acc[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
          for (i64 u = u0; u < u1; ++u)
            for (i64 t = 0; t < kLanes; ++t) acc[t] += s[u] * vkey[u][t0 + t];
          for (i64 t = 0; t < kLanes; ++t) out[t0 + t] = acc[t] / l;
        }
        for (; t0 < dv; ++t0) {
          float acc = 0.0f;
          for (i64 u = u0; u < u1; ++u) acc += s[u] * vkey[u][t0];
          out[t0] = acc / l;
        }
        if (lse) *lse = lse_from_log2(m[i], l);
      }
    }
}

}  // namespace attn::fused
