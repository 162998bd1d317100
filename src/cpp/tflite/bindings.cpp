#include "bindings.h"

#include <pybind11/stl.h>

#include <memory>

#include "backend.h"
#include "core/session.h"

namespace pysig::tflite_backend {

namespace py = pybind11;

namespace {

tflite::impl::Interpreter* as_interpreter(uintptr_t handle) {
  return reinterpret_cast<tflite::impl::Interpreter*>(handle);
}

// What pysig's declarations read from one tensor, for the import-time ABI check.
py::dict inspect_tensor(uintptr_t handle, size_t subgraph_index, int tensor_index) {
  auto* subgraph = subgraph_at(as_interpreter(handle), subgraph_index);
  if (tensor_index < 0 || static_cast<size_t>(tensor_index) >= tensor_count(subgraph)) {
    throw py::index_error("tensor index out of range");
  }
  const auto& tensor = *tensor_at(subgraph, tensor_index);
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

}  // namespace

void register_bindings(py::module_& m) {
  auto sub = m.def_submodule("tflite", "The tflite backend (tflite-runtime 2.14.0)");
  sub.def("load", &load_symbols, py::arg("library_path"),
          "Resolve the runtime's functions from tflite_runtime's loaded library.");
  sub.def(
      "session",
      [](py::object owner, uintptr_t handle) {
        auto backend = make_backend(owner, handle);
        return std::make_shared<Session>(std::move(owner), std::move(backend));
      },
      py::arg("owner"), py::arg("handle"));
  sub.def("subgraph_count",
          [](uintptr_t handle) { return subgraph_count(as_interpreter(handle)); });
  sub.def("tensor_count", [](uintptr_t handle, size_t subgraph_index) {
    return tensor_count(subgraph_at(as_interpreter(handle), subgraph_index));
  });
  sub.def("inspect_tensor", &inspect_tensor);
  sub.def("signature_subgraph", [](uintptr_t handle, const char* key) -> py::object {
    const int index = signature_subgraph(as_interpreter(handle), key);
    return index < 0 ? py::object(py::none()) : py::object(py::int_(index));
  });
}

}  // namespace pysig::tflite_backend
