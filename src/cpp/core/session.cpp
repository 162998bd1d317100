#include "session.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "errors.h"
#include "python_once.h"

namespace pysig {

namespace py = pybind11;

Session::Session(py::object owner, std::unique_ptr<core::Backend> backend)
    : owner_(std::move(owner)),
      backend_(std::move(backend)),
      runtime_name_(backend_->runtime_name()) {}

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
  backend_.reset();
  owner_ = py::none();
}

void Session::abandon(const char* error_class, const std::string& reason) {
  // Never released: their destructors are what would crash.
  owner_.inc_ref();
  static_cast<void>(backend_.release());
  owner_ = py::none();
  abandoned_class_ = error_class;
  abandoned_reason_ = reason;
  ensure_open();
  std::abort();  // ensure_open() has raised
}

void Session::cancel() {
  ensure_open();
  if (backend_->cancel() != Status::kOk) {
    raise("PysigError", "the runtime refused to cancel: " + take_error_text());
  }
}

std::string Session::take_error_text() const {
  if (closed()) return "";
  // Every runtime's text is made into sentences in one place, the same for all backends.
  const py::handle as_sentences = python_once(
      [] { return py::module_::import("pysig.runtime.messages").attr("as_sentences"); });
  return as_sentences(backend_->take_error_text()).cast<std::string>();
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
