// Register-resident FMA loops: the machine's fp32 multiply-add peak.
//
// Each loop keeps independent accumulator chains in vector registers
// (a = a * x + y, never touching memory) so that the FMA ports, not latency or
// loads, are the limit: chains >= latency (4 cycles) × FMA ports (2) on every
// current x86 core. One ISA per translation unit, compiled with its own flags
// and called only when cpuid says the CPU has it.
#pragma once

#include <cstdint>
#include <span>

namespace attnbench {

struct FmaLoop {
  const char* isa;          ///< "avx512f", "avx2+fma"
  int flops_per_iteration;  ///< chains × lanes × 2
  bool (*supported)();      ///< may the process run it (cpuid, lowered by ATTN_ISA: fma_loops.cpp)
  /// Runs `iterations` rounds; returns the sum of every lane of every chain (so no work can be
  /// removed), which tends to chains × lanes = flops_per_iteration / 2 as the chains converge.
  float (*run)(std::int64_t iterations);
};

FmaLoop fma_loop_avx2();
FmaLoop fma_loop_avx512();

/// The loops this binary carries, widest first (whether the CPU runs them or not).
std::span<const FmaLoop> fma_loops();

/// The widest loop the CPU supports, or nullptr (no AVX2+FMA).
const FmaLoop* best_fma_loop();

}  // namespace attnbench
