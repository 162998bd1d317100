#include "backend.h"

#include <dlfcn.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/python_once.h"

namespace pysig::tflite_backend {

namespace py = pybind11;
namespace symbols = tflite::symbols;
using core::ElementType;
using core::Status;
using core::TensorState;
using tflite::TensorRecord;

namespace {

struct Functions {
  symbols::GetSignatureRunner get_signature_runner = nullptr;
  symbols::InterpreterInvoke interpreter_invoke = nullptr;
  symbols::InterpreterCall enable_cancellation = nullptr;
  symbols::InterpreterCall cancel = nullptr;
  symbols::RunnerInvoke runner_invoke = nullptr;
  symbols::ResizeInputTensor resize = nullptr;
  symbols::ResizeInputTensor resize_strict = nullptr;
  symbols::AllocateTensors allocate = nullptr;
  symbols::RemoveAllDelegates remove_all_delegates = nullptr;
  symbols::ModifyGraphWithDelegate modify_graph_with_delegate = nullptr;
  symbols::HasDelegates has_delegates = nullptr;
};

Functions functions;

template <typename T>
T read_member(const void* object, size_t offset) {
  return *reinterpret_cast<const T*>(static_cast<const char*>(object) + offset);
}

using Offsets = tflite::Offsets;
using SubgraphSlot = std::unique_ptr<tflite::Subgraph>;

tflite::Subgraph* runner_subgraph(tflite::impl::SignatureRunner* runner) {
  return read_member<tflite::Subgraph*>(runner, Offsets::kRunnerSubgraph);
}

Status status_of(tflite::StatusCode code) {
  if (code == tflite::kStatusOk) return Status::kOk;
  if (code == tflite::kStatusCancelled) return Status::kCancelled;
  return Status::kError;
}

std::vector<int> dims_of(const tflite::ShapeArray* array) {
  if (array == nullptr) return {};
  return {array->dims, array->dims + array->size};
}

std::string shape_text(const std::vector<int>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

// The subgraph's applied delegates, checked against what the runtime shows of them
// elsewhere: its own HasDelegates(), and the delegate marked on delegated tensors.
std::vector<TfLiteDelegate*> applied_delegates(tflite::Subgraph* subgraph) {
  auto* begin = read_member<TfLiteDelegate* const*>(subgraph, Offsets::kSubgraphDelegatesBegin);
  auto* end = read_member<TfLiteDelegate* const*>(subgraph, Offsets::kSubgraphDelegatesEnd);
  constexpr ptrdiff_t kMostDelegates = 64;
  if (end < begin || end - begin > kMostDelegates ||
      (end > begin) != functions.has_delegates(subgraph)) {
    throw std::runtime_error("the subgraph's list of delegates does not read as one");
  }
  std::vector<TfLiteDelegate*> delegates(begin, end);
  for (size_t i = 0; i < tensor_count(subgraph); ++i) {
    auto* delegate = tensor_at(subgraph, static_cast<int>(i))->delegate;
    if (delegate != nullptr &&
        std::find(delegates.begin(), delegates.end(), delegate) == delegates.end()) {
      throw std::runtime_error("a tensor names a delegate the subgraph's list lacks");
    }
  }
  return delegates;
}

// The delegates each subgraph of one interpreter was prepared with, and the work of
// giving a subgraph new delegate kernels; shared by the interpreter's graphs.
//
// tflite-runtime 2.14's XNNPACK delegate gives every subgraph it delegates one shared
// workspace for their intermediate values. When it builds kernels for a subgraph (at
// the allocation after a resize, and when pysig re-applies delegates) and that
// subgraph needs more room, the workspace is allocated anew and the old one freed:
// XNNPACK moves the other subgraphs' values along, but their operators keep the
// addresses they were set up with, and tflite's side sets an operator up again only
// when one of its tensors' addresses changes. So the next invocation of another
// signature read and wrote freed memory, and the heap corruption aborted the process
// later ("double free" when those kernels were freed), in plain tflite_runtime as in
// pysig (image_classifier.tflite: resize one signature, call the other). Whenever
// one subgraph gets new kernels, every other subgraph sharing a delegate with it gets
// new ones as well, set up afresh at its next invocation.
class Delegation {
 public:
  explicit Delegation(tflite::impl::Interpreter* interpreter) : interpreter_(interpreter) {
    const size_t count = subgraph_count(interpreter);
    for (size_t i = 0; i < count; ++i) {
      delegates_.push_back(applied_delegates(subgraph_at(interpreter, i)));
      const auto& applied = delegates_.back();
      has_flex_.push_back(std::any_of(applied.begin(), applied.end(), flex));
    }
    undone_.assign(count, false);
  }

  // Resizing an input of a delegated subgraph undoes its delegates (their kernels are
  // freed); its next allocation builds new ones.
  void resized(size_t index) { undone_[index] = !delegates_[index].empty(); }

  // After subgraph `index` was allocated with new kernels: the others sharing them.
  tflite::StatusCode allocated(size_t index) {
    if (!undone_[index]) return tflite::kStatusOk;
    undone_[index] = false;
    return rebuild_others(index);
  }

  // Back to the plain graph with memory planned anew (RemoveAllDelegates), then the
  // recorded delegates applied again, as when the interpreter was built, and allocated;
  // then the other subgraphs sharing a delegate with it.
  tflite::StatusCode rebuild(size_t index) {
    undone_[index] = false;
    const auto status = rebuild_one(index);
    return status == tflite::kStatusOk ? rebuild_others(index) : status;
  }

 private:
  tflite::StatusCode rebuild_one(size_t index) {
    auto* subgraph = subgraph_at(interpreter_, index);
    auto status = functions.remove_all_delegates(subgraph);
    for (auto* delegate : delegates_[index]) {
      if (status == tflite::kStatusOk) {
        status = functions.modify_graph_with_delegate(subgraph, delegate);
      }
    }
    return status == tflite::kStatusOk ? functions.allocate(subgraph) : status;
  }

  // Whether the delegate is TensorFlow's Flex delegate: its Prepare function lives in
  // the library that exports the Flex delegate's factory. The Flex delegate refuses to
  // be applied to a subgraph again, and shares no workspace, so subgraphs that have it
  // are left as they are.
  static bool flex(TfLiteDelegate* delegate) {
    Dl_info where{};
    void* prepare = read_member<void*>(delegate, Offsets::kDelegatePrepare);
    if (prepare == nullptr || dladdr(prepare, &where) == 0 || where.dli_fname == nullptr) {
      return false;
    }
    void* library = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library == nullptr) return false;
    const bool found = dlsym(library, "TF_AcquireFlexDelegate") != nullptr;
    dlclose(library);
    return found;
  }

  tflite::StatusCode rebuild_others(size_t index) {
    const auto& mine = delegates_[index];
    for (size_t other = 0; other < delegates_.size(); ++other) {
      // A subgraph whose delegates are undone has no kernels to keep up to date.
      if (other == index || undone_[other] || has_flex_[other]) continue;
      const auto& theirs = delegates_[other];
      const bool shared = std::any_of(mine.begin(), mine.end(), [&](TfLiteDelegate* d) {
        return std::find(theirs.begin(), theirs.end(), d) != theirs.end();
      });
      if (!shared) continue;
      const auto status = rebuild_one(other);
      if (status != tflite::kStatusOk) return status;
    }
    return tflite::kStatusOk;
  }

  tflite::impl::Interpreter* interpreter_;
  std::vector<std::vector<TfLiteDelegate*>> delegates_;  // by subgraph index
  std::vector<bool> has_flex_;  // left out of rebuilds (see flex())
  std::vector<bool> undone_;
};

// One signature: tensor handles are tensor indices in its subgraph.
class TfliteGraph final : public core::Graph {
 public:
  TfliteGraph(py::object owner, tflite::impl::Interpreter* interpreter,
              std::shared_ptr<Delegation> delegation, const core::GraphRequest& request)
      : owner_(std::move(owner)),
        interpreter_(interpreter),
        delegation_(std::move(delegation)),
        subgraph_index_(request.subgraph_index),
        arg_reductions_(request.arg_reductions) {
    subgraph_ = subgraph_at(interpreter, static_cast<size_t>(request.subgraph_index));
    if (!request.signature_key.empty()) {
      runner_ = functions.get_signature_runner(interpreter, request.signature_key.c_str());
      if (runner_ == nullptr) {
        throw std::invalid_argument("no signature '" + request.signature_key + "'");
      }
      if (runner_subgraph(runner_) != subgraph_) {
        throw std::invalid_argument("signature '" + request.signature_key +
                                    "' does not run subgraph " +
                                    std::to_string(request.subgraph_index));
      }
    }
    const auto count = static_cast<int>(tensor_count(subgraph_));
    auto check = [count](const core::NamedTensors& named, std::vector<int>& handles) {
      for (const auto& [name, index, signature] : named) {
        if (index < 0 || index >= count) {
          throw std::invalid_argument("tensor index " + std::to_string(index) + " of '" + name +
                                      "' is out of range");
        }
        handles.push_back(index);
      }
    };
    check(request.inputs, inputs_);
    check(request.outputs, outputs_);
    for (const auto& [data, axis] : arg_reductions_) {
      if (data < 0 || data >= count || axis < -1 || axis >= count) {
        throw std::invalid_argument("ARG_MAX/ARG_MIN tensor indices out of range");
      }
    }
    for (const int index : inputs_) allocated_inputs_.emplace_back(index, dims_of(tensor_at(subgraph_, index)->dims));
  }

