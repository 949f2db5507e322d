// merge_partials(): validation, then the shared row merge (row_merge.hpp) over every row.
#include <attn/merge.hpp>

#include "row_merge.hpp"
#include "view_checks.hpp"

#include <string>
#include <vector>

namespace attn {

namespace {

using i64 = std::int64_t;
using detail::Extent;
using detail::fail;
using detail::shape_str;

bool same_view(const ConstTensor& a, const ConstTensor& b) {
  return a.data == b.data && a.shape == b.shape && a.strides == b.strides;
}

std::string indexed(const char* name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

}  // namespace

void merge_partials(std::span<const ConstTensor> outs, std::span<const ConstTensor> lses, Tensor out, Tensor lse) {
  if (outs.size() != lses.size())
    fail("lses: " + std::to_string(lses.size()) + " partial LSEs for " + std::to_string(outs.size()) +
         " partial outputs (outs); expected one each");
  const Extent eo = detail::check_view(out, "out"), el = detail::check_view(lse, "lse");
  const i64 B = out.shape[0], H = out.shape[1], N = out.shape[2], dv = out.shape[3];
  const std::array<i64, 4> lse_want{B, H, N, 1};
  if (lse.shape != lse_want) fail("lse: shape " + shape_str(lse.shape) + ", expected " + shape_str(lse_want));
  detail::check_no_self_overlap(out, "out");
  detail::check_no_self_overlap(lse, "lse");
  if (eo.overlaps(el)) fail("lse: overlaps out");
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const std::string on = indexed("outs", i), ln = indexed("lses", i);
    if (outs[i].shape != out.shape)
      fail(on + ": shape " + shape_str(outs[i].shape) + ", expected " + shape_str(out.shape) + " as out");
    if (lses[i].shape != lse_want)
      fail(ln + ": shape " + shape_str(lses[i].shape) + ", expected " + shape_str(lse_want) + " as lse");
    const Extent e_o = detail::check_view(outs[i], on), e_l = detail::check_view(lses[i], ln);
    // In place: out may be outs[0] itself, lse lses[0] itself; nothing else may overlap an output.
    const bool out_is_it = i == 0 && same_view(outs[0], out), lse_is_it = i == 0 && same_view(lses[0], lse);
    if (!out_is_it && eo.overlaps(e_o)) fail("out: overlaps " + on + " (only outs[0], as the same view, may be out)");
    if (eo.overlaps(e_l)) fail("out: overlaps " + ln);
    if (!lse_is_it && el.overlaps(e_l)) fail("lse: overlaps " + ln + " (only lses[0], as the same view, may be lse)");
    if (el.overlaps(e_o)) fail("lse: overlaps " + on);
  }
  if (B == 0 || H == 0 || N == 0) return;

  // acc: the row's sums, apart from out, which may be outs[0] (read while summing).
  std::vector<float> acc(static_cast<std::size_t>(dv));
  const auto parts = static_cast<i64>(outs.size());
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h)
      for (i64 n = 0; n < N; ++n) {
        // dv = 0: the O views are empty (their data may be null) and only the LSE is merged.
        const auto part = [&](i64 s) {
          return detail::PartialRow{dv > 0 ? outs[s].row(b, h, n) : nullptr, *lses[s].row(b, h, n), 1.0f};
        };
        detail::merge_row<detail::NaturalLogUnits>(parts, part, dv, acc.data(), dv > 0 ? out.row(b, h, n) : nullptr,
                                                   lse.row(b, h, n));
      }
}

}  // namespace attn
