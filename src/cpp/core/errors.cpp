#include "errors.h"

#include <pybind11/pybind11.h>

#include "python_once.h"

namespace pysig {

namespace py = pybind11;

void raise(const char* class_name, const std::string& message) {
  // Imported on first use: pysig.errors is pure Python and imports nothing back.
  const py::handle module = python_once([] { return py::module_::import("pysig.errors"); });
  py::object cls = module.attr(class_name);
  PyErr_SetObject(cls.ptr(), py::str(message).ptr());
  throw py::error_already_set();
}

}  // namespace pysig
