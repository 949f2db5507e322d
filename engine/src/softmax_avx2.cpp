// The AVX2+FMA instantiation of softmax_kernels.inl. Compiled with -mavx2 -mfma:
// nothing here may run before the dispatch (dispatch.cpp) chose AVX2.
#include "simd/avx2.hpp"
#include "softmax_kernels.inl"

namespace attn::softmax::simd {

RowKernels avx2_row_kernels() {
  return row_kernels<attn::simd::Avx2>();
}

}  // namespace attn::softmax::simd
