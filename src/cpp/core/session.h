// Per-interpreter state shared by all of its runners and views: the one lock,
// the count of live views, and whether the interpreter has been closed.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include <memory>
#include <string>

#include "backend.h"

namespace pysig {

using core::Status;

class Session {
 public:
  // `owner` is the Python object the backend's runtime objects belong to (the
  // tflite_runtime interpreter, or None); holding it keeps them alive.
  Session(pybind11::object owner, std::unique_ptr<core::Backend> backend);

  core::Backend& backend() const { return *backend_; }
  const char* runtime_name() const { return runtime_name_; }
  // The owner (None once closed).
  pybind11::object owner() const { return owner_; }

  // Raises ClosedError once close() has run.
  void ensure_open() const;
  // Raises BufferInUseError when views are alive; `what` names the operation.
  void ensure_no_views(const std::string& what) const;
  // Drops the interpreter; refuses while views into its tensors are alive.
  void close();
  bool closed() const { return backend_ == nullptr; }

  void add_view() { views_.fetch_add(1, std::memory_order_relaxed); }
  void remove_view() { views_.fetch_sub(1, std::memory_order_relaxed); }
  long live_views() const { return views_.load(std::memory_order_relaxed); }

  // After the runtime failed to allocate: its state is inconsistent and destroying
  // it would free memory twice. Closes the session, keeps the runtime's objects
  // alive until the process exits, and raises OutOfMemoryError (as every later call does),
  // or the given error for another reason the runtime's state cannot be trusted.
  [[noreturn]] void abandon(const char* error_class = "OutOfMemoryError",
                            const std::string& reason = kOutOfMemory);

  // Cancels the invocation in progress, from any thread. The runtime clears the
  // request when an invocation starts, so a cancel with nothing running is lost.
  void cancel();

  // The runtime's error text since the last call.
  std::string take_error_text() const;

  // The interpreter's lock. Waiting never holds the GIL: the thread that owns
  // the lock may need the GIL to finish, so the uncontended case takes the lock
  // directly and the contended one waits with the GIL released.
  void lock();
  void unlock();

 private:
  pybind11::object owner_;
  std::unique_ptr<core::Backend> backend_;
  const char* runtime_name_;
  std::mutex mutex_;
  std::atomic<long> views_{0};
  static inline const std::string kOutOfMemory =
      "the runtime ran out of memory allocating this interpreter's tensors, which left it "
      "unusable; create a new interpreter";
  const char* abandoned_class_ = nullptr;  // set once abandoned
  std::string abandoned_reason_;
};

// Holds a session's lock for a scope.
class SessionLock {
 public:
  explicit SessionLock(Session& session);
  ~SessionLock();
  SessionLock(const SessionLock&) = delete;
  SessionLock& operator=(const SessionLock&) = delete;

 private:
  Session& session_;
};

}  // namespace pysig
