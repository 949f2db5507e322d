#include "cpu_features.hpp"

#include <attn/kernels.hpp>

#include <cpuid.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace attn::cpu {

namespace {

Features detect() noexcept {
  __builtin_cpu_init();
  Features r;
  // F16C (cpuid leaf 1, ECX bit 29) with AVX2: the AVX2 loops widen f16 by vcvtph2ps. Every AVX2
  // CPU so far has it; GCC 12's __builtin_cpu_supports does not know the name.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
  r.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  r.avx512f = __builtin_cpu_supports("avx512f");
  r.avx512_skx = r.avx2_fma && r.avx512f && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq");
  r.avx512_bf16 = r.avx512_skx && __builtin_cpu_supports("avx512bf16");
  return r;
}

/// Whether features `f` allow the ISA's kernels: the one mapping from cpuid flags to an Isa.
bool allows(const Features& f, Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar:
      return true;
    case Isa::avx2:
      return f.avx2_fma;
    case Isa::avx512:
      return f.avx512_skx;
  }
  return false;
}

/// The features lowered to what ATTN_ISA names; `f` unchanged when it is unset or unusable.
Features capped(Features f, const char* want) noexcept {
  if (want == nullptr || *want == '\0') return f;
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (std::strcmp(want, isa_name(isa)) != 0 || !allows(f, isa)) continue;
    if (isa == Isa::scalar) return Features{};
    if (isa == Isa::avx2) return Features{.avx2_fma = true};
    return f;  // the widest: nothing to lower
  }
  std::fprintf(stderr, "attnlab: ATTN_ISA=%s is not an ISA this CPU supports (scalar, avx2, avx512); using %s\n", want,
               widest_isa(f));
  return f;
}

/// ATTN_BF16_DOT: "off" clears avx512_bf16, "on" (or unset) keeps what cpuid and ATTN_ISA left.
Features with_bf16_dot(Features f, const char* want) noexcept {
  if (want == nullptr || *want == '\0' || std::strcmp(want, "on") == 0) return f;
  if (std::strcmp(want, "off") == 0)
    f.avx512_bf16 = false;
  else
    std::fprintf(stderr, "attnlab: ATTN_BF16_DOT=%s is neither on nor off; left %s\n", want,
                 f.avx512_bf16 ? "on" : "off");
  return f;
}

/// The processor's brand string (cpuid leaves 0x80000002..4), trimmed; "" where there is none.
std::string brand_string() {
  unsigned regs[12] = {};
  // GCC declares __get_cpuid_max unsigned, clang int: compare as unsigned in both.
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000004u) return "";
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  char text[49] = {};
  std::memcpy(text, regs, 48);
  std::string s(text);
  const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

const Features& features() noexcept {
  static const Features f = with_bf16_dot(capped(detect(), std::getenv("ATTN_ISA")), std::getenv("ATTN_BF16_DOT"));
  return f;
}

const char* widest_isa(const Features& f) noexcept {
  int widest = 0;
  for (int i = 0; i < kIsaCount; ++i)
    if (allows(f, static_cast<Isa>(i))) widest = i;
  return isa_name(static_cast<Isa>(widest));
}

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

bool runs(Isa isa) noexcept {
  return allows(features(), isa);
}

}  // namespace attn::cpu

namespace attn {

const CpuInfo& cpu_info() {
  static const CpuInfo info = [] {
    const cpu::Features& f = cpu::features();
    CpuInfo c;
    c.model = cpu::brand_string();
    if (c.model.empty()) c.model = "unknown CPU";
    c.isa = cpu::widest_isa(f);
    c.avx2_fma = f.avx2_fma;
    c.avx512 = f.avx512_skx;
    if (const char* want = std::getenv("ATTN_ISA"); want != nullptr && *want != '\0' && c.isa == want)
      c.isa_forced = true;
    return c;
  }();
  return info;
}

}  // namespace attn
