// The tiny path: calls of the lab's size (plan.hpp's is_tiny) computed with direct loops
// on the stack, no workspace and no packing.
#pragma once

#include "fused/ukernels.hpp"

#include <attn/kernels.hpp>

namespace attn::fused {

/// The lab sentences: everything on the stack, one head at a time, masked keys never read.
/// Scalar dot products and sums, each accumulated in a register; the exps of the whole head
/// in one call of the ISA's exp2 (a handful of vector instructions instead of a dependent
/// chain of scalar Horner steps per key).
void run_tiny(const KernelArgs& a, const Ukernels& uk);

}  // namespace attn::fused
