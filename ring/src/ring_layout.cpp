// Which rows each rank holds, and copying a rank's rows out of / into a whole tensor.
#include <attn/ring.hpp>

#include <algorithm>
#include <cstring>
#include <string>

namespace attn {

std::vector<RowRange> ring_rows(RingLayout layout, std::int64_t n, int ranks, int rank) {
  if (ranks < 1) throw Error("ring_rows: ranks must be >= 1, got " + std::to_string(ranks));
  if (rank < 0 || rank >= ranks)
    throw Error("ring_rows: rank must be in [0, " + std::to_string(ranks) + "), got " + std::to_string(rank));
  if (n < 0) throw Error("ring_rows: n must be >= 0, got " + std::to_string(n));
  const std::int64_t P = ranks;
  const auto cut = [n](std::int64_t c, std::int64_t parts) { return c * n / parts; };
  if (layout == RingLayout::contiguous) return {{cut(rank, P), cut(rank + 1, P) - cut(rank, P)}};
  const std::int64_t a = rank, b = 2 * P - 1 - rank;
  return {{cut(a, 2 * P), cut(a + 1, 2 * P) - cut(a, 2 * P)}, {cut(b, 2 * P), cut(b + 1, 2 * P) - cut(b, 2 * P)}};
}

namespace {

/// Copies `rows` of `from` (global) to consecutive rows of `to` (local), or the reverse.
template <bool kToGlobal>
void copy_rows(ConstTensor from, std::span<const RowRange> rows, Tensor to, const char* fn) {
  const ConstTensor global = kToGlobal ? ConstTensor(to) : from;
  const ConstTensor local = kToGlobal ? from : ConstTensor(to);
  std::int64_t total = 0;
  for (const RowRange r : rows) {
    if (r.start < 0 || r.length < 0 || r.start + r.length > global.rows())
      throw Error(std::string(fn) + ": row range [" + std::to_string(r.start) + ", " +
                  std::to_string(r.start + r.length) + ") is outside the global view's " +
                  std::to_string(global.rows()) + " rows");
    total += r.length;
  }
  for (int i : {0, 1, 3})
    if (global.shape[i] != local.shape[i])
      throw Error(std::string(fn) + ": global and local views differ in dimension " + std::to_string(i));
  if (local.rows() != total)
    throw Error(std::string(fn) + ": the local view has " + std::to_string(local.rows()) + " rows, the ranges hold " +
                std::to_string(total));
  const auto bytes = static_cast<std::size_t>(global.cols()) * sizeof(float);
  if (bytes == 0) return;  // rows of no columns (a mask over zero keys): nothing to copy, maybe no data
  for (std::int64_t b = 0; b < global.batch(); ++b)
    for (std::int64_t h = 0; h < global.heads(); ++h) {
      std::int64_t l = 0;
      for (const RowRange r : rows)
        for (std::int64_t i = 0; i < r.length; ++i, ++l) {
          if constexpr (kToGlobal)
            std::memcpy(to.row(b, h, r.start + i), from.row(b, h, l), bytes);
          else
            std::memcpy(to.row(b, h, l), from.row(b, h, r.start + i), bytes);
        }
    }
}

}  // namespace

void gather_rows(ConstTensor global, std::span<const RowRange> rows, Tensor local) {
  copy_rows<false>(global, rows, local, "gather_rows");
}

void scatter_rows(ConstTensor local, std::span<const RowRange> rows, Tensor global) {
  copy_rows<true>(local, rows, global, "scatter_rows");
}

}  // namespace attn