  TensorState tensor(int handle) const override {
    const TensorRecord& record = *tensor_at(subgraph_, handle);
    TensorState state;
    state.data = record.data;
    state.bytes = record.bytes;
    state.has_shape = record.dims != nullptr;
    if (state.has_shape) {
      state.dims = record.dims->dims;
      state.rank = record.dims->size;
    }
    return state;
  }

  ElementType type(int handle) const override {
    return static_cast<ElementType>(tensor_at(subgraph_, handle)->type);
  }

  Status resize(int handle, const std::vector<int>& dims, bool strict) override {
    delegation_->resized(subgraph_index());
    try {
      return status_of(strict ? functions.resize_strict(subgraph_, handle, dims)
                              : functions.resize(subgraph_, handle, dims));
    } catch (const std::bad_alloc&) {
      return Status::kOutOfMemory;
    }
  }

  Status allocate() override {
    try {
      const auto status = functions.allocate(subgraph_);
      if (status != tflite::kStatusOk) return status_of(status);
      for (auto& [index, dims] : allocated_inputs_) {
        dims = dims_of(tensor_at(subgraph_, index)->dims);
      }
      return status_of(delegation_->allocated(subgraph_index()));
    } catch (const std::bad_alloc&) {
      return Status::kOutOfMemory;
    }
  }

