// attention(): validate everything, pick a kernel, allocate its workspace,
// run it. Kernels never see an invalid call.
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include "workspace.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <string>

namespace attn {

namespace {

using i64 = std::int64_t;

[[noreturn]] void fail(const std::string& what) {
  throw Error(what);
}

std::string shape_str(const std::array<i64, 4>& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
         std::to_string(s[3]) + "]";
}

[[noreturn, gnu::cold, gnu::noinline]] void fail_overflow(const char* what) {
  fail(std::string(what) + ": size product overflows int64");
}

/// a * b, or an Error naming `what` when it does not fit in int64. Inline, with the
/// message built out of line: validation runs on every call, the lab-sized ones included.
inline i64 checked_mul(i64 a, i64 b, const char* what) {
  i64 r = 0;
  if (__builtin_mul_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what);
  return r;
}
inline i64 checked_add(i64 a, i64 b, const char* what) {
  i64 r = 0;
  if (__builtin_add_overflow(a, b, &r)) [[unlikely]]
    fail_overflow(what);
  return r;
}

/// Byte range [lo, hi) that a view touches; empty when any dimension is 0.
struct Extent {
  std::uintptr_t lo = 0, hi = 0;
  bool empty() const { return lo == hi; }
  bool overlaps(const Extent& o) const { return !empty() && !o.empty() && lo < o.hi && o.lo < hi; }
};

i64 element_count(const std::array<i64, 4>& shape, const char* name) {
  i64 n = 1;
  for (i64 s : shape) n = checked_mul(n, s, name);
  return n;
}

/// Checks shape, strides and data of one view and returns its byte extent.
template <class T>
Extent check_view(const TensorView<T>& t, const char* name) {
  for (int i = 0; i < 4; ++i) {
    if (t.shape[i] < 0)
      fail(std::string(name) + ": dimension " + std::to_string(i) + " is negative (shape " + shape_str(t.shape) + ")");
    if (t.strides[i] < 0)
      fail(std::string(name) + ": stride " + std::to_string(i) + " is negative (strides " + shape_str(t.strides) +
           "); only non-negative strides are supported");
  }
  const i64 count = element_count(t.shape, name);
  checked_mul(count, static_cast<i64>(sizeof(float)), name);
  if (count == 0) return {};
  if (t.data == nullptr)
    fail(std::string(name) + ": data is null but the shape " + shape_str(t.shape) + " is not empty");
  if (t.strides[3] != 1 && t.shape[3] > 1)
    fail(std::string(name) + ": the last dimension must be contiguous (stride 1), got stride " +
         std::to_string(t.strides[3]));
  i64 last = 0;  // offset of the last element, in elements
  for (int i = 0; i < 4; ++i) last = checked_add(last, checked_mul(t.shape[i] - 1, t.strides[i], name), name);
  const i64 bytes = checked_mul(checked_add(last, 1, name), static_cast<i64>(sizeof(float)), name);
  const auto lo = reinterpret_cast<std::uintptr_t>(t.data);
  if (lo > std::numeric_limits<std::uintptr_t>::max() - static_cast<std::uintptr_t>(bytes))
    fail(std::string(name) + ": the view runs past the end of the address space");
  return {lo, lo + static_cast<std::uintptr_t>(bytes)};
}

/// An output view must not write one element twice: sorted by stride, each
/// stride must step over everything the smaller dimensions cover.
void check_no_self_overlap(const Tensor& t, const char* name) {
  // An empty view writes nothing (and its strides were never bounded by check_view).
  if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) return;
  // The common case, a dense row-major view, cannot overlap itself.
  const auto& s = t.strides;
  if (s[3] == 1 && s[2] == t.shape[3] && s[1] == t.shape[2] * s[2] && s[0] == t.shape[1] * s[1]) return;
  std::array<int, 4> order{0, 1, 2, 3};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return s[a] != s[b] ? s[a] < s[b] : a > b; });
  i64 covered = 1;  // elements spanned by the dimensions visited so far
  for (int i : order) {
    if (t.shape[i] <= 1) continue;
    if (t.strides[i] < covered)
      fail(std::string(name) + ": strides " + shape_str(t.strides) + " make elements of shape " + shape_str(t.shape) +
           " overlap; an output must not alias itself");
    covered = t.strides[i] * (t.shape[i] - 1) + covered;
  }
}

/// Thread counts beyond this are a mistake (and would make OpenMP spawn them).
constexpr int kMaxThreads = 1024;

int resolve_threads(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    fail("options.threads: must be in [0, " + std::to_string(kMaxThreads) + "] (0 = OpenMP default), got " +
         std::to_string(threads));
  return threads == 0 ? std::max(1, omp_get_max_threads()) : threads;
}

}  // namespace

std::size_t default_memory_budget() {
  // Physical memory does not change under us; sysconf costs a system call.
  static const std::size_t budget = [] {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return std::size_t{4} << 30;
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 2;
  }();
  return budget;
}

void release_workspace_cache() {
  Workspace::release_cache();
}

