// The streaming read loop written once over the engine's vector traits V (simd/avx2.hpp,
// simd/avx512.hpp), included by one translation unit per ISA (read_loop_<isa>.cpp) with its
// flags. Internal linkage: each unit's copy is compiled for its own ISA.
#include <cstddef>

namespace attnbench {
namespace {

/// 256 bytes an iteration (four lines) into independent accumulators (an add never waits for
/// the one before: 8 ymm or 4 zmm chains), from each of `streams` parts of x in turn.
template <class V>
float read_loop(const float* x, std::size_t n, std::size_t ahead, int streams) {
  constexpr int kChains = 64 / V::W;
  constexpr std::size_t kStep = 64, kLine = 16;  // floats
  typename V::reg acc[kChains];
  for (auto& a : acc) a = V::zero();
  const std::size_t parts = streams > 1 ? static_cast<std::size_t>(streams) : 1;
  const std::size_t part = n / parts / kStep * kStep;  // floats of each stream
  for (std::size_t i = 0; i < part; i += kStep)
    for (std::size_t at = i; at < parts * part; at += part) {
      if (ahead > 0 && at + ahead + kStep <= n)
        for (std::size_t line = 0; line < kStep; line += kLine) __builtin_prefetch(x + at + ahead + line, 0, 3);
      for (int c = 0; c < kChains; ++c) acc[c] = V::add(acc[c], V::load(x + at + static_cast<std::size_t>(c * V::W)));
    }
  for (int c = 1; c < kChains; ++c) acc[0] = V::add(acc[0], acc[c]);
  float s = V::hsum(acc[0]);
  for (std::size_t i = parts * part; i < n; ++i) s += x[i];
  return s;
}

}  // namespace
}  // namespace attnbench
