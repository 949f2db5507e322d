#include "cpu_features.hpp"

namespace attn::cpu {

const Features& features() noexcept {
  static const Features f = [] {
    __builtin_cpu_init();
    Features r;
    r.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    r.avx512f = __builtin_cpu_supports("avx512f");
    r.avx512_skx = r.avx2_fma && r.avx512f && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    return r;
  }();
  return f;
}

}  // namespace attn::cpu
