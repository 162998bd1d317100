#include "session.h"

#include <cstdlib>
#include <string>

#include "errors.h"

namespace pysig {

namespace py = pybind11;

Session::Session(py::object owner, uintptr_t handle)
    : owner_(std::move(owner)),
      interpreter_(reinterpret_cast<tflite::impl::Interpreter*>(handle)) {
  if (interpreter_ == nullptr) raise("PysigError", "null interpreter handle");
  // Lets cancel() stop an invocation between nodes; costs one atomic test per node.
  if (runtime::enable_cancellation(interpreter_) != tflite::kStatusOk) {
    raise("PysigError", "the runtime refused to enable cancellation");
  }
}

void Session::ensure_open() const {
  if (abandoned_class_ != nullptr) raise(abandoned_class_, abandoned_reason_);
  if (closed()) raise("ClosedError", "the interpreter has been closed");
}

void Session::ensure_no_views(const std::string& what) const {
  const long views = live_views();
  if (views > 0) {
    raise("BufferInUseError",
          "cannot " + what + " while " + std::to_string(views) +
              " zero-copy view(s) of this interpreter's tensors are alive: it may move "
              "tensor memory. Delete the views (and arrays derived from them) first.");
  }
}

void Session::close() {
  if (closed()) return;
  ensure_no_views("close the interpreter");
  interpreter_ = nullptr;
  owner_ = py::none();
}

void Session::abandon(const char* error_class, const std::string& reason) {
  owner_.inc_ref();  // never released: its destructor is what would crash
  interpreter_ = nullptr;
  owner_ = py::none();
  abandoned_class_ = error_class;
  abandoned_reason_ = reason;
  ensure_open();
  std::abort();  // ensure_open() has raised
}

void Session::cancel() {
  ensure_open();
  if (runtime::cancel(interpreter_) != tflite::kStatusOk) {
    raise("PysigError", "the runtime refused to cancel: " + take_error_text());
  }
}

std::string Session::take_error_text() const {
  if (closed()) return "";
  static py::handle take =
      py::object(py::module_::import("pysig.runtime.tflite_errors").attr("take_error_text")).release();
  return take(owner_).cast<std::string>();
}

void Session::lock() {
  if (!mutex_.try_lock()) {
    py::gil_scoped_release no_gil;
    mutex_.lock();
  }
}

void Session::unlock() { mutex_.unlock(); }

SessionLock::SessionLock(Session& session) : session_(session) { session_.lock(); }

SessionLock::~SessionLock() { session_.unlock(); }

}  // namespace pysig