  Status restore() override {
    // tflite-runtime 2.14 undoes a delegated graph's delegates when an input is
    // resized and re-applies them when it allocates. When that re-application fails
    // (a kernel refuses the new shapes while the plain graph is prepared for the
    // delegate), the delegates are dropped from the subgraph's list and the memory
    // plan still describes the delegated graph: the next allocation leaves tensors of
    // the plain graph without memory, and the next invocation crashes. So the shapes
    // go back first, then the subgraph is rebuilt with the delegates it was built with.
    try {
      for (const auto& [index, dims] : allocated_inputs_) {
        if (functions.resize(subgraph_, index, dims) != tflite::kStatusOk) return Status::kError;
      }
      return status_of(delegation_->rebuild(subgraph_index()));
    } catch (const std::bad_alloc&) {
      return Status::kOutOfMemory;
    }
  }

  Status invoke() override {
    try {
      return status_of(runner_ != nullptr ? functions.runner_invoke(runner_)
                                          : functions.interpreter_invoke(interpreter_));
    } catch (const std::bad_alloc&) {
      return Status::kOutOfMemory;
    }
  }

  size_t subgraph_index() const { return static_cast<size_t>(subgraph_index_); }

  std::string refuse_shapes() const override {
    // tflite-runtime 2.14's ARG_MAX and ARG_MIN read past the end of an empty reduced
    // axis. Their data tensors' shapes are known once tensors are allocated (unless
    // the runtime sizes them while running); an empty batch elsewhere is fine.
    for (const auto& [data_index, axis_index] : arg_reductions_) {
      const auto dims = dims_of(tensor_at(subgraph_, data_index)->dims);
      const auto rank = static_cast<int64_t>(dims.size());
      int64_t axis = -1;  // unknown before running: any empty dimension counts
      if (axis_index >= 0) {
        const TensorRecord& record = *tensor_at(subgraph_, axis_index);
        if (record.data != nullptr && record.type == tflite::ElementType::kInt32 &&
            record.bytes >= 4) {
          axis = *static_cast<const int32_t*>(record.data);
        } else if (record.data != nullptr && record.type == tflite::ElementType::kInt64 &&
                   record.bytes >= 8) {
          axis = *static_cast<const int64_t*>(record.data);
        }
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) axis = -1;
      }
      for (int64_t i = 0; i < rank; ++i) {
        if (dims[i] == 0 && (axis == -1 || axis == i)) {
          return "give an ARG_MAX/ARG_MIN operator an empty axis (its input becomes " +
                 shape_text(dims) + "), which tflite-runtime 2.14's kernel reads past; give "
                 "that dimension at least one element";
        }
      }
    }
    return "";
  }

