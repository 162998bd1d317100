// Python bindings of the _pysig extension; pysig/ wraps these in its public API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "dtypes.h"
#include "runner.h"
#include "runtime.h"
#include "session.h"

namespace py = pybind11;
using pysig::Runner;
using pysig::Session;

namespace {

tflite::impl::Interpreter* as_interpreter(uintptr_t handle) {
  return reinterpret_cast<tflite::impl::Interpreter*>(handle);
}

// What pysig's declarations read from one tensor, for the import-time ABI check.
py::dict inspect_tensor(uintptr_t handle, size_t subgraph_index, int tensor_index) {
  auto* subgraph = pysig::runtime::subgraph_at(as_interpreter(handle), subgraph_index);
  if (tensor_index < 0 ||
      static_cast<size_t>(tensor_index) >= pysig::runtime::tensor_count(subgraph)) {
    throw py::index_error("tensor index out of range");
  }
  const auto& tensor = *pysig::runtime::tensor_at(subgraph, tensor_index);
  auto dims = [](const tflite::ShapeArray* array) {
    py::list list;
    if (array != nullptr) {
      for (int i = 0; i < array->size; ++i) list.append(array->dims[i]);
    }
    return py::tuple(list);
  };
  py::dict result;
  result["name"] = tensor.name != nullptr ? py::str(tensor.name) : py::str("");
  result["type"] = static_cast<int>(tensor.type);
  result["has_shape"] = tensor.dims != nullptr;
  result["shape"] = dims(tensor.dims);
  // A fixed-shape tensor may carry an empty signature: its shape is the signature.
  const bool has_signature = tensor.dims_signature != nullptr && tensor.dims_signature->size > 0;
  result["shape_signature"] = dims(has_signature ? tensor.dims_signature : tensor.dims);
  result["bytes"] = tensor.bytes;
  result["dynamic"] = tensor.allocation == tflite::AllocationKind::kDynamic;
  return result;
}

// The index of the subgraph that the runtime's SignatureRunner for `key` drives.
py::object signature_subgraph(uintptr_t handle, const char* key) {
  auto* interpreter = as_interpreter(handle);
  auto* runner = interpreter->GetSignatureRunner(key);
  if (runner == nullptr) return py::none();
  auto* subgraph = pysig::runtime::runner_subgraph(runner);
  for (size_t i = 0; i < pysig::runtime::subgraph_count(interpreter); ++i) {
    if (pysig::runtime::subgraph_at(interpreter, i) == subgraph) return py::int_(i);
  }
  return py::none();
}

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
    py::detail::translate_exception(std::current_exception());
  }
  return nullptr;
}

PyObject* call_runner(PyObject* self, PyObject* args, PyObject* kwargs) {
  return entry_point([&] {
    if (args != nullptr && PyTuple_GET_SIZE(args) != 0) {
      throw py::type_error("a signature runner takes its inputs by name only: runner(x=..., y=...)");
    }
    auto& runner = py::cast<Runner&>(py::handle(self));
    py::dict inputs = kwargs != nullptr ? py::reinterpret_borrow<py::dict>(kwargs) : py::dict();
    return runner.run(inputs, py::none()).release().ptr();
  });
}

PyObject* invoke_runner(PyObject* self, PyObject* /*unused*/) {
  return entry_point([&] {
    py::cast<Runner&>(py::handle(self)).invoke();
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
  m.doc() = "pysig's C++ core over tflite-runtime 2.14.0 (private: use the pysig package)";

  py::class_<Session, std::shared_ptr<Session>>(m, "Session")
      .def(py::init<py::object, uintptr_t>(), py::arg("owner"), py::arg("handle"))
      .def("close", [](Session& s) {
        pysig::SessionLock lock(s);
        s.close();
      })
      .def_property_readonly("closed", &Session::closed)
      .def_property_readonly("owner", [](const Session& s) { return s.owner(); })
      .def_property_readonly("live_views", &Session::live_views)
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
                    const pysig::ArgReductions&>(),
           py::arg("session"), py::arg("signature_key"), py::arg("label"),
           py::arg("subgraph_index"), py::arg("inputs"), py::arg("outputs"), py::arg("coerce"),
           py::arg("arg_reductions"))
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

  m.def("subgraph_count",
        [](uintptr_t handle) { return pysig::runtime::subgraph_count(as_interpreter(handle)); });
  m.def("tensor_count", [](uintptr_t handle, size_t subgraph_index) {
    return pysig::runtime::tensor_count(
        pysig::runtime::subgraph_at(as_interpreter(handle), subgraph_index));
  });
  m.def("inspect_tensor", &inspect_tensor);
  m.def("element_type_of", [](const py::dtype& dtype) {
    for (int code = 0; code <= static_cast<int>(tflite::ElementType::kInt4); ++code) {
      const auto type = static_cast<tflite::ElementType>(code);
      if ((pysig::is_numeric(type) || type == tflite::ElementType::kString) &&
          pysig::numpy_dtype(type).equal(dtype)) {
        return code;
      }
    }
    return -1;
  });
  m.def("signature_subgraph", &signature_subgraph);
}
