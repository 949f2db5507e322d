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

void run_tiny(const KernelArgs& a, const Ukernels& uk) {
  const i64 B = a.q.shape[0], H = a.q.shape[1], nq = a.q.shape[2], nk = a.k.shape[2];
  const i64 d = a.q.shape[3], dv = a.v.shape[3];
  const float c = a.scale * kLog2e;
  const float* krow[kTinyMaxN];  // the head's key and value rows, addressed once per head
  const float* vrow[kTinyMaxN];
  i64 keys[kTinyMaxN * kTinyMaxN];  // row i's visible keys at keys[first[i] ..< first[i + 1]]
  float s[kTinyMaxN * kTinyMaxN];   // their logits minus the row max, then their p
  i64 first[kTinyMaxN + 1];
  float m[kTinyMaxN];
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h) {
      const i64 hk = kv_head(a, h);
      for (i64 j = 0; j < nk; ++j) krow[j] = a.k.row(b, hk, j), vrow[j] = a.v.row(b, hk, j);
      i64 e = 0;
      for (i64 i = 0; i < nq; ++i) {
        const float* mrow = mask_row(a.mask, i);
        const float* q = a.q.row(b, h, i);
        first[i] = e;
        m[i] = kNegInf;  // running max, NaN ignored: a NaN logit shows up in l below
        for (i64 j = 0, vis = visible_keys(a, i); j < vis; ++j) {
          if (masked_out(mrow, j)) continue;
          float dot = 0.0f;
          for (i64 t = 0; t < d; ++t) dot += q[t] * krow[j][t];
          keys[e] = j;
          s[e] = dot * c + (mrow ? mrow[j] * kLog2e : 0.0f);
          m[i] = s[e] > m[i] ? s[e] : m[i];
          ++e;
        }
        const float mu = m[i] == kNegInf ? 0.0f : m[i];  // never exp2(-inf − (-inf))
        for (i64 u = first[i]; u < e; ++u) s[u] -= mu;
      }
      first[nq] = e;
      uk.exp2(s, s, e);
      for (i64 i = 0; i < nq; ++i) {
        float l = 0.0f;
        for (i64 u = first[i]; u < first[i + 1]; ++u) l += s[u];
        float* out = a.out.row(b, h, i);
        float* const lse = detail::lse_row(a, b, h, i);
        if (m[i] == kNegInf && l == 0.0f) {  // every key masked
          detail::write_no_keys_row(out, dv, lse);
          continue;
        }
        for (i64 t = 0; t < dv; ++t) {
          float acc = 0.0f;
          for (i64 u = first[i]; u < first[i + 1]; ++u) acc += s[u] * vrow[keys[u]][t];
          out[t] = acc / l;
        }
        if (lse) *lse = lse_from_log2(m[i], l);
      }
    }
}

}  // namespace attn::fused
