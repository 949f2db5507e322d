// The one run-time dispatch: every ISA's kernel tables (the fused microkernels, the softmax
// rows) and which of them this process runs, from cpu_features.hpp (which ATTN_ISA lowers
// for the whole process), built once. Both run the widest; force_isa (tests, benchmarks)
// picks another for the fused kernel.
#include "cpu_features.hpp"
#include "fused/ukernels.hpp"
#include "softmax_simd.hpp"

#include <array>
#include <atomic>

namespace attn {

namespace {

using cpu::Isa;
using cpu::kIsaCount;

struct Dispatch {
  std::array<fused::Ukernels, kIsaCount> fused{};
  std::array<softmax::simd::RowKernels, kIsaCount> rows{};
  std::array<bool, kIsaCount> has{};
  std::array<Isa, kIsaCount> supported{};
  std::size_t count = 0;
  int best = 0;
  std::atomic<int> active{0};

  Dispatch() {
    // Adding an ISA: its enumerator and cpu::runs (cpu_features), its two tables here, its
    // translation units and flags (engine/CMakeLists.txt, fused/sources.cmake), its tiling (fused/tiling.hpp).
    constexpr struct {
      Isa isa;
      fused::Ukernels (*fused)();
      softmax::simd::RowKernels (*rows)();
    } kTables[] = {{Isa::scalar, fused::scalar_ukernels, softmax::simd::scalar_row_kernels},
                   {Isa::avx2, fused::avx2_ukernels, softmax::simd::avx2_row_kernels},
                   {Isa::avx512, fused::avx512_ukernels, softmax::simd::avx512_row_kernels}};
    for (const auto& t : kTables) {
      const int i = static_cast<int>(t.isa);
      if (!cpu::runs(t.isa)) continue;
      fused[i] = t.fused();
      // vdpbf16ps for bf16 Q Kᵀ: an extension of the avx512 table, not an ISA of its own.
      if (t.isa == Isa::avx512 && cpu::features().avx512_bf16) fused[i].bf16_dot = fused::avx512_bf16_dot();
      rows[i] = t.rows();
      has[i] = true;
      supported[count++] = t.isa;
    }
    best = static_cast<int>(supported[count - 1]);  // the last supported is the best
    active = best;
  }

  bool supports(Isa isa) const {
    const int i = static_cast<int>(isa);
    return i >= 0 && i < kIsaCount && has[i];
  }
};

Dispatch& dispatch() {
  static Dispatch d;  // C++11 magic statics: initialised once, thread-safely
  return d;
}

}  // namespace

namespace fused {

const Ukernels* ukernels_for(Isa isa) {
  const Dispatch& d = dispatch();
  return d.supports(isa) ? &d.fused[static_cast<int>(isa)] : nullptr;
}

std::span<const Isa> supported_isas() {
  const Dispatch& d = dispatch();
  return {d.supported.data(), d.count};
}

const Ukernels& active_ukernels() {
  const Dispatch& d = dispatch();
  return d.fused[d.active.load(std::memory_order_acquire)];
}

bool force_isa(Isa isa) {
  Dispatch& d = dispatch();
  if (!d.supports(isa)) return false;
  d.active.store(static_cast<int>(isa), std::memory_order_release);
  return true;
}

}  // namespace fused

namespace softmax::simd {

const RowKernels* row_kernels_for(cpu::Isa isa) {
  const Dispatch& d = dispatch();
  return d.supports(isa) ? &d.rows[static_cast<int>(isa)] : nullptr;
}

const RowKernels& active_row_kernels() {
  const Dispatch& d = dispatch();
  return d.rows[d.best];
}

}  // namespace softmax::simd

}  // namespace attn
