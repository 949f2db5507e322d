#include "widening.hpp"

#include "dtype_rows.hpp"
#include "team.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

namespace attn::widening {

namespace {

using i64 = std::int64_t;

/// Nothing to copy: every dtype f32 (K and V may be anything under keep.kv, Q under keep.q).
constexpr bool all_f32(const DTypes& t, bool mask, Keep keep) {
  return (keep.q || t.q == DType::f32) && (keep.kv || (t.k == DType::f32 && t.v == DType::f32)) &&
         t.out == DType::f32 && (!mask || t.mask == DType::f32);
}

/// Bytes of an fp32 copy of `elements`, rounded up to 64 (each copy starts 64-byte aligned).
double copy_bytes(double elements) {
  return std::ceil(elements * sizeof(float) / 64.0) * 64.0;
}

/// f(r) for rows 0..rows-1 in runs of 64 over the engine's helper team (team.hpp): a few rows
/// (a decode call's Q and O) are one run, done by the caller without waking anyone.
template <class F>
void for_rows(i64 rows, int threads, F&& f) {
  team::run_in_runs(threads, rows, 64, [&](int, i64 r) { f(r); });
}

/// A dense fp32 [B, H, N, D] copy of `src` at `dst`, rows spread over `threads`.
Tensor widen(const AnyConstTensor& src, float* dst, int threads) {
  const Tensor c = Tensor::contiguous(dst, src.shape[0], src.shape[1], src.shape[2], src.shape[3]);
  const i64 H = src.shape[1], N = src.shape[2], D = src.shape[3], rows = src.shape[0] * H * N;
  for_rows(rows, threads, [&](i64 r) {
    const i64 b = r / (H * N), h = r / N % H, n = r % N;
    detail::with_element(src.dtype, [&]<class T>(T) {
      const T* s = detail::row_of<T>(src, b, h, n);
      float* d = c.row(b, h, n);
      for (i64 t = 0; t < D; ++t) d[t] = to_float(s[t]);
    });
  });
  return c;
}

/// `dst` (16-bit) = `src` (fp32, same shape) rounded to nearest even.
void narrow(const Tensor& src, const AnyTensor& dst, int threads) {
  const i64 H = src.shape[1], N = src.shape[2], D = src.shape[3], rows = src.shape[0] * H * N;
  for_rows(rows, threads, [&](i64 r) {
    const i64 b = r / (H * N), h = r / N % H, n = r % N;
    detail::store_row(src.row(b, h, n), dst, b, h, n, D);
  });
}

}  // namespace

Problem as_f32(Problem p, Keep keep) {
  const DTypes t = p.dtypes;
  p.dtypes = DTypes{};
  if (keep.kv) p.dtypes.k = t.k, p.dtypes.v = t.v;
  if (keep.q) p.dtypes.q = t.q;
  return p;
}

std::size_t workspace_bytes(const Problem& p, std::size_t kernel_bytes, Keep keep) {
  const DTypes& t = p.dtypes;
  if (all_f32(t, p.has_mask, keep)) return kernel_bytes;
  const double bh = static_cast<double>(p.batch) * static_cast<double>(p.heads);
  const double bhkv = static_cast<double>(p.batch) * static_cast<double>(p.kv_heads);
  const double nq = static_cast<double>(p.q_len), nk = static_cast<double>(p.kv_len);
  double bytes = static_cast<double>(kernel_bytes);
  if (t.q != DType::f32 && !keep.q) bytes += copy_bytes(bh * nq * static_cast<double>(p.head_dim));
  if (t.k != DType::f32 && !keep.kv) bytes += copy_bytes(bhkv * nk * static_cast<double>(p.head_dim));
  if (t.v != DType::f32 && !keep.kv) bytes += copy_bytes(bhkv * nk * static_cast<double>(p.value_dim));
  if (t.out != DType::f32) bytes += copy_bytes(bh * nq * static_cast<double>(p.value_dim));
  if (p.has_mask && t.mask != DType::f32) bytes += copy_bytes(nq * nk);
  return bytes >= 1.8e19 ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(bytes);
}

void run(const KernelArgs& a, void (*kernel)(const KernelArgs&) noexcept, Keep keep) noexcept {
  const bool mask = a.mask.data != nullptr;
  if (all_f32({a.q.dtype, a.k.dtype, a.v.dtype, a.out.dtype, a.mask.data.dtype}, mask, keep)) return kernel(a);
  // The copies in workspace_bytes' order, each 64-byte aligned; the kernel's workspace after them.
  auto* next = static_cast<std::byte*>(a.workspace);
  auto take = [&](i64 elements) {
    auto* f = reinterpret_cast<float*>(next);
    next += static_cast<std::size_t>(copy_bytes(static_cast<double>(elements)));
    return f;
  };
  auto elements = [](const auto& t) { return t.shape[0] * t.shape[1] * t.shape[2] * t.shape[3]; };
  KernelArgs w = a;
  if (a.q.dtype != DType::f32 && !keep.q) w.q = widen(a.q, take(elements(a.q)), a.threads);
  if (a.k.dtype != DType::f32 && !keep.kv) w.k = widen(a.k, take(elements(a.k)), a.threads);
  if (a.v.dtype != DType::f32 && !keep.kv) w.v = widen(a.v, take(elements(a.v)), a.threads);
  Tensor out32;
  if (a.out.dtype != DType::f32) {
    out32 = Tensor::contiguous(take(elements(a.out)), a.out.shape[0], a.out.shape[1], a.out.shape[2], a.out.shape[3]);
    w.out = out32;
  }
  if (mask && a.mask.data.dtype != DType::f32) {
    const i64 nq = a.mask.rows, nk = a.mask.cols;
    AnyConstTensor m;  // the mask as a [1, 1, Nq, Nk] view, widened like a tensor
    m.data = a.mask.data.ptr, m.dtype = a.mask.data.dtype, m.shape = {1, 1, nq, nk};
    m.strides = {0, 0, a.mask.row_stride, 1};
    const float* dense = widen(m, take(nq * nk), a.threads).data;
    w.mask.data = dense, w.mask.row_stride = nk;
  }
  const std::size_t used = static_cast<std::size_t>(next - static_cast<std::byte*>(a.workspace));
  w.workspace = used < a.workspace_size ? next : nullptr;
  w.workspace_size = a.workspace_size - used;
  kernel(w);
  if (a.out.dtype != DType::f32) narrow(out32, a.out, a.threads);
}

}  // namespace attn::widening
