#include "fused/split_kv.hpp"

#include "dtype_rows.hpp"
#include "masking.hpp"
#include "row_merge.hpp"

#include "fused/log2_units.hpp"

#include <algorithm>

namespace attn::fused {

float* partial_rows(const Plan& p, float* partials, i64 bh, i64 qb, i64 split) {
  return partials + ((bh * p.nqb + qb) * p.nsplit + split) * p.nq * p.partial_row;  // nqb = 1, qb = 0
}

void save_partial(const Plan& p, i64 rows, const Scratch& w, bool any, float* dst) {
  for (i64 r = 0; r < rows; ++r) {
    float* row = dst + r * p.partial_row;
    row[p.dv] = any ? w.m[r] : kNegInf;
    row[p.dv + 1] = any ? w.l[r] : 0.0f;
    if (any) std::copy_n(w.o + r * p.ldo, p.dv, row);
  }
}

void merge_split_row(const KernelArgs& a, const Plan& p, float* partials, i64 bh, i64 qb, i64 r, float* acc) {
  const i64 b = bh / a.q.shape[1], h = bh % a.q.shape[1], i = qb * p.br + r;
  const auto part = [&](i64 s) {
    const float* row = partial_rows(p, partials, bh, qb, s) + r * p.partial_row;
    return detail::PartialRow{row, row[p.dv], row[p.dv + 1]};
  };
  if (a.out.dtype == DType::f32) {
    float* out = a.out.as<float>().row(b, h, i);
    detail::merge_row<Log2Units>(p.nsplit, part, p.dv, out, out, detail::lse_row(a, b, h, i));
    return;
  }
  // A 16-bit O: merged in fp32 in acc, narrowed once as it is stored.
  detail::merge_row<Log2Units>(p.nsplit, part, p.dv, acc, acc, detail::lse_row(a, b, h, i));
  detail::store_row(acc, a.out, b, h, i, p.dv);
}

}  // namespace attn::fused
