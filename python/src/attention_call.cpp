// attnlab.attention() (attention_call.hpp): reads the arguments as views of the caller's
// memory, lets attn::attention() validate and compute with the GIL released, and turns
// attn::Error into ValueError (MemoryError when the memory budget is what refused).
#include "attention_call.hpp"

#include "array_arg.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <pybind11/numpy.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace attnlab::python {

namespace {

using i64 = std::int64_t;

constexpr const char* kAcceptedInput =
    "float32, float16 or bfloat16 (torch) (convert with x.astype(numpy.float32), or x.float() for torch)";
constexpr const char* kAcceptedMask =
    "float32, float16 or bfloat16 (added to the scores; -inf masks a key) or bool (True attends, as in torch)";
constexpr const char* kAcceptedOut = "float32, float16 or bfloat16 (torch)";

bool engine_dtype_ok(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::bf16;
}

/// q, k or v: float32, float16 or bfloat16, 2 to 4 dimensions; copied only when the engine
/// cannot read it in place.
ArrayArg read_input(py::handle obj, const char* name) {
  ArrayArg a = read_array(obj, name, 2, kMaxRank);
  if (!engine_dtype_ok(a.dtype)) throw_dtype_error(a, kAcceptedInput);
  return a.engine_readable() ? std::move(a) : contiguous_copy(a);
}

/// [..., N, d] as the engine's [B, H, N, d]: the missing leading dimensions have length 1.
/// View: attn::AnyConstTensor or attn::AnyTensor.
template <class View>
View view4(const ArrayArg& a) {
  View t;
  t.data = a.data;
  t.dtype = engine_dtype(a.dtype);
  const int pad = kMaxRank - a.rank;
  for (int i = 0; i < kMaxRank; ++i) {
    t.shape[i] = i < pad ? 1 : a.shape[i - pad];
    t.strides[i] = i < pad ? 0 : a.strides[i - pad];
  }
  return t;
}

/// The mask as the engine's one [Nq, Nk] matrix; `keep` holds a converted copy alive.
attn::Mask read_mask(py::handle obj, ArrayArg& keep) {
  keep = read_array(obj, "attn_mask", 2, kMaxRank);
  for (int i = 0; i + 2 < keep.rank; ++i)
    if (keep.shape[i] != 1)
      throw py::value_error("attn_mask: shape " + keep.shape_str() +
                            "; attnlab applies one [Nq, Nk] mask to every batch and head, so the dimensions "
                            "before the last two must be 1");
  const i64 rows = keep.dim(-2), cols = keep.dim(-1);
  const i64 rs = keep.strides[keep.rank - 2], cs = keep.strides[keep.rank - 1];
  if (keep.dtype == DType::boolean) {
    // torch's convention: True takes part. As an additive mask: 0 or -inf (a copy).
    py::array_t<float> m({rows, cols});
    float* dst = m.mutable_data();
    const auto* src = static_cast<const unsigned char*>(keep.data);
    for (i64 i = 0; i < rows; ++i)
      for (i64 j = 0; j < cols; ++j)
        dst[i * cols + j] = src[i * rs + j * cs] ? 0.0f : -std::numeric_limits<float>::infinity();
    keep = read_array(m, "attn_mask", keep.rank, keep.rank);
  } else if (!engine_dtype_ok(keep.dtype)) {
    throw_dtype_error(keep, kAcceptedMask);
  } else if (!keep.engine_readable() || (rows > 1 && rs < cols)) {
    keep = contiguous_copy(keep);  // the engine reads rows with stride 1, at least cols apart
  }
  attn::Mask m{nullptr, rows, cols, rows > 1 ? keep.strides[keep.rank - 2] : cols};
  m.data.ptr = keep.data;
  m.data.dtype = engine_dtype(keep.dtype);
  return m;
}

/// `out=`: written in place, so it must be exactly what the engine writes.
ArrayArg read_out(py::handle obj, const ArrayArg& q, i64 dv) {
  ArrayArg o = read_array(obj, "out", 2, kMaxRank);
  if (!engine_dtype_ok(o.dtype)) throw_dtype_error(o, kAcceptedOut);
  bool same = o.rank == q.rank && o.shape[o.rank - 1] == dv;
  for (int i = 0; same && i + 1 < q.rank; ++i) same = o.shape[i] == q.shape[i];
  if (!same) {
    ArrayArg want = q;
    want.shape[q.rank - 1] = dv;
    throw py::value_error("out: shape " + o.shape_str() + ", expected " + want.shape_str() +
                          " (q.shape[:-1] + (v.shape[-1],))");
  }
  if (!o.writeable) throw py::value_error("out: the array is read-only");
  if (!o.engine_readable())
    throw py::value_error(
        "out: the engine writes each row in place, so out needs stride 1 in its last dimension, "
        "non-negative strides and aligned data (got strides " +
        [&] {
          std::string s = "(";
          for (int i = 0; i < o.rank; ++i) s += (i ? ", " : "") + std::to_string(o.strides[i]);
          return s + ")";
        }() +
        " elements)");
  return o;
}

attn::Causal causal_of(bool is_causal, const std::string& align) {
  if (align != "top-left" && align != "bottom-right")
    throw py::value_error("causal_align: expected 'top-left' or 'bottom-right', got '" + align + "'");
  if (!is_causal) return attn::Causal::none;
  return align == "top-left" ? attn::Causal::top_left : attn::Causal::bottom_right;
}

/// The engine names options by their C++ fields; the caller knows them by these keywords.
std::string python_message(std::string m, bool reshaped) {
  static const std::pair<std::string_view, std::string_view> names[] = {{"options.mask", "attn_mask"},
                                                                        {"options.threads", "threads"},
                                                                        {"options.kernel", "kernel"},
                                                                        {"options.memory_budget", "memory_budget"},
                                                                        {"options.scale", "scale"}};
  for (const auto& [from, to] : names)
    for (std::size_t at = m.find(from); at != std::string::npos; at = m.find(from, at + to.size()))
      m.replace(at, from.size(), to);
  if (reshaped && m.find('[') != std::string::npos) m += " (shapes as the engine sees them: [B, H, N, d])";
  return m;
}

/// A new C-order NumPy array of `dtype` (bfloat16: int16 holding the bits) shaped like the first
/// `rank` dimensions of `like`, then `last` when >= 0.
py::array new_array(const ArrayArg& like, int rank, i64 last, attn::DType dtype = attn::DType::f32) {
  std::vector<py::ssize_t> shape(like.shape.begin(), like.shape.begin() + rank);
  if (last >= 0) shape.push_back(last);
  return py::array(numpy_storage(dtype), shape);
}

/// The output's dtype when attention() allocates it: q's, as torch does; bfloat16 only when it
/// can be handed back as a torch tensor (NumPy has none), else float32 (the engine writes fp32
/// straight, no rounding).
attn::DType new_out_dtype(const ArrayArg& q, bool torch_out) {
  const attn::DType t = engine_dtype(q.dtype);
  return t == attn::DType::bf16 && !torch_out ? attn::DType::f32 : t;
}

/// A torch tensor over NumPy array `a` holding elements of `dtype` (bfloat16: a view of its int16 bits).
py::object torch_of(const py::object& a, attn::DType dtype) {
  py::object t = to_torch(a);
  if (dtype == attn::DType::bf16) t = t.attr("view")(py::module_::import("torch").attr("bfloat16"));
  return t;
}

}  // namespace

