#include "fused/block_loop.hpp"

#include "dtype_rows.hpp"
#include "masking.hpp"

#include "fused/blocking.hpp"
#include "fused/log2_units.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>

namespace attn::fused {

namespace {

using detail::kv_head;
using detail::mask_at;
using detail::row_of;
using detail::visible_keys;
using detail::with_element;

/// Q rows [i0, i0 + rows) of head (b, h) into MR-row panels, times c = scale·log2(e);
/// rows past the end are zero. Panel ip, element (k, r) at qp[(ip·d + k)·MR + r]. Q of element
/// type T (its dtype) is widened here, as it is loaded: f16 by the ISA's widen_f16 a chunk at a
/// time (to_float branches on every element).
template <class T>
void pack_q(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows, float c,
            float* qp) {
  const i64 d = p.d, mr = p.mr, panels = ceil_div(rows, mr);
  for (i64 ip = 0; ip < panels; ++ip) {
    float* panel = qp + ip * d * mr;
    for (i64 r = 0; r < mr; ++r) {
      const i64 row = ip * mr + r;
      if (row < rows) {
        const T* q = row_of<T>(a.q, b, h, i0 + row);
        if constexpr (std::is_same_v<T, f16>) {
          constexpr i64 kChunk = 256;
          float wide[kChunk];
          for (i64 k0 = 0; k0 < d; k0 += kChunk) {
            const i64 n = std::min(kChunk, d - k0);
            uk.widen_f16(q + k0, wide, n);
            for (i64 k = 0; k < n; ++k) panel[(k0 + k) * mr + r] = c * wide[k];
          }
        } else {
          for (i64 k = 0; k < d; ++k) panel[k * mr + r] = c * to_float(q[k]);
        }
      } else {
        for (i64 k = 0; k < d; ++k) panel[k * mr + r] = 0.0f;
      }
    }
  }
}

/// Whether no element is inf or NaN. On the bits, so the loop vectorises (a float compare
/// per element did not, and this scan once took a quarter of a causal 128 × 128 call): an
/// exponent field of all ones, plus one, carries into the sign bit; no other one does.
template <class T>
bool all_finite(const T* v, i64 ldv, i64 rows, i64 cols) {
  std::uint32_t carry = 0;
  for (i64 j = 0; j < rows; ++j)
    for (i64 t = 0; t < cols; ++t)
      carry |= (std::bit_cast<std::uint32_t>(to_float(v[j * ldv + t])) & 0x7f800000u) + 0x00800000u;
  return (carry & 0x80000000u) == 0;
}

/// srow[c] += mask[kb + c]·log2(e) for the visible keys c < vis of a mask row of element type T;
/// a -inf entry selects the key away (-inf, whatever the logit was).
template <class T>
void add_mask_row(const T* mrow, i64 kb, i64 vis, float* srow) {
  for (i64 c = 0; c < vis; ++c) {
    const float m = to_float(mrow[kb + c]);
    srow[c] = m == kNegInf ? kNegInf : srow[c] + m * kLog2e;
  }
}

/// One block of keys [kb, kb + n) for the query rows [i0 + r0, i0 + r0 + rows) of an item (a slice):
/// S = (c·Q) Kᵀ from the packed panels, masking, the online-softmax step, O = alpha·O + P V
/// into the group's partials (op, lp). `first`: the group's first block for these rows (β = 0).
/// `packed`: the block's keys in the packed Kᵀ and V, a prefix holding every key the rows see.
/// `v_finite`: the block's V rows hold no inf or NaN (read only where the slice masks a key).
void slice_step(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 r0, i64 rows, i64 kb,
                i64 n, i64 packed, bool v_finite, bool first, const Scratch& w) {
  const i64 d = p.d, dv = p.dv, mr = p.mr, nr = p.nr, pv_nr = p.pv_nr, lds = p.bc, ldo = p.ldo;
  const i64 hk = kv_head(a, h), row0 = i0 + r0;
  const float* qp = w.qp + r0 * d;  // r0 is a multiple of MR: the slice starts at a panel
  float* o = w.op + r0 * ldo;
  const i64 q_panels = ceil_div(rows, mr);
  // Keys of this block that row panel ip can see at all (causal: its last row sees the most);
  // tiles past it are skipped here and filled with -inf by the masking below.
  auto panel_keys = [&](i64 ip) {
    return std::clamp<i64>(visible_keys(a, row0 + std::min(rows, (ip + 1) * mr) - 1) - kb, 0, n);
  };
  // S = (c·Q) Kᵀ, panel by panel: the Kᵀ panel stays in L1 across the Q panels. (bf16 pairs:
  // S = c·(Q Kᵀ), the panels at the same offsets.)
  const bool bf16_dot = uses_bf16_dot(uk, a.q.dtype, a.k.dtype);
  for (i64 jp = 0; jp < ceil_div(n, nr); ++jp)
    for (i64 ip = 0; ip < q_panels; ++ip)
      if (jp * nr < panel_keys(ip)) {
        const int m = static_cast<int>(std::min(mr, rows - ip * mr));
        float* const st = w.s + ip * mr * lds + jp * nr;
        if (bf16_dot)
          uk.bf16_dot.qk(d, qp + ip * mr * d, w.kp + jp * nr * d, st, lds, m, static_cast<int>(nr), a.scale * kLog2e);
        else
          uk.qk(d, qp + ip * mr * d, w.kp + jp * nr * d, st, lds, m, static_cast<int>(nr));
      }

  // Masking only where some key of the block is hidden from some row: selected-away
  // keys become -inf (overwriting, so a NaN/inf logit there disappears).
  const bool masking = kb + n > visible_keys(a, row0) || a.mask.data != nullptr;
  if (masking)
    for (i64 r = 0; r < rows; ++r) {
      float* srow = w.s + r * lds;
      const i64 vis = std::clamp<i64>(visible_keys(a, row0 + r) - kb, 0, n);
      if (a.mask.data)
        with_element(a.mask.data.dtype, [&]<class T>(T) {
          add_mask_row((a.mask.data + (row0 + r) * a.mask.row_stride).as<T>(), kb, vis, srow);
        });
      std::fill(srow + vis, srow + n, kNegInf);
    }

  // Online softmax: P = 2^(S − m) in place, m and l updated, alpha = the rescale of O
  // (applied by the P V epilogue below: O = alpha·O + P V).
  float* const alpha = w.alpha + r0;
  uk.softmax_step(w.s, lds, rows, n, w.m + r0, w.lp + r0, alpha);

  // O = alpha·O + P V (first block: O = P V). A masked key has p = 0, but 0 · NaN = NaN: when V holds a
  // non-finite value in a block with masked keys, those V rows must not be multiplied in.
  if (masking && !v_finite) {
    // Row by row on a copy of the V block whose rows masked for that row are zero:
    // the same microkernel, the same sums (fma(0, 0, o) = o = fma(0, v, o) for finite v),
    // so the result is bitwise what finite values there would give.
    for (i64 r = 0; r < rows; ++r) {
      const i64 vis = visible_keys(a, row0 + r) - kb;
      for (i64 c = 0; c < n; ++c) {
        if (c >= vis || (a.mask.data && mask_at(a.mask, row0 + r, kb + c) == kNegInf))
          std::fill_n(w.vs + c * dv, dv, 0.0f);
        else
          with_element(a.v.dtype, [&]<class T>(T) {
            const T* vr = row_of<T>(a.v, b, hk, kb + c);
            for (i64 t = 0; t < dv; ++t) w.vs[c * dv + t] = to_float(vr[t]);
          });
      }
      for (i64 c0 = 0; c0 < dv; c0 += pv_nr)
        uk.pv(n, w.s + r * lds, lds, w.vs + c0, dv, o + r * ldo + c0, ldo, 1,
              static_cast<int>(std::min(pv_nr, dv - c0)), first ? nullptr : alpha + r);
    }
    return;
  }
  // Column strips of the packed V outermost: a Bc × PV_NR strip stays in L1 across the row
  // panels. Each panel stops at the last key it can see (its p are 0 beyond); kc = 0 still
  // writes β = 0 zeros, and is otherwise skipped: a panel that sees no key of the block has
  // alpha = 1 (its max did not move).
  for (i64 c0 = 0; c0 < dv; c0 += pv_nr)
    for (i64 ip = 0; ip < q_panels; ++ip) {
      const i64 kc = panel_keys(ip);
      if (kc > 0 || first)
        uk.pv(kc, w.s + ip * mr * lds, lds, w.vp + c0 * packed, pv_nr, o + ip * mr * ldo + c0, ldo,
              static_cast<int>(std::min(mr, rows - ip * mr)), static_cast<int>(std::min(pv_nr, dv - c0)),
              first ? nullptr : alpha + ip * mr);
    }
}

/// Adds the group's partials of rows [r0, r0 + rows) into the totals: with f = 2^(mt − m),
/// o = f·o + op, l = f·l + lp, mt = m (f by one exp2, not a product of the blocks' alphas).
/// The first group, or rows that saw no key before it (mt = -inf), take the partials as they are.
void merge_group(const Plan& p, i64 r0, i64 rows, bool first_group, const Scratch& w) {
  for (i64 r = r0; r < r0 + rows; ++r) {
    float* o = w.o + r * p.ldo;
    const float* op = w.op + r * p.ldo;
    if (first_group || w.mt[r] == kNegInf) {
      std::copy_n(op, p.dv, o);
      w.l[r] = w.lp[r];
    } else {
      const float f = w.m[r] > w.mt[r] ? simd::exp2_rr1_p6(w.mt[r] - w.m[r]) : 1.0f;
      for (i64 t = 0; t < p.dv; ++t) o[t] = f * o[t] + op[t];
      w.l[r] = f * w.l[r] + w.lp[r];
    }
    w.mt[r] = w.m[r];
  }
}

/// Kᵀ panels (and V strips, below) of keys [kb, kb + n) of head (b, hk), by the microkernel for k's dtype
/// (`bf16_dot`: as bf16 pairs, uses_bf16_dot).
void pack_kt(const Ukernels& uk, const AnyConstTensor& k, i64 b, i64 hk, i64 kb, i64 n, bool bf16_dot, float* kp) {
  const i64 d = k.shape[3], ldk = k.strides[2];
  if (bf16_dot) return uk.bf16_dot.pack_kt(n, d, row_of<bf16>(k, b, hk, kb), ldk, kp);
  if (k.dtype == DType::f16) return uk.pack_kt_f16(n, d, row_of<f16>(k, b, hk, kb), ldk, kp);
  if (k.dtype == DType::bf16) return uk.pack_kt_bf16(n, d, row_of<bf16>(k, b, hk, kb), ldk, kp);
  uk.pack_kt(n, d, row_of<float>(k, b, hk, kb), ldk, kp);
}
void pack_v(const Ukernels& uk, const AnyConstTensor& v, i64 b, i64 hk, i64 kb, i64 n, float* vp) {
  const i64 dv = v.shape[3], ldv = v.strides[2];
  if (v.dtype == DType::f16) return uk.pack_v_f16(n, dv, row_of<f16>(v, b, hk, kb), ldv, vp);
  if (v.dtype == DType::bf16) return uk.pack_v_bf16(n, dv, row_of<bf16>(v, b, hk, kb), ldv, vp);
  uk.pack_v(n, dv, row_of<float>(v, b, hk, kb), ldv, vp);
}

}  // namespace

bool block_rows(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows, i64 j0, i64 j1,
                const Scratch& w) {
  const i64 bc = p.bc;
  const i64 hk = kv_head(a, h);
  // Causal keys are a prefix per row, growing with the row: the last row sees the most.
  // Blocks no row sees are skipped, but a block is never cut short: its width (and so the
  // order of every row's max and sum) must not depend on which rows share the item.
  const i64 vis_last = visible_keys(a, i0 + rows - 1);
  if (vis_last <= j0) return false;
  j1 = std::min(j1, j0 + round_up(vis_last - j0, bc));

  const bool bf16_dot = uses_bf16_dot(uk, a.q.dtype, a.k.dtype);
  if (bf16_dot)
    uk.bf16_dot.pack_q(rows, p.d, row_of<bf16>(a.q, b, h, i0), a.q.strides[2], w.qp);
  else
    with_element(a.q.dtype, [&]<class T>(T) { pack_q<T>(a, p, uk, b, h, i0, rows, a.scale * kLog2e, w.qp); });
  std::fill_n(w.m, rows, kNegInf);
  // Whether the slice of rows [r0, r0 + n) takes part in the key block (or group) starting at
  // `key`: the very first block always (it writes the slice's zeros); later ones only if its
  // last row sees that key. Visibility is a prefix, so a slice that takes part in any block of
  // a group takes part in its first one, which is therefore where its `first` (β = 0) falls.
  auto takes_part = [&](i64 r0, i64 n, i64 key) { return key == j0 || key < visible_keys(a, i0 + r0 + n - 1); };
  const i64 group_keys = kBlocksPerGroup * bc;
  for (i64 g0 = j0; g0 < j1; g0 += group_keys) {
    const i64 g1 = std::min(j1, g0 + group_keys);
    std::fill_n(w.lp, rows, 0.0f);
    for (i64 kb = g0; kb < g1; kb += bc) {
      const i64 n = std::min(bc, g1 - kb);
      // Keys past the item's last visible one are never read from the packed blocks (their
      // Q Kᵀ tiles are skipped and masked, their p are 0 and P V stops before them): under a
      // causal mask an item of rows before the block's end packs only what its rows see.
      const i64 packed = std::min(n, vis_last - kb);
      pack_kt(uk, a.k, b, hk, kb, packed, bf16_dot, w.kp);
      pack_v(uk, a.v, b, hk, kb, packed, w.vp);
      // V is scanned once per block, and only where a row of the item may mask a key of it.
      const bool may_mask = kb + n > visible_keys(a, i0) || a.mask.data != nullptr;
      const bool v_finite = !may_mask || with_element(a.v.dtype, [&]<class T>(T) {
        return all_finite(row_of<T>(a.v, b, hk, kb), a.v.strides[2], n, p.dv);
      });
      for (i64 r0 = 0; r0 < rows; r0 += p.bs) {
        const i64 slice = std::min(p.bs, rows - r0);
        if (takes_part(r0, slice, kb)) slice_step(a, p, uk, b, h, i0, r0, slice, kb, n, packed, v_finite, kb == g0, w);
      }
    }
    for (i64 r0 = 0; r0 < rows; r0 += p.bs) {  // the slices that took part in this group
      const i64 slice = std::min(p.bs, rows - r0);
      if (takes_part(r0, slice, g0)) merge_group(p, r0, slice, g0 == j0, w);
    }
  }
  return true;
}

namespace {

/// write_rows for an O of element type T: O / l narrowed once, as it is stored.
template <class T>
void write_rows_as(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows,
                   const Scratch& w, bool any) {
  for (i64 r = 0; r < rows; ++r) {
    T* out = row_of<T>(a.out, b, h, i0 + r);
    const float m = any ? w.m[r] : kNegInf;
    // Every key masked: 0 and -inf. (m = -inf with l = NaN is a row of NaN logits: it falls through.)
    float* const lse = detail::lse_row(a, b, h, i0 + r);
    if (!any || (m == kNegInf && w.l[r] == 0.0f)) {
      std::fill_n(out, p.dv, T{});  // +0 in every dtype
      if (lse) *lse = kNegInf;
      continue;
    }
    const float l = w.l[r];
    const float* orow = w.o + r * p.ldo;
    if constexpr (std::is_same_v<T, f16>)
      uk.store_o_f16(orow, l, out, p.dv);  // F16C: a scalar narrowing took 24 instructions an element
    else
      for (i64 t = 0; t < p.dv; ++t) out[t] = detail::narrow<T>(orow[t] / l);
    if (lse) *lse = lse_from_log2(m, l);
  }
}

}  // namespace

void write_rows(const KernelArgs& a, const Plan& p, const Ukernels& uk, i64 b, i64 h, i64 i0, i64 rows,
                const Scratch& w, bool any) {
  with_element(a.out.dtype, [&]<class T>(T) { write_rows_as<T>(a, p, uk, b, h, i0, rows, w, any); });
}

}  // namespace attn::fused
