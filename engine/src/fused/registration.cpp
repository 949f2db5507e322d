// The fused kernel's row in the registry (registry.cpp lists it).
#include "kernel_decls.hpp"

#include "fused/driver.hpp"

namespace attn {

KernelInfo fused_kernel_info() {
  KernelInfo info{"fused",
                  "FlashAttention-2: packed Q Kᵀ and P V SIMD microkernels, online exp2 softmax, O(N·d) memory",
                  {.causal = true, .mask = true, .gqa = true, .lse = true, .threads = true},
                  fused::workspace_bytes,
                  fused::run,
                  20};
  // Every dtype natively: 16-bit Q, K, V and mask are widened as they are loaded and packed
  // (the microkernels see fp32 panels only), O is narrowed as it is stored.
  info.dtypes = {DType::f32, DType::f16, DType::bf16};
  return info;
}

}  // namespace attn
