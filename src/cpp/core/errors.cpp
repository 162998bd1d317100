#include "errors.h"

#include <pybind11/pybind11.h>

namespace pysig {

namespace py = pybind11;

void raise(const char* class_name, const std::string& message) {
  // Imported on first use: pysig.errors is pure Python and imports nothing back.
  static py::handle module = py::module_::import("pysig.errors").release();
  py::object cls = module.attr(class_name);
  PyErr_SetObject(cls.ptr(), py::str(message).ptr());
  throw py::error_already_set();
}

}  // namespace pysig
