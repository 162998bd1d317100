#include "runner.h"

#include <chrono>
#include <cstring>
#include <limits>

#include <unistd.h>

#include "dtypes.h"
#include "errors.h"

namespace pysig {

namespace py = pybind11;
using py::detail::npy_api;
using core::ElementType;
using core::Status;
using core::TensorState;

namespace {

// A view of this class's instances is what keeps an interpreter alive and counted.
struct ViewGuard {
  explicit ViewGuard(std::shared_ptr<Session> s) : session(std::move(s)) { session->add_view(); }
  ViewGuard(const ViewGuard&) = delete;
  ViewGuard& operator=(const ViewGuard&) = delete;
  ~ViewGuard() { session->remove_view(); }
  std::shared_ptr<Session> session;
};

std::vector<Slot> make_slots(const NamedTensors& named, const std::vector<int>& handles,
                             const core::Graph& graph) {
  std::vector<Slot> slots;
  slots.reserve(named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    const auto& [name, index, shape_signature] = named[i];
    static_cast<void>(index);  // the backend resolved it into handles[i]
    const auto type = graph.type(handles[i]);
    // Interned like the keyword names CPython passes, so dict lookups match by identity.
    py::str key(name);
    PyUnicode_InternInPlace(&key.ptr());
    slots.push_back(
        Slot{name, key, handles[i], type, numpy_dtype(type), is_numeric(type), shape_signature});
  }
  return slots;
}

std::string quoted_names(const std::vector<Slot>& slots) {
  if (slots.empty()) return "none";
  std::string names;
  for (const auto& slot : slots) names += (names.empty() ? "'" : ", '") + slot.name + "'";
  return names;
}

constexpr int kMaxArrayRank = 32;  // numpy 1.x's NPY_MAXDIMS

bool same_shape(const TensorState& tensor, const py::detail::PyArray_Proxy& array) {
  if (!tensor.has_shape || tensor.rank != array.nd) return false;
  for (int i = 0; i < array.nd; ++i) {
    if (tensor.dims[i] != array.dimensions[i]) return false;
  }
  return true;
}

std::vector<int> shape_of(const TensorState& tensor) {
  return {tensor.dims, tensor.dims + tensor.rank};
}

size_t element_count(const py::detail::PyArray_Proxy& array) {
  size_t count = 1;
  for (int i = 0; i < array.nd; ++i) count *= static_cast<size_t>(array.dimensions[i]);
  return count;
}

std::string shape_text(const std::vector<int>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(dims[i]);
  }
  return text + (dims.size() == 1 ? ",)" : ")");
}

// An uninitialised C-contiguous array of the tensor's shape, made by numpy's own
// constructor: py::array's goes through shape and stride vectors, and this runs for
// every output of every call.
py::object new_array(const Slot& slot, const TensorState& tensor) {
  const int rank = tensor.rank;
  if (rank > kMaxArrayRank) {
    raise("UnsupportedTypeError", "output '" + slot.name + "' has rank " +
                                      std::to_string(rank) + ", more than numpy allows");
  }
  Py_intptr_t dims[kMaxArrayRank];
  for (int i = 0; i < rank; ++i) dims[i] = tensor.dims[i];
  auto& api = npy_api::get();
  PyObject* array = api.PyArray_NewFromDescr_(api.PyArray_Type_, slot.dtype.inc_ref().ptr(),
                                              rank, dims, nullptr, nullptr, 0, nullptr);
  if (array == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(array);
}

// Large copies run without the GIL, so that other threads (a pool's other
// interpreters) keep working meanwhile; both buffers are held by references the
// caller owns. Small ones keep it: releasing costs more than copying.
void copy_bytes(void* target, const void* source, size_t nbytes) {
  constexpr size_t kReleaseGilAbove = 256 * 1024;
  if (nbytes > kReleaseGilAbove) {
    py::gil_scoped_release no_gil;
    std::memcpy(target, source, nbytes);
  } else if (nbytes > 0) {
    std::memcpy(target, source, nbytes);
  }
}

// A string tensor is one buffer: an int32 count, int32 offsets (one per string and
// one for the end) and the bytes. The runtime sizes and offsets it in int32, so beyond
// this many bytes in all tflite-runtime 2.14's SetTensor wrote out of bounds (SIGSEGV,
// as in plain tflite_runtime) or dropped strings.
constexpr size_t kMostStringTensorBytes = std::numeric_limits<int32_t>::max();
constexpr size_t kStringHeaderBytes = 2 * sizeof(int32_t);
constexpr size_t kMostStrings = (kMostStringTensorBytes - kStringHeaderBytes) / sizeof(int32_t);

std::string with_commas(size_t value) {
  std::string digits = std::to_string(value);
  for (size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

size_t physical_memory() {
  static const size_t bytes = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) *
                              static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}


}  // namespace

Runner::Runner(std::shared_ptr<Session> session, const std::string& signature_key,
               const std::string& label, int subgraph_index, const NamedTensors& inputs,
               const NamedTensors& outputs, py::object coerce,
               const ArgReductions& arg_reductions, const std::vector<int>& value_sized)
    : session_(std::move(session)),
      signature_key_(signature_key),
      label_(label),
      subgraph_index_(subgraph_index),
      coerce_(std::move(coerce)) {
  session_->ensure_open();
  try {
    graph_ = session_->backend().open(
        core::GraphRequest{signature_key, subgraph_index, inputs, outputs, arg_reductions,
                           value_sized});
  } catch (const std::invalid_argument& e) {
    raise("PysigError", e.what());
  } catch (const std::runtime_error& e) {
    raise("AbiMismatchError", std::string("pysig's declarations of the ") +
                                  session_->runtime_name() +
                                  " runtime do not match the installed one: " + e.what());
  }
  inputs_ = make_slots(inputs, graph_->input_handles(), *graph_);
  outputs_ = make_slots(outputs, graph_->output_handles(), *graph_);
  // Shapes the model starts with get the same check as resized ones.
  allocation_pending_ = !graph_->refuse_shapes().empty();
}

void Runner::fail(const char* error_class, const std::string& what) const {
  raise(error_class, "signature '" + label_ + "': " + what);
}

const Slot& Runner::find(const std::vector<Slot>& slots, const std::string& name,
                         const char* kind) const {
  for (const auto& slot : slots) {
    if (slot.name == name) return slot;
  }
  fail("NameNotFoundError", std::string("no ") + kind + " named '" + name + "' (its " + kind +
                                "s: " + quoted_names(slots) + ")");
}

void Runner::allocate_if_needed() {
  if (!allocation_pending_) return;
  session_->ensure_no_views("allocate tensors");
  std::string shapes;  // read first: a refusal puts the last allocated shapes back
  for (const auto& slot : inputs_) {
    shapes += (shapes.empty() ? "" : ", ") + slot.name + "=" + shape_text(shape_of(tensor(slot)));
  }
  const auto status = graph_->allocate();
  if (status == Status::kOutOfMemory) session_->abandon();
  if (status != Status::kOk) {
    refuse("InputShapeError", "the runtime cannot run these input shapes (" + shapes +
                                  "): " + session_->take_error_text());
  }
  const std::string empty = graph_->refuse_shapes();
  if (!empty.empty()) refuse("InputShapeError", "these input shapes (" + shapes + ") " + empty);
  allocation_pending_ = false;
}

void Runner::refuse(const char* error_class, const std::string& what) {
  if (allocation_pending_) restore_allocation();
  fail(error_class, what);
}

void Runner::restore_allocation() {
  const auto status = graph_->restore();
  session_->take_error_text();  // what the runtime reported while being put back
  if (status == Status::kOutOfMemory) session_->abandon();
  if (status != Status::kOk) {
    session_->abandon("ClosedError", "the runtime could not be put back as it was after "
                                     "refusing a call, which left this interpreter unusable; "
                                     "create a new interpreter");
  }
  // Shapes the model starts with may still be refused (see the constructor).
  allocation_pending_ = !graph_->refuse_shapes().empty();
}

std::vector<int> Runner::checked_dims(const Slot& slot, const py::ssize_t* shape,
                                      size_t rank) const {
  // The runtime is not exception-safe when an allocation fails (its destructor
  // then frees memory twice), so a tensor that cannot fit in memory never reaches it.
  const size_t limit = physical_memory();
  size_t bytes = static_cast<size_t>(slot.dtype.itemsize());
  bool empty = false;
  std::vector<int> dims(rank);
  for (size_t i = 0; i < rank; ++i) {
    const auto dim = shape[i];
    if (dim < 0 || dim > std::numeric_limits<int>::max()) {
      fail("InputShapeError", "input '" + slot.name + "': dimension " + std::to_string(dim) +
                                  " is out of range (the runtime's dimensions are int32)");
    }
    empty = empty || dim == 0;
    if (!empty && bytes > limit / static_cast<size_t>(dim)) bytes = limit + 1;
    if (!empty && bytes <= limit) bytes *= static_cast<size_t>(dim);
    dims[i] = static_cast<int>(dim);
  }
  if (!empty && bytes > limit) {
    fail("InputShapeError", "input '" + slot.name + "' of shape " + shape_text(dims) +
                                " would need more than this machine's " +
                                std::to_string(limit >> 20) + " MiB of memory");
  }
  // Within memory, so the count fits: strings are pointer-sized items here.
  const size_t strings = empty ? 0 : bytes / static_cast<size_t>(slot.dtype.itemsize());
  if (!slot.numeric && strings > kMostStrings) {
    fail("InputShapeError", "input '" + slot.name + "' of shape " + shape_text(dims) +
                                " would hold " + with_commas(strings) +
                                " strings; a TensorFlow Lite string tensor holds at most " +
                                with_commas(kMostStrings) + " (its offsets are int32)");
  }
  return dims;
}

void Runner::check_string_bytes(const Slot& slot, const py::object& array) const {
  // The staged array is C-contiguous, of bytes objects only (the conversion made it).
  const auto& proxy = *py::detail::array_proxy(array.ptr());
  const size_t count = element_count(proxy);
  auto* const* items = reinterpret_cast<PyObject* const*>(proxy.data);
  size_t bytes = kStringHeaderBytes + sizeof(int32_t) * count;
  for (size_t i = 0; i < count && bytes <= kMostStringTensorBytes; ++i) {
    bytes += static_cast<size_t>(PyBytes_GET_SIZE(items[i]));
  }
  if (bytes > kMostStringTensorBytes) {
    fail("InputShapeError", "input '" + slot.name + "' holds more than " +
                                with_commas(kMostStringTensorBytes) +
                                " bytes of strings with their offsets, the most a TensorFlow "
                                "Lite string tensor holds (its offsets are int32)");
  }
}

void Runner::check_inputs(const py::dict& inputs) const {
  size_t known = 0;
  std::string missing;
  for (const auto& slot : inputs_) {
    if (PyDict_Contains(inputs.ptr(), slot.key.ptr()) == 1) {
      ++known;
    } else {
      missing += (missing.empty() ? "'" : ", '") + slot.name + "'";
    }
  }
  if (known == inputs_.size() && static_cast<size_t>(py::len(inputs)) == known) return;
  std::string extra;
  for (const auto& item : inputs) {
    const auto name = py::str(item.first).cast<std::string>();
    bool found = false;
    for (const auto& slot : inputs_) found = found || slot.name == name;
    if (!found) extra += (extra.empty() ? "'" : ", '") + name + "'";
  }
  std::string what;
  if (!missing.empty()) what += "missing input(s) " + missing;
  if (!extra.empty()) what += (what.empty() ? "" : "; ") + std::string("unknown input(s) ") + extra;
  fail("InputNameError", what + " (its inputs: " + quoted_names(inputs_) + ")");
}

py::object Runner::stage_input(const Slot& slot, py::handle value) {
  auto& api = npy_api::get();
  PyObject* obj = value.ptr();
  if (api.PyArray_Check_(obj)) {
    auto* array = py::detail::array_proxy(obj);
    // Before converting: a broadcast array may be tiny in memory but huge once copied.
    if (array->nd > 0) checked_dims(slot, array->dimensions, static_cast<size_t>(array->nd));
    // numpy's built-in dtypes are singletons, so identity settles the common case.
    if (slot.numeric && (array->flags & npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0 &&
        (array->descr == slot.dtype.ptr() ||
         api.PyArray_EquivTypes_(array->descr, slot.dtype.ptr()))) {
      return py::reinterpret_borrow<py::object>(value);
    }
  }
  py::object staged = coerce_(value, slot.dtype, label_, slot.name);
  if (!slot.numeric) check_string_bytes(slot, staged);
  return staged;
}

void Runner::resize_locked(const Slot& slot, const std::vector<int>& dims, bool strict) {
  session_->ensure_no_views("resize input '" + slot.name + "' of signature '" + label_ + "'");
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] != 0) continue;
    const std::string why = graph_->refuse_empty(slot.handle, i, dims, slot.shape_signature);
    if (!why.empty()) {
      refuse("InputShapeError", "cannot resize input '" + slot.name + "' to " + shape_text(dims) +
                                    ": dimension " + std::to_string(i) + " " + why);
    }
  }
  // Pending from here: even a refused resize may have undone the graph's delegates.
  allocation_pending_ = true;
  const auto status = graph_->resize(slot.handle, dims, strict);
  if (status == Status::kOutOfMemory) session_->abandon();
  if (status != Status::kOk) {
    refuse("InputShapeError", "cannot resize input '" + slot.name + "' to " + shape_text(dims) +
                                  ": " + session_->take_error_text());
  }
}