const char* to_string(Causal c) {
  switch (c) {
    case Causal::none:
      return "none";
    case Causal::top_left:
      return "top-left";
    case Causal::bottom_right:
      return "bottom-right";
  }
  return "?";
}

const char* version() {
  return ATTN_VERSION;
}

double Problem::flops() const {
  // Visible (query, key) pairs per head; query i sees keys j <= i + offset under causal masking.
  double pairs = static_cast<double>(q_len) * static_cast<double>(kv_len);
  if (causal != Causal::none) {
    const i64 offset = causal == Causal::top_left ? 0 : kv_len - q_len;
    pairs = 0;
    for (i64 i = 0; i < q_len; ++i) pairs += static_cast<double>(std::clamp<i64>(i + offset + 1, 0, kv_len));
  }
  return 2.0 * pairs * static_cast<double>(head_dim + value_dim) * static_cast<double>(batch * heads);
}

namespace {

/// What `kernel` lacks for `p`, or nullptr. Allocates nothing: "auto" runs
/// this for every kernel on every call, including the lab-sized ones.
const char* missing_capability(const KernelInfo& kernel, const Problem& p) {
  if (p.causal != Causal::none && !kernel.caps.causal) return "does not support causal masking";
  if (p.has_mask && !kernel.caps.mask) return "does not support an additive mask";
  if (p.kv_heads != p.heads && !kernel.caps.gqa) return "does not support grouped-query attention (Hkv != H)";
  if (p.wants_lse && !kernel.caps.lse) return "does not produce the log-sum-exp output";
  return nullptr;
}

bool supports(const KernelInfo& kernel, const Problem& p, std::size_t budget) {
  return missing_capability(kernel, p) == nullptr && kernel.workspace_bytes(p) <= budget;
}

}  // namespace

std::string unsupported_reason(const KernelInfo& kernel, const Problem& p, std::size_t budget) {
  const std::string who = "kernel '" + std::string(kernel.name) + "' ";
  if (const char* missing = missing_capability(kernel, p)) return who + missing;
  if (const std::size_t need = kernel.workspace_bytes(p); need > budget)
    return who + "needs " + std::to_string(need) + " bytes of workspace for this shape, over the memory budget of " +
           std::to_string(budget) + " bytes (options.memory_budget)";
  return {};
}

const KernelInfo& select_kernel(std::string_view name, const Problem& p, std::size_t budget) {
  if (name != "auto") {
    const KernelInfo* k = find_kernel(name);
    if (k == nullptr)
      fail("options.kernel: unknown kernel '" + std::string(name) + "' (registered: auto, " + kernel_names() + ")");
    if (!supports(*k, p, budget)) fail("options.kernel: " + unsupported_reason(*k, p, budget));
    return *k;
  }
  const KernelInfo* best = nullptr;
  for (const KernelInfo& k : kernels())
    if (k.auto_priority >= 0 && supports(k, p, budget) && (best == nullptr || k.auto_priority > best->auto_priority))
      best = &k;
  if (best == nullptr) {
    std::string reasons;
    for (const KernelInfo& k : kernels())
      if (k.auto_priority >= 0) reasons += "; " + unsupported_reason(k, p, budget);
    fail("options.kernel: no kernel supports this call" + reasons);
  }
  return *best;
}

void attention(ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, const Options& options) {
  attention(q, k, v, out, Tensor{}, options);
}

