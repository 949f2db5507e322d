// attnlab.softmax() (softmax_call.hpp).
#include "softmax_call.hpp"

#include <attn/softmax.hpp>

#include <pybind11/numpy.h>

#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

namespace attnlab::python {

namespace {

namespace sm = attn::softmax;

/// One row, x to y (n entries); y may equal x.
template <class T>
using RowFn = void (*)(const T* x, T* y, std::size_t n);

template <class T>
struct Variant {
  std::string_view name;
  RowFn<T> fn;  ///< nullptr: not offered in this precision
};

/// stable_inplace, the vectorised fp32 kernel attention uses; no fp64 version.
template <class T>
constexpr RowFn<T> simd_row() {
  if constexpr (std::is_same_v<T, float>)
    return [](const float* x, float* y, std::size_t n) {
      if (x != y) std::memcpy(y, x, n * sizeof(float));
      sm::stable_inplace(y, n);
    };
  else
    return nullptr;
}

template <class T>
const Variant<T>* find_variant(std::string_view name) {
  static const Variant<T> variants[] = {
      {"naive", [](const T* x, T* y, std::size_t n) { sm::naive<T>(x, y, n); }},
      {"safe", [](const T* x, T* y, std::size_t n) { sm::safe<T>(x, y, n); }},
      {"online", [](const T* x, T* y, std::size_t n) { sm::online<T>(x, y, n); }},
      {"simd", simd_row<T>()},
      {"log_softmax", [](const T* x, T* y, std::size_t n) { sm::log_softmax<T>(x, y, n); }},
      {"log_softmax_basic", [](const T* x, T* y, std::size_t n) { sm::log_softmax_basic<T>(x, y, n); }},
  };
  for (const auto& v : variants)
    if (v.name == name) return &v;
  return nullptr;
}

template <class T>
py::object apply(py::array_t<T, py::array::c_style> x, const std::string& variant) {
  const Variant<T>* v = find_variant<T>(variant);
  if (v == nullptr)
    throw py::value_error("variant: unknown softmax variant '" + variant + "' (one of " + softmax_variant_names() +
                          ")");
  if (v->fn == nullptr) throw py::type_error("variant: '" + variant + "' is float32 only; pass a float32 array");
  if (x.ndim() == 0) throw py::value_error("x: a 0-d array has no row; pass at least one dimension");
  py::array_t<T> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const auto n = static_cast<std::size_t>(x.shape(x.ndim() - 1));
  const std::size_t rows = n == 0 ? 0 : static_cast<std::size_t>(x.size()) / n;
  const T* src = x.data();
  T* dst = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    for (std::size_t r = 0; r < rows; ++r) v->fn(src + r * n, dst + r * n, n);
  }
  return y;
}

}  // namespace

const char* softmax_variant_names() {
  return "naive, safe, online, simd, log_softmax, log_softmax_basic";
}

py::object softmax(py::handle x, const std::string& variant) {
  if (!py::isinstance<py::array>(x))
    throw py::type_error("x: expected a NumPy array, got " +
                         std::string(py::str(py::type::handle_of(x).attr("__name__"))));
  const auto a = py::reinterpret_borrow<py::array>(x);
  const py::dtype dt = a.dtype();
  // The array itself when it is C-contiguous; otherwise one C-order copy.
  if (dt.kind() == 'f' && dt.itemsize() == 4)
    return apply<float>(py::array_t<float, py::array::c_style>::ensure(a), variant);
  if (dt.kind() == 'f' && dt.itemsize() == 8)
    return apply<double>(py::array_t<double, py::array::c_style>::ensure(a), variant);
  throw py::type_error("x: dtype " + std::string(py::str(static_cast<const py::handle&>(dt))) +
                       " is not supported; expected float32 or float64");
}

}  // namespace attnlab::python
