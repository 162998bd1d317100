#include "bindings.h"

#include <pybind11/stl.h>

#include <memory>
#include <optional>

#include "backend.h"
#include "core/session.h"

namespace pysig::litert_backend {

namespace py = pybind11;

void register_bindings(py::module_& m) {
  auto sub = m.def_submodule("litert", "The litert backend (ai-edge-litert 2.3.0)");
  sub.def("load", &load_library, py::arg("library_path"),
          "Open LiteRT's library and resolve the declared functions.");
  sub.def(
      "session",
      [](py::bytes content, std::optional<int> num_threads, const std::string& kernel_mode) {
        return std::make_shared<Session>(
            py::none(), make_backend(std::move(content), num_threads, kernel_mode));
      },
      py::arg("content"), py::arg("num_threads") = py::none(), py::arg("kernel_mode") = "");
  sub.def(
      "signatures", [](Session& session) {
        session.ensure_open();
        return signatures(session.backend());
      },
      py::arg("session"));
  sub.def(
      "model_content", [](Session& session) {
        session.ensure_open();
        return model_content(session.backend());
      },
      py::arg("session"));
  sub.def(
      "prepare", [](Session& session) {
        session.ensure_open();
        return prepare(session.backend());
      },
      py::arg("session"));
}

}  // namespace pysig::litert_backend