void attention(ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, Tensor lse, const Options& options) {
  // Shapes and memory of every view.
  const Extent eq = check_view(q, "q"), ek = check_view(k, "k"), ev = check_view(v, "v");
  const Extent eo = check_view(out, "out");
  const bool wants_lse = lse.data != nullptr || element_count(lse.shape, "lse") != 0;
  const Extent el = wants_lse ? check_view(lse, "lse") : Extent{};

  const i64 B = q.shape[0], H = q.shape[1], Nq = q.shape[2], d = q.shape[3];
  const i64 Hkv = k.shape[1], Nk = k.shape[2], dv = v.shape[3];
  auto mismatch = [](const char* what, const std::string& detail) { fail(std::string(what) + ": " + detail); };
  if (k.shape[0] != B) mismatch("k", "batch " + std::to_string(k.shape[0]) + " != q batch " + std::to_string(B));
  if (v.shape[0] != B) mismatch("v", "batch " + std::to_string(v.shape[0]) + " != q batch " + std::to_string(B));
  if (v.shape[1] != Hkv) mismatch("v", "heads " + std::to_string(v.shape[1]) + " != k heads " + std::to_string(Hkv));
  if (v.shape[2] != Nk) mismatch("v", "rows " + std::to_string(v.shape[2]) + " != k rows " + std::to_string(Nk));
  if (k.shape[3] != d) mismatch("k", "head dim " + std::to_string(k.shape[3]) + " != q head dim " + std::to_string(d));
  if (Hkv == 0 && H != 0) mismatch("k", "has 0 heads but q has " + std::to_string(H));
  if (Hkv != 0 && H % Hkv != 0)
    mismatch("k", "heads " + std::to_string(Hkv) + " must divide q heads " + std::to_string(H) +
                      " (grouped-query attention)");
  const std::array<i64, 4> out_want{B, H, Nq, dv};
  if (out.shape != out_want) mismatch("out", "shape " + shape_str(out.shape) + ", expected " + shape_str(out_want));
  if (wants_lse) {
    const std::array<i64, 4> lse_want{B, H, Nq, 1};
    if (lse.shape != lse_want) mismatch("lse", "shape " + shape_str(lse.shape) + ", expected " + shape_str(lse_want));
  }
  // Zero tests, not products: with d = dv = 0 every view is empty and B, H, N are unbounded.
  if (d == 0 && B != 0 && H != 0 && Nq != 0 && Nk != 0) mismatch("q", "head dimension d must be at least 1");
  if (dv == 0 && B != 0 && H != 0 && Nq != 0) mismatch("v", "value dimension dv must be at least 1");

  // Outputs must not alias inputs, each other, or themselves.
  check_no_self_overlap(out, "out");
  for (auto [e, name] : {std::pair{eq, "q"}, {ek, "k"}, {ev, "v"}}) {
    if (eo.overlaps(e)) fail(std::string("out: overlaps input ") + name);
    if (el.overlaps(e)) fail(std::string("lse: overlaps input ") + name);
  }
  if (wants_lse) {
    check_no_self_overlap(lse, "lse");
    if (el.overlaps(eo)) fail("lse: overlaps out");
  }

  // Options.
  const float scale = options.scale.value_or(d > 0 ? 1.0f / std::sqrt(static_cast<float>(d)) : 1.0f);
  if (!std::isfinite(scale)) fail("options.scale: must be finite, got " + std::to_string(scale));
  Mask mask = options.mask;
  if (mask.data != nullptr || mask.rows != 0 || mask.cols != 0) {
    if (mask.rows != Nq || mask.cols != Nk)
      fail("options.mask: shape [" + std::to_string(mask.rows) + ", " + std::to_string(mask.cols) +
           "], expected [Nq, Nk] = [" + std::to_string(Nq) + ", " + std::to_string(Nk) + "]");
    if (mask.row_stride == 0) mask.row_stride = mask.cols;
    if (mask.row_stride < mask.cols)
      fail("options.mask: row_stride " + std::to_string(mask.row_stride) + " is smaller than cols " +
           std::to_string(mask.cols));
    // The mask is a [Nq, Nk] view: same null, overflow and extent checks as a tensor.
    const Extent em = check_view(ConstTensor{mask.data, {1, 1, Nq, Nk}, {0, 0, mask.row_stride, 1}}, "options.mask");
    if (eo.overlaps(em)) fail("out: overlaps options.mask");
    if (el.overlaps(em)) fail("lse: overlaps options.mask");
  }
  const int threads = resolve_threads(options.threads);
  const std::size_t budget = options.memory_budget ? options.memory_budget : default_memory_budget();

  Problem p;
  p.batch = B, p.heads = H, p.kv_heads = Hkv, p.q_len = Nq, p.kv_len = Nk, p.head_dim = d, p.value_dim = dv;
  p.causal = options.causal, p.has_mask = mask.data != nullptr, p.wants_lse = wants_lse, p.threads = threads;
  // An empty call computes nothing and its other sizes are unbounded (every view
  // is empty), so the kernel is chosen (name and capabilities checked) on a
  // stand-in of size <= 1 that no workspace formula can overflow on; GQA is kept.
  Problem chosen_for = p;
  if (B == 0 || H == 0 || Nq == 0) {
    chosen_for.batch = std::min<i64>(B, 1), chosen_for.q_len = std::min<i64>(Nq, 1);
    chosen_for.kv_len = std::min<i64>(Nk, 1), chosen_for.head_dim = std::min<i64>(d, 1);
    chosen_for.value_dim = std::min<i64>(dv, 1);
    chosen_for.heads = H == 0 ? 0 : (Hkv == H ? 1 : 2), chosen_for.kv_heads = Hkv == H ? chosen_for.heads : 1;
  }
  const KernelInfo& kernel = select_kernel(options.kernel, chosen_for, budget);

  // Empty problems: nothing to compute; no keys: output 0 and LSE -inf.
  if (B == 0 || H == 0 || Nq == 0) return;
  if (Nk == 0) {
    for (i64 b = 0; b < B; ++b)
      for (i64 h = 0; h < H; ++h)
        for (i64 i = 0; i < Nq; ++i) {
          std::fill_n(out.row(b, h, i), dv, 0.0f);
          if (wants_lse) *lse.row(b, h, i) = -std::numeric_limits<float>::infinity();
        }
    return;
  }

  KernelArgs args{q, k, v, out, lse, scale, options.causal, mask, threads, nullptr, 0};
  Workspace ws;
  if (const std::size_t bytes = kernel.workspace_bytes(p); bytes > 0) {
    ws = Workspace::acquire(bytes);
    if (!ws)
      fail("kernel '" + std::string(kernel.name) + "': could not allocate " + std::to_string(bytes) +
           " bytes of workspace");
    args.workspace = ws.get();
    args.workspace_size = bytes;
  }
  kernel.run(args);
}

}  // namespace attn
