// One array argument of the Python API, a NumPy array or any object with __dlpack__
// (PyTorch tensors), read as shape, element strides and a pointer into the caller's
// memory: no copy. The object that owns the memory is held for as long as the view is.
#pragma once

#include <attn/dtype.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>

namespace attnlab::python {

namespace py = pybind11;

enum class DType { f32, f64, f16, bf16, boolean, other };

/// Most dimensions an attention argument may have ([B, H, N, d]).
inline constexpr int kMaxRank = 4;

struct ArrayArg {
  py::object owner;  ///< the NumPy array, or the DLPack capsule (its destructor frees the export)
  const char* name = "";
  void* data = nullptr;
  int rank = 0;
  std::array<std::int64_t, kMaxRank> shape{};
  std::array<std::int64_t, kMaxRank> strides{};  ///< in elements
  DType dtype = DType::other;
  std::string dtype_name;  ///< as the caller's library spells it, for messages
  bool writeable = true;   ///< NumPy's flag; DLPack exports carry none
  bool aligned = true;     ///< data and strides are multiples of the element size
  bool from_dlpack = false;

  /// True when the engine can read this in place: stride 1 in the last dimension (or a
  /// length of 1 there), no negative stride, aligned.
  bool engine_readable() const;
  /// Dimension i counted from the end (-1: the last); 1 beyond the rank.
  std::int64_t dim(int from_end) const {
    const int i = rank + from_end;
    return i >= 0 ? shape[i] : 1;
  }
  /// "(3, 4)": the shape as Python prints a tuple.
  std::string shape_str() const;
};

/// Reads `obj` as an array of min_rank..max_rank dimensions. Throws TypeError for an object
/// that is neither a NumPy array nor a DLPack exporter, ValueError for a rank out of range
/// or memory not on the CPU. `name` must outlive the result (a string literal).
ArrayArg read_array(py::handle obj, const char* name, int min_rank, int max_rank);

/// A C-contiguous NumPy copy of a float32, float16 or bfloat16 argument (the layouts the
/// engine cannot read in place: a strided last dimension, negative strides, misaligned data).
/// A bfloat16 copy is a NumPy int16 array of the same bits (NumPy has no bfloat16).
ArrayArg contiguous_copy(const ArrayArg& a);

/// The engine's dtype of a float32, float16 or bfloat16 argument.
attn::DType engine_dtype(DType t);

/// The NumPy dtype that holds `t`'s elements: float32, float16, or int16 (the bits of bfloat16).
py::dtype numpy_storage(attn::DType t);

/// TypeError "q: dtype float16 is not supported; ...", naming what is accepted.
[[noreturn]] void throw_dtype_error(const ArrayArg& a, const char* accepted);

/// True when `obj` is a torch.Tensor (torch is looked up only if already imported).
bool is_torch_tensor(py::handle obj);

/// A torch tensor sharing the memory of NumPy array `a` (through DLPack).
py::object to_torch(const py::object& a);

}  // namespace attnlab::python
