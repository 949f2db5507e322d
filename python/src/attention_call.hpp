// attnlab.attention(): torch's scaled_dot_product_attention arguments mapped onto
// attn::attention() over the caller's memory.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace attnlab::python {

namespace py = pybind11;

struct AttentionArgs {
  py::handle q, k, v, attn_mask, scale, out;
  bool is_causal = false;
  std::string causal_align = "top-left";
  bool enable_gqa = false;
  std::string kernel = "auto";
  int threads = 0;
  bool return_lse = false;
  long long memory_budget = 0;
  long long q_offset = 0, kv_offset = 0;
};

/// The output array (or the tuple (output, lse) with return_lse). Raises TypeError for a
/// wrong type or dtype, ValueError for a wrong shape or option (the engine's message),
/// MemoryError when the chosen kernel's workspace is over the memory budget.
py::object attention(const AttentionArgs& a);

}  // namespace attnlab::python
