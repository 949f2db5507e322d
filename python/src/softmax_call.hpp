// attnlab.softmax(): the softmax and log-softmax variants of attn/softmax.hpp over the
// last axis of a float32 or float64 NumPy array.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace attnlab::python {

namespace py = pybind11;

/// The variant names softmax() accepts, in lesson order.
const char* softmax_variant_names();

/// A new array of x's shape and dtype: each row along the last axis through `variant`.
/// TypeError for another dtype, ValueError for an unknown variant or a 0-d input.
py::object softmax(py::handle x, const std::string& variant);

}  // namespace attnlab::python
