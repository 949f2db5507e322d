// Run-time dispatch: which microkernel table this CPU runs, from cpuid, chosen
// once: the widest the CPU has, which ATTN_ISA=scalar|avx2|avx512 lowers for the
// whole process (cpu_features.hpp).
#include "ukernels.hpp"

#include "cpu_features.hpp"

#include <array>
#include <atomic>

namespace attn::fused {

namespace {

constexpr int kIsas = 3;

struct Dispatch {
  std::array<Ukernels, kIsas> tables{};
  std::array<bool, kIsas> has{};
  std::array<Isa, kIsas> supported{};
  std::size_t count = 0;
  std::atomic<const Ukernels*> active{nullptr};

  Dispatch() {
    tables[0] = scalar_ukernels();
    has[0] = true;
    const cpu::Features& cpu = cpu::features();
    if (cpu.avx2_fma) {
      tables[1] = avx2_ukernels();
      has[1] = true;
    }
    if (cpu.avx512_skx) {
      tables[2] = avx512_ukernels();
      has[2] = true;
    }
    for (int i = 0; i < kIsas; ++i)
      if (has[i]) supported[count++] = static_cast<Isa>(i);
    active = &tables[static_cast<int>(supported[count - 1])];  // the last supported is the best
  }
};

Dispatch& dispatch() {
  static Dispatch d;  // C++11 magic statics: initialised once, thread-safely
  return d;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

const Ukernels* ukernels_for(Isa isa) {
  const Dispatch& d = dispatch();
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsas && d.has[i] ? &d.tables[i] : nullptr;
}

std::span<const Isa> supported_isas() {
  const Dispatch& d = dispatch();
  return {d.supported.data(), d.count};
}

const Ukernels& active_ukernels() {
  return *dispatch().active.load(std::memory_order_acquire);
}

bool force_isa(Isa isa) {
  const Ukernels* table = ukernels_for(isa);
  if (table == nullptr) return false;
  dispatch().active.store(table, std::memory_order_release);
  return true;
}

}  // namespace attn::fused
