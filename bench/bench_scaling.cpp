// Cost versus sequence length: N = Nq = Nk from 16 to 131072 at d = 64, one
// head, no mask, so that the N² compute growth and each kernel's memory growth
// (O(N²) scores for blas, O(N·d) for a fused kernel) show on log-log axes.
// quick: N = 16 … 4096 in steps of 4×; full: every power of two to 131072.
// Run at the largest thread count (thread scaling is the attention suite's job).
#include "kit/attention_case.hpp"
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/suite_main.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace {

using attnbench::Profile;

constexpr std::int64_t kHeadDim = 64;

std::vector<std::int64_t> lengths() {
  std::vector<std::int64_t> n;
  switch (attnbench::profile()) {
    case Profile::smoke:
      return {16, 32};
    case Profile::quick:
      for (std::int64_t x = 16; x <= 4096; x *= 4) n.push_back(x);
      return n;
    case Profile::full:
      break;
  }
  for (std::int64_t x = 16; x <= 131072; x *= 2) n.push_back(x);
  return n;
}

void register_scaling() {
  for (const attn::KernelInfo& kernel : attn::kernels())
    for (std::int64_t n : lengths()) {
      attnlab::Shape shape =
          attnlab::parse_shape(std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(kHeadDim));
      shape.name = "N:" + std::to_string(n) + "/d:" + std::to_string(kHeadDim);
      if (!attnbench::worth_timing(kernel, shape)) continue;
      attnbench::register_case("scaling", {&kernel, shape, attnbench::max_threads()});
    }
}

const bool registered = attnbench::add_suite(register_scaling);

}  // namespace

ATTNBENCH_MAIN()
