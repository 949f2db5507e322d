// Each kernel's source file defines one of these; registry.cpp lists them.
#pragma once

#include <attn/kernels.hpp>

namespace attn {

KernelInfo reference_kernel_info();
KernelInfo textbook_kernel_info();
KernelInfo blas_kernel_info();
KernelInfo fused_kernel_info();
KernelInfo decode_kernel_info();

}  // namespace attn
