// The fused kernel's row in the registry (registry.cpp lists it).
#include "kernel_decls.hpp"

#include "fused/driver.hpp"
#include "widening.hpp"

namespace attn {

KernelInfo fused_kernel_info() {
  return widening::widened<fused::workspace_bytes, fused::run>(
      {"fused",
       "FlashAttention-2: packed Q Kᵀ and P V SIMD microkernels, online exp2 softmax, O(N·d) memory",
       {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
       fused::workspace_bytes,
       fused::run,
       20});
}

}  // namespace attn
