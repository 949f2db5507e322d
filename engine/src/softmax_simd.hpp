// The vectorised stable softmax behind attn::softmax::stable_inplace: the row
// kernels of every ISA, a portable scalar specification and the SIMD versions
// (softmax_avx2.cpp, softmax_avx512.cpp, each compiled with its flags and called
// only after the run-time dispatch chose it). Private to the engine; tests and benchmarks reach it
// through the engine's source directory.
#pragma once

#include "cpu_features.hpp"

#include <cstddef>

namespace attn::softmax::simd {

// The exp they use is simd/exp_poly.hpp's exp_rr2_p7 (contract there): the SIMD kernels
// compute bit-identical values to its scalar specification (same FMAs, same order).

/// Max and normaliser of a row, m and l = Σ exp(x_j − m), as the kernels found them.
struct RowStats {
  float m;
  float l;
};

using RowKernel = RowStats (*)(float* x, std::size_t n) noexcept;

/// One ISA's row kernels. None reads or writes outside x[0, n); rows with a NaN, a +inf or
/// no finite-or-+inf entry are the caller's (stable_inplace).
///  three_pass: max; store exp(x − m) and sum it; scale by 1/l. 3 reads + 2 writes of
///         the row, one exp per element: best while the row sits in L1/L2.
///  two_pass: per block of ≥ 2048 floats: block max, then exp(x − m_b) stored and
///         summed while the block is in L1, blocks merged online into (m, l)
///         (Milakov & Gimelshein); then one multiply per element by e^{m_b − m}/l.
///         2 reads + 2 writes of the row from memory, one exp per element:
///         for rows that do not fit in L2. (The scalar table has only the three-pass kernel.)
///  exp: y_i = exp_rr2_p7(x_i) (for the tests of the exp contract).
struct RowKernels {
  RowKernel three_pass;
  RowKernel two_pass;
  void (*exp)(const float* x, float* y, std::size_t n) noexcept;
  struct Names {
    const char *three_pass, *two_pass, *exp;
  } names;
};

/// The portable specification (softmax_rows.cpp) and the SIMD kernels (softmax_kernels.inl,
/// one source for every ISA), each only valid to call where the CPU supports it.
RowKernels scalar_row_kernels();
RowKernels avx2_row_kernels();
RowKernels avx512_row_kernels();

/// The table for `isa`, or nullptr when the CPU lacks it; the active one: the best ISA this
/// CPU runs (dispatch.cpp, which also holds the fused kernel's tables).
const RowKernels* row_kernels_for(cpu::Isa isa);
const RowKernels& active_row_kernels();

}  // namespace attn::softmax::simd