py::object attention(const AttentionArgs& a) {
  const ArrayArg q = read_input(a.q, "q"), k = read_input(a.k, "k"), v = read_input(a.v, "v");
  for (const ArrayArg* x : {&k, &v})
    if (x->rank != q.rank)
      throw py::value_error(std::string(x->name) + ": has " + std::to_string(x->rank) + " dimensions but q has " +
                            std::to_string(q.rank) + "; q, k and v have the same number");
  if (q.rank >= 3 && k.dim(-3) != q.dim(-3) && !a.enable_gqa)
    throw py::value_error("k: " + std::to_string(k.dim(-3)) + " heads (dimension -3) but q has " +
                          std::to_string(q.dim(-3)) + "; pass enable_gqa=True for grouped-query attention");

  attn::Options opts;
  opts.causal = causal_of(a.is_causal, a.causal_align);
  opts.kernel = a.kernel;
  opts.threads = a.threads;
  opts.q_offset = a.q_offset;
  opts.kv_offset = a.kv_offset;
  if (a.memory_budget < 0)
    throw py::value_error("memory_budget: must be >= 0 bytes (0 = half of physical memory), got " +
                          std::to_string(a.memory_budget));
  opts.memory_budget = static_cast<std::size_t>(a.memory_budget);
  if (!a.scale.is_none()) {
    const double s = PyFloat_AsDouble(a.scale.ptr());
    if (s == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      throw py::type_error("scale: expected a float or None, got " +
                           std::string(py::str(py::type::handle_of(a.scale).attr("__name__"))));
    }
    opts.scale = static_cast<float>(s);
  }
  ArrayArg mask_keep;
  if (!a.attn_mask.is_none()) opts.mask = read_mask(a.attn_mask, mask_keep);

  const i64 dv = v.dim(-1);
  const bool torch_out = a.out.is_none() && is_torch_tensor(a.q);  // also when q was copied
  const attn::DType out_dtype = new_out_dtype(q, torch_out);
  py::object out_obj;
  ArrayArg out;
  if (a.out.is_none()) {
    out_obj = new_array(q, q.rank - 1, dv, out_dtype);
    out = read_array(out_obj, "out", q.rank, q.rank);
    if (out_dtype == attn::DType::bf16) out.dtype = DType::bf16;  // int16 storage of bfloat16 bits
  } else {
    out = read_out(a.out, q, dv);
    out_obj = py::reinterpret_borrow<py::object>(a.out);
  }
  py::object lse_obj;
  attn::Tensor lse4;
  const attn::AnyTensor out4 = view4<attn::AnyTensor>(out);
  if (a.return_lse) {
    py::array_t<float> lse = new_array(q, q.rank - 1, -1);
    lse4 = attn::lse_view(lse.mutable_data(), out4.shape[0], out4.shape[1], out4.shape[2]);
    lse_obj = std::move(lse);
  }

  const auto q4 = view4<attn::AnyConstTensor>(q), k4 = view4<attn::AnyConstTensor>(k),
             v4 = view4<attn::AnyConstTensor>(v);
  try {
    py::gil_scoped_release nogil;
    attn::attention(q4, k4, v4, out4, lse4, opts);
  } catch (const attn::Error& e) {
    // Refused for memory when the same call passes validation with no budget: the workspace
    // was over memory_budget, or could not be allocated.
    attn::Options unlimited = opts;
    unlimited.memory_budget = std::numeric_limits<std::size_t>::max();
    bool memory = true;
    try {
      attn::validate(q4, k4, v4, out4, lse4, unlimited);
    } catch (const attn::Error&) {
      memory = false;
    }
    const std::string msg = python_message(e.what(), q.rank < kMaxRank);
    if (memory) {
      PyErr_SetString(PyExc_MemoryError, msg.c_str());
      throw py::error_already_set();
    }
    throw py::value_error(msg);
  }

  if (torch_out) {
    out_obj = torch_of(out_obj, out_dtype);
    if (lse_obj) lse_obj = to_torch(lse_obj);
  }
  if (a.return_lse) return py::make_tuple(out_obj, lse_obj);
  return out_obj;
}

}  // namespace attnlab::python
