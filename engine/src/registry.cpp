// The registry as data: one row per kernel. Adding a kernel is adding a row;
// tests and benchmarks pick it up from here.
#include <attn/kernels.hpp>

#include "kernel_decls.hpp"

#include <array>
#include <string>

namespace attn {

std::span<const KernelInfo> kernels() {
  // Function-local: safe to call from other translation units' static initialisers.
  static const std::array registry = {
      reference_kernel_info(),
      textbook_kernel_info(),
      blas_kernel_info(),
      fused_kernel_info(),
      decode_kernel_info(),
  };
  return registry;
}

std::string kernel_names() {
  std::string names;
  for (const KernelInfo& k : kernels()) names += (names.empty() ? "" : ", ") + std::string(k.name);
  return names;
}

const KernelInfo* find_kernel(std::string_view name) {
  for (const KernelInfo& k : kernels())
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace attn
