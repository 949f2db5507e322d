#include "fma_loops.hpp"

#include <attn/kernels.hpp>

#include <array>

namespace attnbench {

namespace {

// What the engine's kernels may use (attn::cpu_info(): cpuid, lowered by ATTN_ISA), so that the
// peak a run divides by is the one of the ISA its kernels ran. Asked here, not in the ISA units:
// those are compiled with wider flags and must not define the headers' inline functions.
bool avx512_allowed() {
  return attn::cpu_info().avx512;
}
bool avx2_allowed() {
  return attn::cpu_info().avx2_fma;
}

FmaLoop with_check(FmaLoop loop, bool (*allowed)()) {
  loop.supported = allowed;
  return loop;
}

}  // namespace

std::span<const FmaLoop> fma_loops() {
  static const std::array loops = {with_check(fma_loop_avx512(), avx512_allowed),
                                   with_check(fma_loop_avx2(), avx2_allowed)};
  return loops;
}

const FmaLoop* best_fma_loop() {
  for (const FmaLoop& l : fma_loops())
    if (l.supported()) return &l;
  return nullptr;
}

}  // namespace attnbench
