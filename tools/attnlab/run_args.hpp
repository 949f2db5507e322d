// What `attnlab run` reads from its flags and file headers, shared by the single-process
// run (cmd_run.cpp) and the run under mpirun (run_distributed.cpp).
#pragma once

#include "npy.hpp"

#include <attn/attention.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnlab {

/// --causal: none, top-left or bottom-right. Throws std::invalid_argument naming the flag.
inline attn::Causal parse_causal_flag(const std::string& s) {
  if (s == "none") return attn::Causal::none;
  if (s == "top-left") return attn::Causal::top_left;
  if (s == "bottom-right") return attn::Causal::bottom_right;
  throw std::invalid_argument("--causal: expected none, top-left or bottom-right, got '" + s + "'");
}

/// The 4-D [B, H, N, D] shape of a 2-D, 3-D or 4-D input; `label` names it in the error.
inline std::array<std::int64_t, 4> npy_as_4d(const std::string& label, const std::vector<std::int64_t>& s) {
  if (s.size() < 2 || s.size() > 4)
    throw std::invalid_argument(label + ": shape " + npy::shape_string(s) + " has " + std::to_string(s.size()) +
                                " dimension(s); expected 2-D [N, d], 3-D [H, N, d] or 4-D [B, H, N, d]");
  std::array<std::int64_t, 4> r{1, 1, 1, 1};
  std::copy(s.begin(), s.end(), r.begin() + static_cast<std::ptrdiff_t>(4 - s.size()));
  return r;
}

}  // namespace attnlab
