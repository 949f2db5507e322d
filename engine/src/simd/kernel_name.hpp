// A kernel's self-describing name, XNNPACK style, built at compile time from its parts:
// type, routine, register tile, then after "__" the ISA and the algorithm
// ("f32_qk_6x16__avx2_fma", "f32_softmax_3pass__avx2_rr2_p7_u32_acc4": exp with range
// reduction by 2 constants and a degree-7 polynomial, 32 floats a step in 4 accumulators).
#pragma once

namespace attn::simd {

struct KernelName {
  char s[64] = {};
  int len = 0;
  constexpr KernelName& operator<<(const char* part) {
    while (*part) s[len++] = *part++;
    return *this;
  }
  constexpr KernelName& operator<<(int v) {
    char digits[12];
    int k = 0;
    do digits[k++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v > 0);
    while (k > 0) s[len++] = digits[--k];
    return *this;
  }
};

}  // namespace attn::simd
