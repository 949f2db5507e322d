#include "fma_loops.hpp"

#include <array>

namespace attnbench {

std::span<const FmaLoop> fma_loops() {
  static const std::array loops = {fma_loop_avx512(), fma_loop_avx2()};
  return loops;
}

const FmaLoop* best_fma_loop() {
  for (const FmaLoop& l : fma_loops())
    if (l.supported()) return &l;
  return nullptr;
}

}  // namespace attnbench
