// Every dtype for a kernel written for fp32 only (reference, textbook, blas): Q, K, V and the
// mask of a 16-bit dtype are widened (exactly, attn/dtype.hpp) into fp32 copies in the call's
// workspace, the fp32 kernel runs on the copies, and O, computed into an fp32 buffer there, is
// rounded to its dtype (to nearest even) at the end. The result is therefore exactly the fp32
// kernel's on the widened inputs, rounded once. A call that is all fp32 goes straight to the
// kernel: no copy, no extra workspace. A kernel that converts K and V on load itself (decode,
// which is bound by reading them) keeps them: only Q, the mask and O go through fp32 copies.
#pragma once

#include <attn/kernels.hpp>

#include <cstddef>

namespace attn::widening {

/// Which inputs the kernel reads in their own dtype (no fp32 copy).
struct Keep {
  bool kv = false;  ///< K and V
  bool q = false;   ///< Q (decode's bf16 logits read it as it is)
};

/// The problem as the fp32 kernel sees it: every dtype f32 (K and V as they are under keep.kv, Q
/// under keep.q).
Problem as_f32(Problem p, Keep keep = {});

/// Bytes of the fp32 copies `p` needs (0 when it is all fp32), plus `kernel_bytes`, saturating.
std::size_t workspace_bytes(const Problem& p, std::size_t kernel_bytes, Keep keep = {});

/// Widens a's 16-bit inputs (but K and V under keep.kv, Q under keep.q) into the front of a.workspace, runs
/// `kernel` on fp32 views (with the rest of the workspace), narrows O. Never throws, never allocates.
void run(const KernelArgs& a, void (*kernel)(const KernelArgs&) noexcept, Keep keep = {}) noexcept;

/// `info`, the row of an fp32-only kernel whose functions are Workspace and Run, taking every dtype.
template <std::size_t (*Workspace)(const Problem&), void (*Run)(const KernelArgs&) noexcept>
KernelInfo widened(KernelInfo info) {
  info.workspace_bytes = [](const Problem& p) { return workspace_bytes(p, Workspace(as_f32(p))); };
  info.run = [](const KernelArgs& a) noexcept { run(a, Run); };
  info.dtypes = {DType::f32, DType::f16, DType::bf16};
  info.widens = true;
  return info;
}

}  // namespace attn::widening