  std::string refuse_views() const override {
    // When an op resizes a dynamic output during Invoke, the ops after it are
    // prepared again and the arena may grow and move, inputs included. Kernels'
    // scratch tensors may be dynamic without moving anything; unlike the model's
    // tensors (named, if only with ""), the runtime adds them without a name.
    const size_t count = tensor_count(subgraph_);
    for (size_t i = 0; i < count; ++i) {
      const TensorRecord& record = *tensor_at(subgraph_, static_cast<int>(i));
      if (record.allocation == tflite::AllocationKind::kDynamic && record.name != nullptr) {
        return "it sizes tensors while it runs (data-dependent shapes, strings or variables), "
               "so its tensor memory may move at every invoke";
      }
    }
    return "";
  }

  std::string refuse_empty(int handle, size_t axis, const std::vector<int>& dims,
                           const std::vector<int>& signature) const override {
    // tflite-runtime 2.14's kernels assume non-empty tensors where the model fixed a
    // dimension (ARG_MAX reads past an empty axis), so 0 is only accepted where the
    // model declares the dimension dynamic (-1) or already has 0 there.
    const auto now = dims_of(tensor_at(subgraph_, handle)->dims);
    const bool dynamic = signature.size() == dims.size() && signature[axis] == -1;
    const bool already = now.size() == dims.size() && now[axis] == 0;
    if (dynamic || already) return "";
    return "is fixed at " + (axis < now.size() ? std::to_string(now[axis]) : std::string("?")) +
           " in the model and the runtime's kernels are not safe with an empty tensor there";
  }

  void write_strings(int handle, const py::object& array) override {
    owner_.attr("_interpreter").attr("SetTensor")(handle, array, subgraph_index_);
  }

  py::object read_strings(int handle) override {
    return owner_.attr("_interpreter").attr("GetTensor")(handle, subgraph_index_);
  }

 private:
  py::object owner_;
  tflite::impl::Interpreter* interpreter_;
  std::shared_ptr<Delegation> delegation_;
  tflite::Subgraph* subgraph_ = nullptr;
  // Null for the signature pysig synthesizes for a model without SignatureDefs:
  // that one runs through the interpreter's own Invoke().
  tflite::impl::SignatureRunner* runner_ = nullptr;
  int subgraph_index_;
  core::ArgReductions arg_reductions_;
  // What restore() puts back: each input (tensor index) with its shape at the last
  // allocation that succeeded.
  std::vector<std::pair<int, std::vector<int>>> allocated_inputs_;
};

class TfliteBackend final : public core::Backend {
 public:
  TfliteBackend(py::object owner, tflite::impl::Interpreter* interpreter)
      : owner_(std::move(owner)), interpreter_(interpreter) {
    // Lets cancel() stop an invocation between nodes; costs one atomic test per node.
    if (functions.enable_cancellation(interpreter_) != tflite::kStatusOk) {
      raise("PysigError", "the runtime refused to enable cancellation");
    }
    try {
      delegation_ = std::make_shared<Delegation>(interpreter_);
    } catch (const std::runtime_error& e) {
      raise("AbiMismatchError", std::string("pysig's declarations of the tflite runtime do "
                                            "not match the installed one: ") + e.what());
    }
  }

  const char* runtime_name() const override { return "tflite"; }

  std::unique_ptr<core::Graph> open(const core::GraphRequest& request) override {
    return std::make_unique<TfliteGraph>(owner_, interpreter_, delegation_, request);
  }

  Status cancel() override { return status_of(functions.cancel(interpreter_)); }

