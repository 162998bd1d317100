#pragma once

#include <pybind11/pybind11.h>

namespace pysig::litert_backend {

// Adds the `litert` submodule: loading the library, sessions over verified model
// bytes, and the signatures LiteRT reports.
void register_bindings(pybind11::module_& m);

}  // namespace pysig::litert_backend
