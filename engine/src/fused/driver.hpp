// The fused kernel as the registry calls it (registration.cpp).
#pragma once

#include <attn/kernels.hpp>

#include <cstddef>

namespace attn::fused {

/// Computes the attention (tiny path or the blocked parallel driver); never throws.
void run(const KernelArgs& a) noexcept;

/// Workspace bytes for the problem (0 for the tiny path).
std::size_t workspace_bytes(const Problem& pr);

}  // namespace attn::fused