void Runner::write_input(const Slot& slot, const py::object& array) {
  if (!slot.numeric) {
    graph_->write_strings(slot.handle, array);
    return;
  }
  const TensorState target = tensor(slot);
  const auto& source = *py::detail::array_proxy(array.ptr());
  const size_t nbytes = element_count(source) * static_cast<size_t>(slot.dtype.itemsize());
  // Never write past the tensor, whatever the runtime decided its size is.
  if (nbytes != target.bytes || (nbytes > 0 && target.data == nullptr)) {
    fail("PysigError", "input '" + slot.name + "' holds " + std::to_string(target.bytes) +
                           " bytes, the array " + std::to_string(nbytes));
  }
  copy_bytes(target.data, source.data, nbytes);
}

void Runner::invoke_locked() {
  allocate_if_needed();
  Status status;
  {
    py::gil_scoped_release no_gil;
    status = graph_->invoke();
  }
  check_invoke_status(status);
}

void Runner::check_invoke_status(Status status) const {
  if (status == Status::kOutOfMemory) session_->abandon();
  if (status == Status::kCancelled) {
    session_->take_error_text();  // the runtime's note about the cancellation
    fail("InvokeCancelledError", "the invocation was cancelled");
  }
  if (status != Status::kOk) {
    fail("InvokeError", "invoke failed: " + session_->take_error_text());
  }
}

