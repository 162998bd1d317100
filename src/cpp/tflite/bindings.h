#pragma once

#include <pybind11/pybind11.h>

namespace pysig::tflite_backend {

// Adds the `tflite` submodule: loading the backend, sessions over tflite_runtime
// interpreters, and what the import-time layout check reads.
void register_bindings(pybind11::module_& m);

}  // namespace pysig::tflite_backend
