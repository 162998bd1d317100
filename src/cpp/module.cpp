// Python bindings of the _pysig extension; pysig/ wraps these in its public API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>
#include <memory>
#include <string>

#include "core/dtypes.h"
#include "core/runner.h"
#include "core/session.h"
#include "litert/bindings.h"
#include "serve/numeric_json.h"
#include "tflite/bindings.h"

namespace py = pybind11;
using pysig::Runner;
using pysig::Session;

namespace {

// The hot paths, `runner(**inputs)` and `runner.invoke()`, are plain CPython entry
// points rather than pybind11 methods: its generic dispatcher costs more than the
// whole invoke of a tiny model (and copies the keyword dict). `body` returns a new
// reference; exceptions become Python ones as pybind11 would translate them.
template <typename Body>
PyObject* entry_point(Body&& body) {
  try {
    return body();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (...) {
    // The registered translators too (see the module init), as pybind11's dispatcher does.
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

// pybind11's generic cast looks the Python type up in its registry on every call. Only
// runner types reach these entry points, and a runner instance has one C++ base, which
// pybind11 stores inline (its "simple layout"); anything else takes the generic cast.
Runner& runner_of(PyObject* self) {
  auto* instance = reinterpret_cast<py::detail::instance*>(self);
  if (instance->simple_layout && instance->simple_value_holder[0] != nullptr) {
    return *static_cast<Runner*>(instance->simple_value_holder[0]);
  }
  return py::cast<Runner&>(py::handle(self));
}

PyObject* call_runner(PyObject* self, PyObject* args, PyObject* kwargs) {
  return entry_point([&] {
    if (args != nullptr && PyTuple_GET_SIZE(args) != 0) {
      throw py::type_error("a signature runner takes its inputs by name only: runner(x=..., y=...)");
    }
    auto& runner = runner_of(self);
    py::dict inputs = kwargs != nullptr ? py::reinterpret_borrow<py::dict>(kwargs) : py::dict();
    return runner.run(inputs, py::none()).release().ptr();
  });
}

PyObject* invoke_runner(PyObject* self, PyObject* /*unused*/) {
  return entry_point([&] {
    runner_of(self).invoke();
    return py::none().release().ptr();
  });
}

PyMethodDef invoke_method = {
    "invoke", invoke_runner, METH_NOARGS,
    "invoke()\n--\n\nRun the signature on what its input tensors hold (the zero-copy path)."};

void add_invoke_method(const py::type& cls) {
  auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  auto descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, &invoke_method));
  if (!descriptor || PyDict_SetItemString(type->tp_dict, "invoke", descriptor.ptr()) != 0) {
    throw py::error_already_set();
  }
  PyType_Modified(type);
}

// CPython does not pass a slot set after type creation on to subclasses, so
// pysig.SignatureRunner installs the call slot too.
void install_call_slot(const py::type& cls) {
  auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  auto* base = reinterpret_cast<PyTypeObject*>(py::type::of<Runner>().ptr());
  if (!PyType_IsSubtype(type, base)) {
    throw py::type_error("install_call_slot needs a subclass of _pysig.Runner");
  }
  type->tp_call = call_runner;
  PyType_Modified(type);
}

}  // namespace

PYBIND11_MODULE(_pysig, m) {
  // A runtime's own C++ exception (LiteRT 2.3.0 throws one through its C API on some
  // damaged models) becomes pysig's InvokeError rather than a bare RuntimeError;
  // pybind11's and pysig's own exceptions pass on unchanged.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const py::error_already_set&) {
      throw;
    } catch (const py::builtin_exception&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      const py::object cls = py::module_::import("pysig.errors").attr("InvokeError");
      PyErr_SetString(cls.ptr(), (std::string("the runtime failed with its own error: ") +
                                  e.what())
                                     .c_str());
    }
  });

  m.doc() = "pysig's C++ core and its runtime backends (private: use the pysig package)";

  // Made by a backend's `session` factory.
  py::class_<Session, std::shared_ptr<Session>>(m, "Session")
      .def("close", [](Session& s) {
        pysig::SessionLock lock(s);
        s.close();
      })
      .def_property_readonly("closed", &Session::closed)
      .def_property_readonly("owner", [](const Session& s) { return s.owner(); })
      .def_property_readonly("live_views", &Session::live_views)
      .def_property_readonly("runtime", &Session::runtime_name)
      .def("cancel", &Session::cancel)
      .def("take_error_text", &Session::take_error_text)
      // The interpreter's lock as a context manager, for work done in Python.
      .def("__enter__", &Session::lock)
      .def("__exit__", [](Session& s, const py::args&) { s.unlock(); });

  pysig::register_view_guard(m);

  // Subclassed by pysig.SignatureRunner, which adds the Python-level API.
  py::class_<Runner> runner_class(m, "Runner");
  runner_class
      .def(py::init<std::shared_ptr<Session>, const std::string&, const std::string&, int,
                    const pysig::NamedTensors&, const pysig::NamedTensors&, py::object,
                    const pysig::ArgReductions&, const std::vector<int>&>(),
           py::arg("session"), py::arg("signature_key"), py::arg("label"),
           py::arg("subgraph_index"), py::arg("inputs"), py::arg("outputs"), py::arg("coerce"),
           py::arg("arg_reductions"), py::arg("value_sized"))
      .def("_run", &Runner::run, py::arg("inputs"), py::arg("out") = py::none())
      .def("_resize_input", &Runner::resize_input, py::arg("name"), py::arg("shape"),
           py::arg("strict") = false)
      .def("allocate", &Runner::allocate)
      .def("_time_invokes", &Runner::time_invokes, py::arg("iterations"))
      .def("_input_view", &Runner::input_view, py::arg("name"))
      .def("_output_view", &Runner::output_view, py::arg("name"))
      .def("_shape", &Runner::shape, py::arg("name"))
      .def_property_readonly("subgraph_index", &Runner::subgraph_index);
  install_call_slot(runner_class);
  add_invoke_method(runner_class);
  m.def("install_call_slot", &install_call_slot, py::arg("cls"));

  m.def("element_type_of", [](const py::dtype& dtype) {
    for (int code = 0; code <= static_cast<int>(pysig::core::ElementType::kInt4); ++code) {
      const auto type = static_cast<pysig::core::ElementType>(code);
      if ((pysig::is_numeric(type) || type == pysig::core::ElementType::kString) &&
          pysig::numpy_dtype(type).equal(dtype)) {
        return code;
      }
    }
    return -1;
  });

  m.def("numpy_dtype", [](int code) {
    return pysig::numpy_dtype(static_cast<pysig::core::ElementType>(code));
  });

  pysig::tflite_backend::register_bindings(m);
  pysig::litert_backend::register_bindings(m);
  pysig::serve::register_bindings(m);
}
