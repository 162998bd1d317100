// pysig serve's fast path: predict request bodies whose tensors are all numbers, read from
// the JSON text straight into float64 arrays (pysig/serve/numeric_body.py uses it).
#pragma once

#include <pybind11/pybind11.h>

namespace pysig::serve {

// Adds `read_numeric_request(body)` to the module.
void register_bindings(pybind11::module_& m);

}  // namespace pysig::serve
