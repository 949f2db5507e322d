// attention() = validate → plan → run: check every argument (validate), pick the
// kernel and allocate its workspace (plan), call it (run). Kernels never see an
// invalid call.
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include "masking.hpp"
#include "view_checks.hpp"
#include "workspace.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <tuple>
#include <utility>

namespace attn {

namespace {

using i64 = std::int64_t;
using detail::check_no_self_overlap;
using detail::check_view;
using detail::checked_add;
using detail::element_count;
using detail::Extent;
using detail::fail;
using detail::shape_str;

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

std::string DTypeSet::str() const {
  std::string s;
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    if (contains(t)) s += (s.empty() ? "" : ", ") + std::string(to_string(t));
  return s;
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
  // Visible (query, key) pairs per head: a prefix of the keys per row (masking.hpp).
  double pairs = static_cast<double>(q_len) * static_cast<double>(kv_len);
  if (causal != Causal::none) {
    pairs = 0;
    for (i64 i = 0; i < q_len; ++i) pairs += static_cast<double>(detail::visible_keys(*this, i));
  }
  return 2.0 * pairs * static_cast<double>(head_dim + value_dim) * static_cast<double>(batch * heads);
}

namespace {

/// The first tensor of `p` (its name) whose dtype `kernel` does not take, or nullptr; its dtype
/// in `dtype`. Allocates nothing.
const char* untaken_dtype(const KernelInfo& kernel, const Problem& p, DType& dtype) {
  const DTypes& t = p.dtypes;
  const std::pair<const char*, DType> tensors[] = {
      {"q", t.q}, {"k", t.k}, {"v", t.v}, {"out", t.out}, {"options.mask", t.mask}};
  const int count = p.has_mask ? 5 : 4;  // without a mask its dtype is moot
  for (int i = 0; i < count; ++i)
    if (!kernel.dtypes.contains(tensors[i].second)) {
      dtype = tensors[i].second;
      return tensors[i].first;
    }
  return nullptr;
}

/// What `kernel` lacks for `p`, or nullptr. Allocates nothing: "auto" runs
/// this for every kernel on every call, including the lab-sized ones.
const char* missing_capability(const KernelInfo& kernel, const Problem& p) {
  if (DType dtype{}; untaken_dtype(kernel, p, dtype) != nullptr) return "does not take this dtype";
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
  if (DType dtype{}; const char* tensor = untaken_dtype(kernel, p, dtype))
    return who + "does not take " + tensor + " of dtype " + to_string(dtype) + " (it takes " + kernel.dtypes.str() +
           ")";
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
  // Candidates: kernels with a priority, those with an auto_when only on the shapes it names.
  auto candidate = [&](const KernelInfo& k) { return k.auto_priority >= 0 && (!k.auto_when || k.auto_when(p)); };
  // Usually the highest-ranked capable candidate fits the budget: only it is sized
  // (workspace_bytes plans the call; this runs on every call, the lab-sized ones included).
  const KernelInfo* top = nullptr;
  for (const KernelInfo& k : kernels())
    if (candidate(k) && missing_capability(k, p) == nullptr && (top == nullptr || k.auto_priority > top->auto_priority))
      top = &k;
  if (top != nullptr && top->workspace_bytes(p) <= budget) return *top;
  const KernelInfo* best = nullptr;
  for (const KernelInfo& k : kernels())
    if (candidate(k) && supports(k, p, budget) && (best == nullptr || k.auto_priority > best->auto_priority)) best = &k;
  if (best == nullptr) {
    std::string reasons;
    for (const KernelInfo& k : kernels())
      if (candidate(k)) reasons += "; " + unsupported_reason(k, p, budget);
    fail("options.kernel: no kernel supports this call" + reasons);
  }
  return *best;
}

namespace {

/// A validated call: what the kernel is given besides the views and its workspace.
struct Validated {
  Problem problem;
  float scale = 1.0f;
  Mask mask;  ///< row_stride resolved
  std::size_t budget = 0;
};

/// The causal offsets: non-negative, each sequence's positions within int64, and the
/// diagonal q_offset - kv_offset + (Nk - Nq) that masking.hpp's visible_keys computes
/// representable (checked in that order of operations).
void check_causal_offsets(const Options& o, i64 nq, i64 nk) {
  if (o.q_offset < 0)
    fail("options.q_offset: must be >= 0 (a position in the sequence), got " + std::to_string(o.q_offset));
  if (o.kv_offset < 0)
    fail("options.kv_offset: must be >= 0 (a position in the sequence), got " + std::to_string(o.kv_offset));
  if (o.causal == Causal::none) return;  // the offsets only place the causal diagonal
  checked_add(o.q_offset, nq, "options.q_offset + Nq");
  checked_add(o.kv_offset, nk, "options.kv_offset + Nk");
  checked_add(o.q_offset - o.kv_offset, o.causal == Causal::bottom_right ? nk - nq : 0,
              "options.q_offset - options.kv_offset + (Nk - Nq)");
}

/// Everything attention() checks. `data_required` false: views (and the mask) with null data
/// are checked for shape and strides only (validate(), before the caller allocates).
Validated validate_call(const AnyConstTensor& q, const AnyConstTensor& k, const AnyConstTensor& v, const AnyTensor& out,
                        const Tensor& lse, const Options& options, bool data_required) {
  // Shapes and memory of every view.
  const Extent eq = check_view(q, "q", data_required), ek = check_view(k, "k", data_required);
  const Extent ev = check_view(v, "v", data_required), eo = check_view(out, "out", data_required);
  const bool wants_lse = lse.data != nullptr || element_count(lse.shape, "lse") != 0;
  const Extent el = wants_lse ? check_view(lse, "lse", data_required) : Extent{};

  const i64 B = q.shape[0], H = q.shape[1], Nq = q.shape[2], d = q.shape[3];
  const i64 Hkv = k.shape[1], Nk = k.shape[2], dv = v.shape[3];
  // Arguments by name, with their dtype when it is 16-bit ("k (f16)"); built only to fail.
  using detail::labelled;
  auto mismatch = [](const char* name, DType t, const std::string& detail) { fail(labelled(name, t) + ": " + detail); };
  if (k.shape[0] != B)
    mismatch("k", k.dtype, "batch " + std::to_string(k.shape[0]) + " != q batch " + std::to_string(B));
  if (v.shape[0] != B)
    mismatch("v", v.dtype, "batch " + std::to_string(v.shape[0]) + " != q batch " + std::to_string(B));
  if (v.shape[1] != Hkv)
    mismatch("v", v.dtype, "heads " + std::to_string(v.shape[1]) + " != k heads " + std::to_string(Hkv));
  if (v.shape[2] != Nk)
    mismatch("v", v.dtype, "rows " + std::to_string(v.shape[2]) + " != k rows " + std::to_string(Nk));
  if (k.shape[3] != d)
    mismatch("k", k.dtype, "head dim " + std::to_string(k.shape[3]) + " != q head dim " + std::to_string(d));
  if (Hkv == 0 && H != 0) mismatch("k", k.dtype, "has 0 heads but q has " + std::to_string(H));
  if (Hkv != 0 && H % Hkv != 0)
    mismatch(
        "k", k.dtype,
        "heads " + std::to_string(Hkv) + " must divide q heads " + std::to_string(H) + " (grouped-query attention)");
  const std::array<i64, 4> out_want{B, H, Nq, dv};
  if (out.shape != out_want)
    mismatch("out", out.dtype, "shape " + shape_str(out.shape) + ", expected " + shape_str(out_want));
  if (wants_lse) {
    const std::array<i64, 4> lse_want{B, H, Nq, 1};
    if (lse.shape != lse_want)
      mismatch("lse", DType::f32, "shape " + shape_str(lse.shape) + ", expected " + shape_str(lse_want));
  }
  // Zero tests, not products: with d = dv = 0 every view is empty and B, H, N are unbounded.
  if (d == 0 && B != 0 && H != 0 && Nq != 0 && Nk != 0) mismatch("q", q.dtype, "head dimension d must be at least 1");
  if (dv == 0 && B != 0 && H != 0 && Nq != 0) mismatch("v", v.dtype, "value dimension dv must be at least 1");

  // Outputs must not alias inputs, each other, or themselves.
  check_no_self_overlap(out, "out");
  for (auto [e, name, t] : {std::tuple{eq, "q", q.dtype}, {ek, "k", k.dtype}, {ev, "v", v.dtype}}) {
    if (eo.overlaps(e)) fail(labelled("out", out.dtype) + ": overlaps input " + labelled(name, t));
    if (el.overlaps(e)) fail("lse: overlaps input " + labelled(name, t));
  }
  if (wants_lse) {
    check_no_self_overlap(lse, "lse");
    if (el.overlaps(eo)) fail("lse: overlaps " + labelled("out", out.dtype));
  }

  // Options.
  Validated r;
  r.scale = options.scale.value_or(d > 0 ? 1.0f / std::sqrt(static_cast<float>(d)) : 1.0f);
  if (!std::isfinite(r.scale)) fail("options.scale: must be finite, got " + std::to_string(r.scale));
  check_causal_offsets(options, Nq, Nk);
  Mask& mask = r.mask = options.mask;
  if (mask.data != nullptr || mask.rows != 0 || mask.cols != 0) {
    const DType mt = mask.data.dtype;
    if (mask.rows != Nq || mask.cols != Nk)
      fail(labelled("options.mask", mt) + ": shape [" + std::to_string(mask.rows) + ", " + std::to_string(mask.cols) +
           "], expected [Nq, Nk] = [" + std::to_string(Nq) + ", " + std::to_string(Nk) + "]");
    if (mask.row_stride == 0) mask.row_stride = mask.cols;
    if (mask.row_stride < mask.cols)
      fail(labelled("options.mask", mt) + ": row_stride " + std::to_string(mask.row_stride) + " is smaller than cols " +
           std::to_string(mask.cols));
    // The mask is a [Nq, Nk] view: same null, overflow and extent checks as a tensor.
    AnyConstTensor mask_view;
    mask_view.data = mask.data.ptr, mask_view.dtype = mask.data.dtype;
    mask_view.shape = {1, 1, Nq, Nk}, mask_view.strides = {0, 0, mask.row_stride, 1};
    const Extent em = check_view(mask_view, "options.mask", data_required);
    if (eo.overlaps(em)) fail(labelled("out", out.dtype) + ": overlaps " + labelled("options.mask", mt));
    if (el.overlaps(em)) fail("lse: overlaps " + labelled("options.mask", mt));
  }
  r.budget = options.memory_budget ? options.memory_budget : default_memory_budget();

  Problem& p = r.problem;
  p.batch = B, p.heads = H, p.kv_heads = Hkv, p.q_len = Nq, p.kv_len = Nk, p.head_dim = d, p.value_dim = dv;
  const bool mask_given = mask.data != nullptr || (!data_required && (mask.rows != 0 || mask.cols != 0));
  p.causal = options.causal, p.has_mask = mask_given, p.wants_lse = wants_lse;
  p.threads = resolve_threads(options.threads);
  p.q_offset = options.q_offset, p.kv_offset = options.kv_offset;
  p.dtypes = {q.dtype, k.dtype, v.dtype, out.dtype, mask.data.dtype};
  return r;
}

/// O = 0 (all-zero bits: +0 in every dtype) and LSE = -inf for row (b, h, i) of a call without keys.
void write_no_keys_row(const AnyTensor& out, i64 b, i64 h, i64 i, i64 dv, float* lse) {
  auto* row = static_cast<char*>(out.data) +
              (b * out.strides[0] + h * out.strides[1] + i * out.strides[2]) * static_cast<i64>(size_of(out.dtype));
  std::memset(row, 0, static_cast<std::size_t>(dv) * size_of(out.dtype));
  if (lse != nullptr) *lse = -std::numeric_limits<float>::infinity();
}

/// The kernel for the call (options.kernel checked: known, capable, within the budget).
const KernelInfo& plan_kernel(const Problem& p, std::string_view name, std::size_t budget) {
  // An empty call computes nothing and its other sizes are unbounded (every view
  // is empty), so the kernel is chosen (name and capabilities checked) on a
  // stand-in of size <= 1 that no workspace formula can overflow on; GQA is kept.
  if (p.batch != 0 && p.heads != 0 && p.q_len != 0) return select_kernel(name, p, budget);
  Problem chosen_for = p;
  chosen_for.batch = std::min<i64>(p.batch, 1), chosen_for.q_len = std::min<i64>(p.q_len, 1);
  chosen_for.kv_len = std::min<i64>(p.kv_len, 1), chosen_for.head_dim = std::min<i64>(p.head_dim, 1);
  chosen_for.value_dim = std::min<i64>(p.value_dim, 1);
  const bool gqa = p.kv_heads != p.heads;
  chosen_for.heads = p.heads == 0 ? 0 : (gqa ? 2 : 1), chosen_for.kv_heads = gqa ? 1 : chosen_for.heads;
  return select_kernel(name, chosen_for, budget);
}

}  // namespace

Problem validate(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, Tensor lse,
                 const Options& options) {
  const Validated call = validate_call(q, k, v, out, lse, options, false);
  plan_kernel(call.problem, options.kernel, call.budget);
  return call.problem;
}

void attention(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, const Options& options) {
  attention(q, k, v, out, Tensor{}, options);
}

void attention(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, Tensor lse,
               const Options& options) {
  // Validate.
  const Validated call = validate_call(q, k, v, out, lse, options, true);
  const Problem& p = call.problem;

  // Plan: the kernel and its workspace.
  const KernelInfo& kernel = plan_kernel(p, options.kernel, call.budget);
  // Empty problems: nothing to compute; no keys: output 0 and LSE -inf.
  if (p.batch == 0 || p.heads == 0 || p.q_len == 0) return;
  if (p.kv_len == 0) {
    for (i64 b = 0; b < p.batch; ++b)
      for (i64 h = 0; h < p.heads; ++h)
        for (i64 i = 0; i < p.q_len; ++i)
          write_no_keys_row(out, b, h, i, p.value_dim, p.wants_lse ? lse.row(b, h, i) : nullptr);
    return;
  }
  KernelArgs args{q, k, v, out, lse, call.scale, p.causal, call.mask, p.threads, nullptr, 0, p.q_offset, p.kv_offset};
  Workspace ws;
  if (const std::size_t bytes = kernel.workspace_bytes(p); bytes > 0) {
    ws = Workspace::acquire(bytes);
    if (!ws)
      fail("kernel '" + std::string(kernel.name) + "': could not allocate " + std::to_string(bytes) +
           " bytes of workspace");
    args.workspace = ws.get();
    args.workspace_size = bytes;
  }

  // Run.
  kernel.run(args);
}

}  // namespace attn