std::vector<int64_t> Runner::time_invokes(size_t iterations) {
  check_runnable();
  SessionLock lock(*session_);
  session_->ensure_open();
  allocate_if_needed();
  std::vector<int64_t> durations(iterations);
  Status status = Status::kOk;
  {
    py::gil_scoped_release no_gil;
    for (size_t i = 0; i < iterations && status == Status::kOk; ++i) {
      const auto start = std::chrono::steady_clock::now();
      status = graph_->invoke();
      durations[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    }
  }
  check_invoke_status(status);
  return durations;
}

void Runner::check_out_buffers(const py::handle& out) const {
  if (out.is_none()) return;
  if (!PyDict_Check(out.ptr())) fail("OutputBufferError", "out must be a dict of arrays");
  for (const auto& item : py::reinterpret_borrow<py::dict>(out)) {
    const auto name = py::str(item.first).cast<std::string>();
    const Slot& slot = find(outputs_, name, "output");
    if (!slot.numeric) {
      fail("OutputBufferError", "output '" + name + "' holds strings: it cannot be written "
                                "into a caller's array");
    }
    auto& api = npy_api::get();
    PyObject* obj = item.second.ptr();
    if (!api.PyArray_Check_(obj)) fail("OutputBufferError", "out['" + name + "'] is not an ndarray");
    const auto& array = *py::detail::array_proxy(obj);
    if (!api.PyArray_EquivTypes_(array.descr, slot.dtype.ptr())) {
      fail("OutputBufferError", "out['" + name + "'] must have dtype " +
                                    py::str(slot.dtype).cast<std::string>() + ", not " +
                                    py::str(py::handle(reinterpret_cast<PyObject*>(array.descr)))
                                        .cast<std::string>());
    }
    if ((array.flags & npy_api::NPY_ARRAY_C_CONTIGUOUS_) == 0 ||
        (array.flags & npy_api::NPY_ARRAY_WRITEABLE_) == 0) {
      fail("OutputBufferError", "out['" + name + "'] must be C-contiguous and writeable");
    }
  }
}

py::object Runner::read_output(const Slot& slot, const py::handle& target) {
  if (!slot.numeric) return graph_->read_strings(slot.handle);
  const TensorState source = tensor(slot);
  if (source.bytes > 0 && source.data == nullptr) {
    fail("InvokeError", "output '" + slot.name + "' has no data after invoke");
  }
  py::object result;
  if (target) {
    result = py::reinterpret_borrow<py::object>(target);
    if (!same_shape(source, *py::detail::array_proxy(result.ptr()))) {
      fail("OutputBufferError", "out['" + slot.name + "'] must have shape " +
                                    shape_text(shape_of(source)));
    }
  } else {
    result = new_array(slot, source);
  }
  const auto& array = *py::detail::array_proxy(result.ptr());
  const size_t nbytes = element_count(array) * static_cast<size_t>(slot.dtype.itemsize());
  if (nbytes != source.bytes) {
    fail("PysigError", "output '" + slot.name + "' holds " + std::to_string(source.bytes) +
                           " bytes, its shape " + std::to_string(nbytes));
  }
  copy_bytes(array.data, source.data, nbytes);
  return result;
}

void Runner::check_runnable() const {
  const auto& refusal = graph_->refuse_run();
  if (refusal.error_class != nullptr) fail(refusal.error_class, refusal.what);
}

py::dict Runner::run(const py::dict& inputs, const py::handle& out) {
  check_runnable();
  // Each input is looked up once, and held: converting one may run Python code that
  // changes the dict. A signature's few inputs live on the stack.
  const size_t count = inputs_.size();
  constexpr size_t kInlineInputs = 8;
  py::object inline_staged[kInlineInputs];
  std::vector<py::object> heap_staged(count > kInlineInputs ? count : 0);
  py::object* staged = count > kInlineInputs ? heap_staged.data() : inline_staged;
  size_t found = 0;
  for (; found < count; ++found) {
    PyObject* value = PyDict_GetItemWithError(inputs.ptr(), inputs_[found].key.ptr());
    if (value == nullptr) break;
    staged[found] = py::reinterpret_borrow<py::object>(value);
  }
  if (PyErr_Occurred() != nullptr) throw py::error_already_set();
  if (found != count || static_cast<size_t>(PyDict_GET_SIZE(inputs.ptr())) != count) {
    check_inputs(inputs);  // says what is missing or unknown
  }
  check_out_buffers(out);
  // Convert every input before taking the lock: conversion may run arbitrary
  // Python code (__array__), which must not find the lock held by its own thread.
  for (size_t i = 0; i < count; ++i) staged[i] = stage_input(inputs_[i], staged[i]);
  SessionLock lock(*session_);
  session_->ensure_open();
  for (size_t i = 0; i < count; ++i) {
    const auto& array = *py::detail::array_proxy(staged[i].ptr());
    const Slot& slot = inputs_[i];
    if (!same_shape(tensor(slot), array)) {
      resize_locked(slot, checked_dims(slot, array.dimensions, static_cast<size_t>(array.nd)),
                    false);
    }
  }
  allocate_if_needed();
  for (size_t i = 0; i < count; ++i) write_input(inputs_[i], staged[i]);
  invoke_locked();
  py::dict result;
  PyObject* targets = out.is_none() ? nullptr : out.ptr();
  for (const auto& slot : outputs_) {
    PyObject* target = targets ? PyDict_GetItem(targets, slot.key.ptr()) : nullptr;
    if (PyDict_SetItem(result.ptr(), slot.key.ptr(), read_output(slot, target).ptr()) != 0) {
      throw py::error_already_set();
    }
  }
  return result;
}

void Runner::invoke() {
  check_runnable();
  SessionLock lock(*session_);
  session_->ensure_open();
  // A string input holds nothing until a call writes it (it has no view), and the
  // runtime's kernels read it regardless: tflite-runtime 2.14's GATHER crashed.
  for (const auto& slot : inputs_) {
    if (!slot.numeric && graph_->tensor(slot.handle).data == nullptr) {
      fail("InvokeError", "input '" + slot.name + "' holds strings and none have been "
                          "written yet: strings have no zero-copy view, so call the runner "
                          "with them before invoke()");
    }
  }
  invoke_locked();
}

void Runner::resize_input(const std::string& name, const std::vector<py::ssize_t>& shape,
                          bool strict) {
  const Slot& slot = find(inputs_, name, "input");
  const auto dims = checked_dims(slot, shape.data(), shape.size());
  SessionLock lock(*session_);
  session_->ensure_open();
  if (shape_of(tensor(slot)) == dims) return;
  resize_locked(slot, dims, strict);
}

void Runner::allocate() {
  SessionLock lock(*session_);
  session_->ensure_open();
  allocate_if_needed();
}

py::array Runner::input_view(const std::string& name) { return view(find(inputs_, name, "input"), true); }

py::array Runner::output_view(const std::string& name) {
  return view(find(outputs_, name, "output"), false);
}

std::vector<int> Runner::shape(const std::string& name) {
  const Slot* slot = nullptr;
  for (const auto* slots : {&inputs_, &outputs_}) {
    for (const auto& candidate : *slots) {
      if (candidate.name == name) slot = &candidate;
    }
  }
  if (slot == nullptr) fail("NameNotFoundError", "no input or output named '" + name + "'");
  SessionLock lock(*session_);
  session_->ensure_open();
  return shape_of(tensor(*slot));
}

py::array Runner::view(const Slot& slot, bool writable) {
  check_runnable();
  if (!slot.numeric) {
    fail("InputTypeError", "'" + slot.name + "' holds strings, which have no zero-copy view; "
                           "pass and receive them through a call");
  }
  SessionLock lock(*session_);
  session_->ensure_open();
  allocate_if_needed();
  const std::string moving = graph_->refuse_views();
  if (!moving.empty()) {
    fail("BufferInUseError", moving + ": '" + slot.name +
                                 "' has no zero-copy view; use a call, which returns copies");
  }
  const TensorState source = tensor(slot);
  const auto dims = shape_of(source);
  py::object guard = py::cast(std::make_unique<ViewGuard>(session_));
  py::array array(slot.dtype, std::vector<py::ssize_t>(dims.begin(), dims.end()),
                  source.data, guard);
  if (!writable) {
    py::detail::array_proxy(array.ptr())->flags &= ~npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return array;
}

void register_view_guard(py::module_& m) {
  py::class_<ViewGuard>(m, "_ViewGuard",
                        "Keeps an interpreter alive, and counted, while views of it exist.");
}

}  // namespace pysig
