// Run-time dispatch: which microkernel table this CPU runs, from cpuid, chosen
// once. ATTN_ISA=scalar|avx2|avx512 forces one (an unsupported or unknown name is
// ignored with a note on stderr, so a misspelt variable never crashes a run).
#include "ukernels.hpp"

#include "cpu_features.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
    if (const char* want = std::getenv("ATTN_ISA"); want != nullptr && *want != '\0') {
      bool found = false;
      for (int i = 0; i < kIsas; ++i)
        if (std::strcmp(want, isa_name(static_cast<Isa>(i))) == 0 && has[i]) {
          active = &tables[i];
          found = true;
        }
      if (!found)
        std::fprintf(stderr, "attnlab: ATTN_ISA=%s is not an ISA this CPU supports (scalar, avx2, avx512); using %s\n",
                     want, isa_name(active.load()->isa));
    }
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
