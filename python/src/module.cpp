// attnlab._core: the engine for Python (docs/python.md). The package attnlab re-exports
// these and adds compare()'s list of dicts.
#include "attention_call.hpp"
#include "softmax_call.hpp"

#include "compare_run.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <pybind11/stl.h>

#include <iostream>

namespace py = pybind11;
namespace ap = attnlab::python;

namespace {

constexpr const char* kAttentionDoc = R"(Scaled dot-product attention: softmax(q kᵀ · scale + attn_mask) v.

Arguments as in torch.nn.functional.scaled_dot_product_attention:
  q: [..., Nq, d], k: [..., Nk, d], v: [..., Nk, dv], with 2 to 4 dimensions
     ([N, d], [H, N, d] or [B, H, N, d]); NumPy arrays or tensors with __dlpack__
     (PyTorch); float32, float16 or bfloat16 (torch), each its own. Read in place through
     their strides; copied only when the last dimension is not contiguous, a stride is
     negative or the data is misaligned. The engine computes in fp32 (16-bit values are
     widened exactly).
  attn_mask: [Nq, Nk] (leading dimensions of 1 allowed), shared by every batch and head;
     float32, float16 or bfloat16 is added to the scores (-inf masks a key), bool follows
     torch (True attends; converted to a float32 copy).
  is_causal: query i sees keys 0..i (causal_align="top-left", torch's rule) or
     0..i+Nk-Nq ("bottom-right", FlashAttention >= 2.1 and KV-cache decoding).
  scale: multiplies q kᵀ; None means 1/sqrt(d).
  enable_gqa: allow k and v with fewer heads than q (their count must divide q's).
  kernel: "auto" or a name from attnlab.kernels().
  threads: OpenMP threads for this call; 0 = the OpenMP default of the calling thread.
  return_lse: also return the natural log-sum-exp of each row, shape q.shape[:-1].
  out: a float32, float16 or bfloat16 array of shape q.shape[:-1] + (dv,) to write into
     (stride 1 in its last dimension; rounded to its dtype, nearest even); returned as given.
  memory_budget: the largest workspace, in bytes, a kernel may allocate (0: half of
     physical memory).
  q_offset, kv_offset: global positions of the first query row and key, for a chunk of a
     longer sequence under is_causal: key j is visible to row i iff
     kv_offset + j <= q_offset + i (+ Nk - Nq for "bottom-right").

Returns a new NumPy array (a torch tensor sharing its memory when q is a torch tensor)
of q's dtype (bfloat16 only as a torch tensor: NumPy has none, so otherwise float32), or
`out`; with return_lse, the tuple (output, lse), the lse float32. The GIL is released while the
engine computes.

Raises TypeError (not an array, unsupported dtype), ValueError (shapes, options: the
engine's message) and MemoryError (the workspace is over memory_budget).)";

constexpr const char* kKernelsDoc = R"(Every registered kernel as a dict: name, summary, what it supports
(causal, mask, gqa, lse, threads) and auto_priority (the highest that supports a call
is what kernel="auto" runs; -1: never chosen by auto).)";

constexpr const char* kSoftmaxDoc = R"(Softmax of each row along the last axis of x, with one of the lesson's variants.

variant: "naive" (exp(x)/Σexp(x), overflows past 88.72 in float32), "safe" (max
subtracted, three passes), "online" (running max and rescaled sum, two passes),
"simd" (the vectorised float32 kernel), "log_softmax" (log1p form of Blanchard,
Higham & Higham), "log_softmax_basic" (x - log Σ exp(x)).
x: a float32 or float64 NumPy array; returns a new array of its shape and dtype.)";

std::string compare_json(const std::string& shapes, const std::string& kernels, int threads, std::uint64_t seed,
                         int reps, double max_seconds, double reference_limit, std::size_t memory_budget,
                         bool progress, const std::string& dtypes) {
  attnlab::CompareOptions o;
  o.shapes = shapes, o.kernels = kernels, o.dtypes = dtypes, o.threads = threads, o.seed = seed, o.reps = reps;
  o.max_seconds = max_seconds, o.reference_limit = reference_limit, o.memory_budget = memory_budget;
  py::gil_scoped_release nogil;
  // Bad shapes or kernels throw std::invalid_argument ("--shapes: ..."), raised as ValueError.
  return attnlab::compare_json(o, attnlab::run_compare(o, progress ? &std::cerr : nullptr));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "attnlab's engine: scaled dot-product attention on CPUs (see the attnlab package).";
  m.attr("__version__") = attn::version();
  // attn::Error is a std::invalid_argument: pybind11 raises it as ValueError.

  m.def(
      "attention",
      [](py::handle q, py::handle k, py::handle v, py::handle attn_mask, bool is_causal, std::string causal_align,
         py::handle scale, bool enable_gqa, std::string kernel, int threads, bool return_lse, py::handle out,
         long long memory_budget, long long q_offset, long long kv_offset) {
        ap::AttentionArgs a;
        a.q = q, a.k = k, a.v = v, a.attn_mask = attn_mask, a.scale = scale, a.out = out;
        a.is_causal = is_causal, a.causal_align = std::move(causal_align), a.enable_gqa = enable_gqa;
        a.kernel = std::move(kernel), a.threads = threads, a.return_lse = return_lse;
        a.memory_budget = memory_budget, a.q_offset = q_offset, a.kv_offset = kv_offset;
        return ap::attention(a);
      },
      kAttentionDoc, py::arg("q"), py::arg("k"), py::arg("v"), py::kw_only(), py::arg("attn_mask") = py::none(),
      py::arg("is_causal") = false, py::arg("causal_align") = "top-left", py::arg("scale") = py::none(),
      py::arg("enable_gqa") = false, py::arg("kernel") = "auto", py::arg("threads") = 0, py::arg("return_lse") = false,
      py::arg("out") = py::none(), py::arg("memory_budget") = 0, py::arg("q_offset") = 0, py::arg("kv_offset") = 0);

  m.def(
      "kernels",
      [] {
        py::list out;
        for (const attn::KernelInfo& k : attn::kernels()) {
          py::dict d;
          d["name"] = std::string(k.name);
          d["summary"] = std::string(k.summary);
          d["causal"] = k.caps.causal, d["mask"] = k.caps.mask, d["gqa"] = k.caps.gqa;
          d["lse"] = k.caps.lse, d["threads"] = k.caps.threads;
          d["auto_priority"] = k.auto_priority;
          d["dtypes"] = k.dtypes.str();
          out.append(std::move(d));
        }
        return out;
      },
      kKernelsDoc);

  m.def("softmax", &ap::softmax, kSoftmaxDoc, py::arg("x"), py::arg("variant") = "safe");
  py::tuple variants = py::str(ap::softmax_variant_names()).attr("split")(", ");
  m.attr("softmax_variants") = variants;

  m.def("_compare_json", &compare_json,
        "The `attnlab compare --json` document (attnlab.compare() parses it; see its docstring).", py::arg("shapes"),
        py::arg("kernels"), py::arg("threads"), py::arg("seed"), py::arg("reps"), py::arg("max_seconds"),
        py::arg("reference_limit"), py::arg("memory_budget"), py::arg("progress"), py::arg("dtypes") = "f32");
}