  std::string take_error_text() override {
    const py::handle take = python_once(
        [] { return py::module_::import("pysig.runtime.tflite_errors").attr("take_error_text"); });
    return take(owner_).cast<std::string>();
  }

 private:
  py::object owner_;
  tflite::impl::Interpreter* interpreter_;
  std::shared_ptr<Delegation> delegation_;
};

template <typename T>
void resolve(void* library, const char* name, T& target, std::string& missing) {
  target = reinterpret_cast<T>(dlsym(library, name));
  if (target == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
}

}  // namespace

void load_symbols(const std::string& library_path) {
  if (functions.allocate != nullptr) return;
  // RTLD_NOLOAD: only ever the copy tflite_runtime has loaded, never a second one.
  void* library = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (library == nullptr) {
    raise("AbiMismatchError", "tflite_runtime's library " + library_path +
                                  " is not loaded: " + dlerror());
  }
  Functions found;
  std::string missing;
  resolve(library, symbols::kGetSignatureRunner, found.get_signature_runner, missing);
  resolve(library, symbols::kInterpreterInvoke, found.interpreter_invoke, missing);
  resolve(library, symbols::kEnableCancellation, found.enable_cancellation, missing);
  resolve(library, symbols::kCancel, found.cancel, missing);
  resolve(library, symbols::kRunnerInvoke, found.runner_invoke, missing);
  resolve(library, symbols::kResizeInputTensor, found.resize, missing);
  resolve(library, symbols::kResizeInputTensorStrict, found.resize_strict, missing);
  resolve(library, symbols::kAllocateTensors, found.allocate, missing);
  resolve(library, symbols::kRemoveAllDelegates, found.remove_all_delegates, missing);
  resolve(library, symbols::kModifyGraphWithDelegate, found.modify_graph_with_delegate, missing);
  resolve(library, symbols::kHasDelegates, found.has_delegates, missing);
  if (!missing.empty()) {
    raise("AbiMismatchError", "tflite_runtime's library " + library_path +
                                  " does not export what pysig declares (tflite-runtime "
                                  "2.14.0): missing " + missing);
  }
  functions = found;  // the library stays loaded: its handle is never closed
}

size_t subgraph_count(tflite::impl::Interpreter* interpreter) {
  auto* begin = read_member<const SubgraphSlot*>(interpreter, Offsets::kInterpreterSubgraphsBegin);
  auto* end = read_member<const SubgraphSlot*>(interpreter, Offsets::kInterpreterSubgraphsEnd);
  return static_cast<size_t>(end - begin);
}

tflite::Subgraph* subgraph_at(tflite::impl::Interpreter* interpreter, size_t index) {
  if (index >= subgraph_count(interpreter)) {
    throw std::invalid_argument("subgraph index " + std::to_string(index) + " out of range");
  }
  auto* begin = read_member<const SubgraphSlot*>(interpreter, Offsets::kInterpreterSubgraphsBegin);
  return begin[index].get();
}

size_t tensor_count(const tflite::Subgraph* subgraph) {
  auto* begin = read_member<const TensorRecord*>(subgraph, Offsets::kSubgraphTensorsBegin);
  auto* end = read_member<const TensorRecord*>(subgraph, Offsets::kSubgraphTensorsEnd);
  return static_cast<size_t>(end - begin);
}

TensorRecord* tensor_at(tflite::Subgraph* subgraph, int index) {
  return read_member<TensorRecord*>(subgraph, Offsets::kSubgraphTensorsBegin) + index;
}

int signature_subgraph(tflite::impl::Interpreter* interpreter, const char* key) {
  auto* runner = functions.get_signature_runner(interpreter, key);
  if (runner == nullptr) return -1;
  auto* subgraph = runner_subgraph(runner);
  for (size_t i = 0; i < subgraph_count(interpreter); ++i) {
    if (subgraph_at(interpreter, i) == subgraph) return static_cast<int>(i);
  }
  return -1;
}

std::unique_ptr<core::Backend> make_backend(py::object owner, uintptr_t handle) {
  if (functions.allocate == nullptr) raise("PysigError", "tflite backend used before loading");
  auto* interpreter = reinterpret_cast<tflite::impl::Interpreter*>(handle);
  if (interpreter == nullptr) raise("PysigError", "null interpreter handle");
  return std::make_unique<TfliteBackend>(std::move(owner), interpreter);
}

}  // namespace pysig::tflite_backend
