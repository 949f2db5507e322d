// Reading NumPy arrays and DLPack exports as strided views (array_arg.hpp).
#include "array_arg.hpp"

#include "dlpack.hpp"

#include <pybind11/numpy.h>

#include <cstring>

namespace attnlab::python {

namespace {

DType numpy_dtype(const py::array& a) {
  const auto* d = py::detail::array_descriptor_proxy(py::detail::array_proxy(a.ptr())->descr);
  if (d->byteorder == '>') return DType::other;  // big-endian data on a little-endian machine
  if (d->kind == 'b') return DType::boolean;
  if (d->kind != 'f') return DType::other;
  switch (d->elsize) {
    case 2:
      return DType::f16;
    case 4:
      return DType::f32;
    case 8:
      return DType::f64;
  }
  return DType::other;
}

std::string rank_text(int min_rank, int max_rank) {
  return min_rank == max_rank ? std::to_string(min_rank) : std::to_string(min_rank) + " to " + std::to_string(max_rank);
}

void check_rank(int rank, const char* name, int min_rank, int max_rank) {
  if (rank < min_rank || rank > max_rank)
    throw py::value_error(std::string(name) + ": has " + std::to_string(rank) + " dimensions, expected " +
                          rank_text(min_rank, max_rank) +
                          (max_rank == kMaxRank ? " ([N, d], [H, N, d] or [B, H, N, d])" : ""));
}

ArrayArg read_numpy(py::handle obj, const char* name, int min_rank, int max_rank) {
  auto a = py::reinterpret_borrow<py::array>(obj);
  ArrayArg r;
  r.name = name;
  r.rank = static_cast<int>(a.ndim());
  check_rank(r.rank, name, min_rank, max_rank);
  r.dtype = numpy_dtype(a);
  const auto item = static_cast<std::int64_t>(a.itemsize());
  r.data = const_cast<void*>(a.data());
  r.aligned = reinterpret_cast<std::uintptr_t>(r.data) % static_cast<std::uintptr_t>(item) == 0;
  for (int i = 0; i < r.rank; ++i) {
    r.shape[i] = a.shape(i);
    const auto bytes = static_cast<std::int64_t>(a.strides(i));
    r.aligned = r.aligned && bytes % item == 0;
    r.strides[i] = bytes / item;
  }
  r.writeable = a.writeable();
  r.owner = std::move(a);
  return r;
}

std::string dlpack_dtype_name(const dlpack::DataType& t) {
  const char* kind = t.code == dlpack::kDLFloat    ? "float"
                     : t.code == dlpack::kDLBfloat ? "bfloat"
                     : t.code == dlpack::kDLInt    ? "int"
                     : t.code == dlpack::kDLUInt   ? "uint"
                     : t.code == dlpack::kDLBool   ? "bool"
                                                   : "dlpack-code-";
  return std::string(kind) + std::to_string(t.bits) + (t.lanes != 1 ? "x" + std::to_string(t.lanes) : "");
}

DType dlpack_dtype(const dlpack::DataType& t) {
  if (t.lanes != 1) return DType::other;
  if (t.code == dlpack::kDLFloat)
    return t.bits == 32 ? DType::f32 : t.bits == 64 ? DType::f64 : t.bits == 16 ? DType::f16 : DType::other;
  if (t.code == dlpack::kDLBfloat && t.bits == 16) return DType::bf16;
  if (t.code == dlpack::kDLBool && t.bits == 8) return DType::boolean;
  return DType::other;
}

ArrayArg read_dlpack(py::handle obj, const char* name, int min_rank, int max_rank) {
  py::object capsule;
  try {
    capsule = obj.attr("__dlpack__")();
  } catch (py::error_already_set& e) {
    // PyTorch 1.13 exports no bool tensor through DLPack; its .numpy() is a view of the same memory.
    if (is_torch_tensor(obj) && py::str(obj.attr("dtype")).cast<std::string>() == "torch.bool")
      return read_numpy(obj.attr("numpy")(), name, min_rank, max_rank);
    throw py::type_error(std::string(name) + ": its __dlpack__() failed: " + py::str(e.value()).cast<std::string>());
  }
  auto* managed = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) {
    PyErr_Clear();
    throw py::type_error(std::string(name) + ": __dlpack__() did not return a \"dltensor\" capsule");
  }
  const dlpack::Tensor& t = managed->dl_tensor;
  if (t.device.device_type != dlpack::kDLCPU && t.device.device_type != dlpack::kDLCUDAHost)
    throw py::value_error(std::string(name) + ": is on DLPack device type " + std::to_string(t.device.device_type) +
                          ", not the CPU; attnlab computes on the CPU (torch: pass " + name + ".cpu())");
  ArrayArg r;
  r.name = name;
  r.from_dlpack = true;
  r.rank = t.ndim;
  check_rank(r.rank, name, min_rank, max_rank);
  r.dtype = dlpack_dtype(t.dtype);
  r.dtype_name = dlpack_dtype_name(t.dtype);
  r.data = static_cast<char*>(t.data) + t.byte_offset;
  const std::uint64_t item = (t.dtype.bits * t.dtype.lanes + 7u) / 8u;
  r.aligned = item == 0 || reinterpret_cast<std::uintptr_t>(r.data) % item == 0;
  std::int64_t compact = 1;  // row-major strides when the export has none
  for (int i = r.rank - 1; i >= 0; --i) {
    r.shape[i] = t.shape[i];
    r.strides[i] = t.strides ? t.strides[i] : compact;
    compact *= t.shape[i];
  }
  r.owner = std::move(capsule);
  return r;
}

}  // namespace

