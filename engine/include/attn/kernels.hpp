// The kernel registry: every attention implementation, described as data.
//
// Tools, tests and benchmarks reach kernels only through this list, so a new
// kernel is validated and benchmarked the moment it is registered
// (engine/src/registry.cpp).
#pragma once

#include <attn/attention.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace attn {

/// A set of dtypes.
class DTypeSet {
 public:
  constexpr DTypeSet(std::initializer_list<DType> types) {
    for (DType t : types) bits_ |= bit(t);
  }
  constexpr bool contains(DType t) const { return (bits_ & bit(t)) != 0; }
  /// "f32, f16, bf16" (those in the set, in that order).
  std::string str() const;

 private:
  static constexpr unsigned bit(DType t) { return 1u << static_cast<unsigned>(t); }
  unsigned bits_ = 0;
};

/// Everything a kernel needs; validated by attention() before the call. The views' dtypes are
/// among the kernel's KernelInfo::dtypes (q.as<float>() on an fp32-only kernel is safe).
struct KernelArgs {
  AnyConstTensor q, k, v;
  AnyTensor out;
  Tensor lse;  ///< data == nullptr: not wanted
  float scale = 1.0f;
  Causal causal = Causal::none;
  Mask mask;  ///< row_stride resolved (never 0 when data != nullptr); mask.data.dtype its dtype
  int threads = 1;
  void* workspace = nullptr;  ///< workspace_bytes(problem) bytes, 64-byte aligned
  std::size_t workspace_size = 0;
  /// Global positions of the first query row and key, for the causal mask (masking.hpp).
  std::int64_t q_offset = 0, kv_offset = 0;
};

struct Capabilities {
  bool causal = false;
  bool mask = false;
  bool gqa = false;
  bool lse = false;
  bool threads = false;  ///< uses more than one thread when asked
};

struct KernelInfo {
  std::string_view name;
  std::string_view summary;
  Capabilities caps;
  /// Bytes of workspace the kernel needs for this problem (0: none).
  std::size_t (*workspace_bytes)(const Problem&);
  /// Computes the attention; never throws, never allocates.
  void (*run)(const KernelArgs&) noexcept;
  /// Chosen by "auto" when it is the highest that supports the call (< 0: never).
  int auto_priority = -1;
  /// When set, "auto" considers the kernel only for problems where this returns true: a
  /// kernel built for one kind of shape (decode: few query rows per K/V head) outranks the
  /// general ones there and nowhere else. Cheap and allocation-free (called on every call).
  bool (*auto_when)(const Problem&) = nullptr;
  /// The dtypes it takes for q, k, v, out and the mask (any combination of them).
  DTypeSet dtypes{DType::f32};
  /// True when it takes the 16-bit dtypes by widening them to fp32 in its workspace first
  /// (engine/src/widening.hpp) rather than converting on load; O is narrowed at the end.
  bool widens = false;
};

/// Every registered kernel, in a stable order.
std::span<const KernelInfo> kernels();

/// Every registered name, comma-separated ("reference, textbook, ..."), for error messages.
std::string kernel_names();

/// The kernel called `name`, or nullptr.
const KernelInfo* find_kernel(std::string_view name);

/// Why `kernel` cannot run `problem` within `memory_budget` bytes, or "" if it can.
std::string unsupported_reason(const KernelInfo& kernel, const Problem& problem, std::size_t memory_budget);

/// The kernel "auto" resolves to for this problem (throws attn::Error if none).
const KernelInfo& select_kernel(std::string_view name, const Problem& problem, std::size_t memory_budget);

/// The BLAS library behind the "blas" kernel, as it configured itself at load time.
struct BlasBackend {
  std::string config;  ///< e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH USE_OPENMP ..."
  std::string core;    ///< the kernels it picked for this CPU, e.g. "Haswell", "SkylakeX"
  /// True when it fell back to SSE-era kernels on a CPU with AVX2: it did not
  /// recognise the CPU, and `blas` timings understate it (see `advice`).
  bool generic_core = false;
  std::string advice;  ///< what to set for its fast kernels, when generic_core
};
BlasBackend blas_backend();

/// The processor, as the SIMD kernels see it: every figure a tool prints names it.
struct CpuInfo {
  std::string model;  ///< cpuid's brand string, e.g. "AMD EPYC 9B45 128-Core Processor"
  /// The widest SIMD ISA the kernels dispatch to: "avx512", "avx2" or "scalar". ATTN_ISA lowers
  /// it for the whole process (the suite runs as an AVX2-only machine with ATTN_ISA=avx2).
  std::string isa;
  bool isa_forced = false;  ///< ATTN_ISA chose `isa`
  bool avx2_fma = false, avx512 = false;
};
const CpuInfo& cpu_info();

}  // namespace attn