bool ArrayArg::engine_readable() const {
  if (!aligned) return false;
  for (int i = 0; i < rank; ++i)
    if (strides[i] < 0) return false;
  return rank == 0 || strides[rank - 1] == 1 || shape[rank - 1] <= 1;
}

std::string ArrayArg::shape_str() const {
  std::string s = "(";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (rank == 1 ? ",)" : ")");
}

ArrayArg read_array(py::handle obj, const char* name, int min_rank, int max_rank) {
  if (py::isinstance<py::array>(obj)) return read_numpy(obj, name, min_rank, max_rank);
  if (py::hasattr(obj, "__dlpack__")) return read_dlpack(obj, name, min_rank, max_rank);
  throw py::type_error(std::string(name) + ": expected a NumPy array or a tensor with __dlpack__ (PyTorch), got " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

attn::DType engine_dtype(DType t) {
  return t == DType::f16 ? attn::DType::f16 : t == DType::bf16 ? attn::DType::bf16 : attn::DType::f32;
}

py::dtype numpy_storage(attn::DType t) {
  return t == attn::DType::f32   ? py::dtype("float32")
         : t == attn::DType::f16 ? py::dtype("float16")
                                 : py::dtype("int16");
}

ArrayArg contiguous_copy(const ArrayArg& a) {
  const attn::DType t = engine_dtype(a.dtype);
  std::vector<py::ssize_t> shape(a.shape.begin(), a.shape.begin() + a.rank), strides(a.rank);
  for (int i = 0; i < a.rank; ++i) strides[i] = static_cast<py::ssize_t>(a.strides[i] * attn::size_of(t));
  // A NumPy view of the caller's memory that keeps its owner alive, then an aligned C-order copy.
  const py::array view(numpy_storage(t), shape, strides, a.data, a.owner);
  const py::object copy =
      py::module_::import("numpy").attr("array")(view, py::arg("order") = "C", py::arg("copy") = true);
  ArrayArg c = read_array(copy, a.name, a.rank, a.rank);
  c.dtype = a.dtype;  // int16 holding bfloat16 bits stays bfloat16
  c.dtype_name = a.dtype_name;
  return c;
}

void throw_dtype_error(const ArrayArg& a, const char* accepted) {
  std::string dtype = a.dtype_name;
  if (dtype.empty()) dtype = py::str(a.owner.attr("dtype")).cast<std::string>();
  throw py::type_error(std::string(a.name) + ": dtype " + dtype + " is not supported; expected " + accepted);
}

bool is_torch_tensor(py::handle obj) {
  PyObject* torch = PyDict_GetItemString(PyImport_GetModuleDict(), "torch");  // borrowed; no import
  if (torch == nullptr) return false;
  const py::object tensor_type = py::reinterpret_borrow<py::object>(torch).attr("Tensor");
  return PyObject_IsInstance(obj.ptr(), tensor_type.ptr()) == 1;
}

py::object to_torch(const py::object& a) {
  return py::module_::import("torch").attr("from_dlpack")(a);
}

}  // namespace attnlab::python
