#include "backend.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "litert_c/litert_c.h"

namespace pysig::litert_backend {

namespace py = pybind11;
namespace lc = litert_c;
using core::ElementType;
using core::Status;
using core::TensorState;

namespace {

lc::Api api;
bool loaded = false;
// The shared environment's registries are not locked: one compilation at a time.
std::mutex compile_mutex;

// LiteRT 2.3.0 logs INFO and WARNING lines to stderr while it creates its environment
// and compiles a model (accelerator discovery, "model initialized"), and exports no way
// to lower its log level. Its failures reach pysig through the error-message API, so
// stderr is pointed at /dev/null for those two calls only (held under compile_mutex
// or call_once, so no two of them overlap).
template <typename Call>
lc::Status without_runtime_logs(Call call) {
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null >= 0) dup2(null, STDERR_FILENO);
  const lc::Status status = call();
  if (saved >= 0 && null >= 0) dup2(saved, STDERR_FILENO);
  if (null >= 0) close(null);
  if (saved >= 0) close(saved);
  return status;
}

// One environment per process: creating it registers the accelerators, which costs
// milliseconds every model would repeat.
lc::Environment shared_environment() {
  static std::once_flag once;
  static lc::Environment environment = nullptr;
  static lc::Status status = lc::kOk;
  std::call_once(once, [] {
    status = without_runtime_logs([] { return api.CreateEnvironment(0, nullptr, &environment); });
  });
  if (status != lc::kOk || environment == nullptr) {
    raise("ModelLoadError", "LiteRT could not create its environment (status " +
                                std::to_string(status) + ")");
  }
  return environment;
}

size_t element_size(lc::ElementType type) {
  switch (static_cast<ElementType>(type)) {
    case ElementType::kBool:
    case ElementType::kInt8:
    case ElementType::kUInt8: return 1;
    case ElementType::kInt16:
    case ElementType::kUInt16:
    case ElementType::kFloat16: return 2;
    case ElementType::kFloat32:
    case ElementType::kInt32:
    case ElementType::kUInt32: return 4;
    case ElementType::kInt64:
    case ElementType::kUInt64:
    case ElementType::kFloat64:
    case ElementType::kComplex64: return 8;
    case ElementType::kComplex128: return 16;
    default: return 0;
  }
}

std::string status_text(lc::Status status) {
  switch (status) {
    case 1: return "invalid argument";
    case 2: return "memory allocation failure";
    case 3: return "runtime failure";
    case 4: return "missing input tensor";
    case 5: return "unsupported";
    case 6: return "not found";
    default: return "status " + std::to_string(status);
  }
}

void free_payload(void* payload) { std::free(payload); }

// Adds an opaque TOML payload to `options`; the options own it afterwards.
void add_payload(lc::Options options, const char* identifier, const std::string& toml) {
  char* payload = static_cast<char*>(std::malloc(toml.size() + 1));
  if (payload == nullptr) throw std::bad_alloc();
  std::memcpy(payload, toml.c_str(), toml.size() + 1);
  lc::OpaqueOptions opaque = nullptr;
  if (api.CreateOpaqueOptions(identifier, payload, free_payload, &opaque) != lc::kOk) {
    std::free(payload);
    raise("ModelLoadError", std::string("LiteRT refused its '") + identifier + "' options");
  }
  if (api.AddOpaqueOptions(options, opaque) != lc::kOk) {
    raise("ModelLoadError", std::string("LiteRT refused its '") + identifier + "' options");
  }
}

bool poll_cancel(void* loaded);

// What the compiled model and every graph of it share. Destroyed with the last of them.
struct Loaded {
  py::bytes content;  // the model's bytes: the runtime keeps pointers into them
  lc::Model model = nullptr;
  lc::Options options = nullptr;
  lc::CompiledModel compiled = nullptr;
  std::atomic<bool> cancel_requested{false};
  std::mutex error_mutex;
  std::string error;

  // Destroyed with the GIL held (by the last session or runner); `content` goes last.
  ~Loaded() {
    storage.clear();  // buffers before the compiled model they were bound to
    if (compiled != nullptr) api.DestroyCompiledModel(compiled);
    if (options != nullptr) api.DestroyOptions(options);
    if (model != nullptr) api.DestroyModel(model);
  }

  void set_error(const std::string& what, lc::Status status) {
    std::string text = what + " (LiteRT: " + status_text(status) + ")";
    char* messages = nullptr;
    if (api.CompiledModelGetErrorMessages(compiled, &messages) == lc::kOk && messages != nullptr) {
      if (messages[0] != '\0') text += ": " + std::string(messages);
      std::free(messages);
      api.CompiledModelClearErrors(compiled);
    }
    std::lock_guard<std::mutex> lock(error_mutex);
    error = text;
  }

  // Binding storage of every graph opened, freed with the compiled model.
  std::mutex storage_mutex;
  std::vector<std::shared_ptr<void>> storage;
  void keep(std::shared_ptr<void> owned) {
    std::lock_guard<std::mutex> lock(storage_mutex);
    storage.push_back(std::move(owned));
  }

  void set_text(const std::string& text) {
    std::lock_guard<std::mutex> lock(error_mutex);
    error = text;
  }

  std::string take_error() {
    std::lock_guard<std::mutex> lock(error_mutex);
    std::string text;
    text.swap(error);
    return text.empty() ? "no details reported" : text;
  }
};

bool poll_cancel(void* loaded) {
  return static_cast<Loaded*>(loaded)->cancel_requested.load(std::memory_order_relaxed);
}

// The builtin code of the operator that writes `tensor`, or -1 when none does.
int32_t defining_op(lc::Tensor tensor) {
  bool has_op = false;
  lc::DefiningOp op{};
  int32_t code = -1;
  if (api.GetTensorDefiningOp(tensor, &has_op, &op) != lc::kOk || !has_op ||
      api.GetOpCode(op.op, &code) != lc::kOk) {
    return -1;
  }
  return code;
}

constexpr const char kDataDependentLimit[] =
    " (a data-dependent shape), which LiteRT 2.3.0 cannot write into the fixed buffers it "
    "runs on; run this model with runtime='tflite'";
const std::string kDataDependent =
    std::string("an output's size depends on the input values") + kDataDependentLimit;

struct SignatureInfo {
  lc::Signature signature;
  std::string key;
};

std::vector<int> dims_of(const lc::Layout& layout) {
  return {layout.dimensions, layout.dimensions + layout.rank};
}

// One input or output: pysig's aligned memory, bound to the runtime as a host-memory buffer.
struct Binding {
  lc::Tensor tensor = nullptr;
  lc::RankedTensorType type{};  // the element type and the current layout
  std::vector<int> shape_signature;
  std::vector<int32_t> dims;
  // An input's shape as last resized, until the next allocation binds it (or a
  // restore drops it): what the runner sees as the tensor's shape meanwhile.
  std::vector<int32_t> requested;
  size_t bytes = 0;
  void* memory = nullptr;
  size_t capacity = 0;
  lc::TensorBuffer buffer = nullptr;

  Binding() = default;
  Binding(const Binding&) = delete;
  Binding& operator=(const Binding&) = delete;
  ~Binding() {
    if (buffer != nullptr) api.DestroyTensorBuffer(buffer);
    std::free(memory);
  }

  size_t bytes_for(const lc::Layout& layout) const {
    size_t count = 1;
    for (unsigned i = 0; i < layout.rank; ++i) {
      count *= static_cast<size_t>(layout.dimensions[i] < 0 ? 0 : layout.dimensions[i]);
    }
    return count * element_size(type.element_type);
  }

  // Rebinds to `layout`; keeps the memory (and views' addresses) when it still fits.
  lc::Status bind(const lc::Layout& layout) {
    const size_t needed = bytes_for(layout);
    if (buffer != nullptr && needed == bytes && dims == dims_of(layout)) return lc::kOk;
    if (needed > capacity || memory == nullptr) {
      const size_t rounded =
          (needed + lc::kHostMemoryAlignment - 1) / lc::kHostMemoryAlignment *
          lc::kHostMemoryAlignment;
      void* fresh = nullptr;
      if (posix_memalign(&fresh, lc::kHostMemoryAlignment, rounded == 0 ? 64 : rounded) != 0) {
        return lc::kMemoryAllocationFailure;
      }
      if (buffer != nullptr) api.DestroyTensorBuffer(buffer);
      buffer = nullptr;
      std::free(memory);
      memory = fresh;
      capacity = rounded == 0 ? 64 : rounded;
    }
    type.layout = layout;
    type.layout.has_strides = 0;
    lc::TensorBuffer fresh_buffer = nullptr;
    const auto status =
        api.CreateTensorBufferFromHostMemory(&type, memory, needed, nullptr, &fresh_buffer);
    if (status != lc::kOk) return status;
    if (buffer != nullptr) api.DestroyTensorBuffer(buffer);
    buffer = fresh_buffer;
    bytes = needed;
    dims = dims_of(layout);
    return lc::kOk;
  }
};

// One signature. Handles: inputs are 0..n-1 (their order in LiteRT's signature),
// outputs n.. likewise.
class LitertGraph final : public core::Graph {
 public:
  LitertGraph(std::shared_ptr<Loaded> loaded, size_t signature_index, lc::Signature signature,
              const std::string& label, const core::GraphRequest& request)
      : loaded_(std::move(loaded)),
        signature_index_(signature_index),
        storage_(std::make_shared<std::vector<Binding>>()),
        bindings_(*storage_) {
    lc::ParamIndex input_count = 0;
    lc::ParamIndex output_count = 0;
    api.GetNumSignatureInputs(signature, &input_count);
    api.GetNumSignatureOutputs(signature, &output_count);
    *storage_ = std::vector<Binding>(input_count + output_count);
    loaded_->keep(storage_);
    input_count_ = input_count;
    std::vector<uint32_t> indices(bindings_.size());
    for (size_t i = 0; i < bindings_.size(); ++i) {
      Binding& binding = bindings_[i];
      const bool input = i < input_count;
      const auto status =
          input ? api.GetSignatureInputTensorByIndex(signature, i, &binding.tensor)
                : api.GetSignatureOutputTensorByIndex(signature, i - input_count, &binding.tensor);
      int32_t type_id = -1;
      if (status != lc::kOk || api.GetTensorIndex(binding.tensor, &indices[i]) != lc::kOk ||
          api.GetTensorTypeId(binding.tensor, &type_id) != lc::kOk ||
          type_id != lc::kRankedTensorType ||
          api.GetRankedTensorType(binding.tensor, &binding.type) != lc::kOk) {
        throw std::invalid_argument("signature '" + label + "': LiteRT reports an unranked or "
                                    "unreadable tensor");
      }
      binding.shape_signature = dims_of(binding.type.layout);
      const auto type = static_cast<ElementType>(binding.type.element_type);
      if (!input && defining_op(binding.tensor) == lc::kOpReadVariable &&
          refusal_.error_class == nullptr) {
        const char* name = nullptr;
        api.GetSignatureOutputName(signature, i - input_count, &name);
        refusal_ = {"UnsupportedOpError",
                    std::string("output '") + (name != nullptr ? name : "?") +
                        "' is a raw read of a resource variable, which LiteRT 2.3.0's compiled "
                        "model cannot return (it refuses to bind that tensor); run this model "
                        "with runtime='tflite'"};
      }
      if (type == ElementType::kString) {
        refusal_ = {"UnsupportedTypeError",
                    "it has string tensors, which LiteRT 2.3.0's C API cannot carry (its "
                    "tensor buffers hold fixed-size elements only); run this model with "
                    "runtime='tflite'"};
      }
    }
    auto match = [&](const core::NamedTensors& named, size_t begin, size_t end,
                     std::vector<int>& handles) {
      for (const auto& [name, index, signature] : named) {
        int found = -1;
        for (size_t i = begin; i < end; ++i) {
          if (static_cast<int>(indices[i]) == index) found = static_cast<int>(i);
        }
        if (found < 0) {
          throw std::invalid_argument("signature '" + label + "': LiteRT has no " +
                                      (begin == 0 ? "input" : "output") + " tensor " +
                                      std::to_string(index) + " ('" + name + "')");
        }
        handles.push_back(found);
      }
    };
    match(request.inputs, 0, input_count, inputs_);
    match(request.outputs, input_count, bindings_.size(), outputs_);
    for (size_t i = 0; i < request.outputs.size(); ++i) {
      const auto& [name, index, signature] = request.outputs[i];
      if (std::find(signature.begin(), signature.end(), -1) != signature.end()) {
        dynamic_outputs_ = true;
      }
      // Refused before any run: its size is known only after the run, and whether a
      // buffer sized beforehand happens to fit would depend on the values and history.
      if (refusal_.error_class == nullptr &&
          std::find(request.value_sized.begin(), request.value_sized.end(), index) !=
              request.value_sized.end()) {
        refusal_ = {"UnsupportedOpError",
                    "output '" + name + "' is sized by the input values" + kDataDependentLimit};
      }
    }
    if (inputs_.size() != input_count || outputs_.size() != output_count) {
      throw std::invalid_argument("signature '" + label + "': the model file and LiteRT "
                                  "disagree on its inputs or outputs");
    }
    // A signature that cannot run gets no buffers: it only answers questions, with
    // the shapes LiteRT planned for it.
    if (refusal_.error_class != nullptr) {
      std::vector<lc::Layout> layouts(bindings_.size());
      for (size_t i = 0; i < input_count_; ++i) {
        api.GetCompiledModelInputTensorLayout(loaded_->compiled, signature_index_, i,
                                              &layouts[i]);
      }
      api.GetCompiledModelOutputTensorLayouts(loaded_->compiled, signature_index_,
                                              bindings_.size() - input_count_,
                                              layouts.data() + input_count_, false);
      for (size_t i = 0; i < bindings_.size(); ++i) bindings_[i].dims = dims_of(layouts[i]);
    } else if (allocate() != Status::kOk) {
      raise("ModelLoadError", "signature '" + label + "': " + loaded_->take_error());
    }
  }

  TensorState tensor(int handle) const override {
    const Binding& binding = bindings_[static_cast<size_t>(handle)];
    TensorState state;
    const auto& dims = binding.requested.empty() ? binding.dims : binding.requested;
    state.data = binding.memory;
    state.bytes = binding.bytes;
    state.dims = dims.data();
    state.rank = static_cast<int>(dims.size());
    state.has_shape = true;
    return state;
  }

  ElementType type(int handle) const override {
    return static_cast<ElementType>(bindings_[static_cast<size_t>(handle)].type.element_type);
  }

  Status resize(int handle, const std::vector<int>& dims, bool strict) override {
    const Binding& binding = bindings_[static_cast<size_t>(handle)];
    if (dims.size() > static_cast<size_t>(lc::kMaxRank)) {
      loaded_->set_error("LiteRT 2.3.0 holds at most " + std::to_string(lc::kMaxRank) +
                             " dimensions",
                         lc::kInvalidArgument);
      return Status::kError;
    }
    if (dims.size() != binding.shape_signature.size()) {
      // LiteRT 2.3.0's XNNPACK delegate takes some inputs of another rank than the model
      // declares (a CONV_2D given a rank-3 image) and computes values from memory it
      // never wrote, where TensorFlow Lite's kernels refuse: so pysig refuses it.
      loaded_->set_error("the model declares this input with rank " +
                             std::to_string(binding.shape_signature.size()) +
                             ", and LiteRT 2.3.0 may run another rank with wrong results",
                         lc::kInvalidArgument);
      return Status::kError;
    }
    if (strict) {
      const auto& signature = binding.shape_signature;
      bool allowed = signature.size() == dims.size();
      for (size_t i = 0; allowed && i < dims.size(); ++i) {
        allowed = signature[i] == -1 || signature[i] == dims[i];
      }
      if (!allowed) {
        loaded_->set_error("a strict resize may change only the dimensions the model declares "
                           "dynamic (-1)",
                           lc::kInvalidArgument);
        return Status::kError;
      }
    }
    const auto index = static_cast<lc::ParamIndex>(handle);
    const auto status = api.CompiledModelResizeInputTensorNonStrict(
        loaded_->compiled, signature_index_, index, dims.data(), dims.size());
    // A refused resize can leave the runtime's tensor half-changed, which the next
    // run trips over: the core then calls restore(), which puts back the shapes.
    if (status != lc::kOk) return failed("LiteRT refused the shape", status);
    bindings_[static_cast<size_t>(handle)].requested = dims;
    return Status::kOk;
  }

  Status allocate() override { return prepare(); }

  // Back to the shapes of the last allocation (the bindings keep them), in the same
  // compiled model, so resource variables keep their values. LiteRT prepares again
  // after XNNPACK refused a reshape; only inputs whose shape LiteRT changed are resized
  // back: it refuses a resize to rank 0, and a scalar input is never resized (pysig
  // refuses rank changes first).
  Status restore() override {
    for (auto& binding : bindings_) binding.requested.clear();
    for (size_t i = 0; i < input_count_; ++i) {
      if (bindings_[i].buffer == nullptr) continue;
      lc::Layout current{};
      const auto& dims = bindings_[i].dims;
      if (api.GetCompiledModelInputTensorLayout(loaded_->compiled, signature_index_, i,
                                                &current) == lc::kOk &&
          dims_of(current) == dims) {
        continue;
      }
      if (api.CompiledModelResizeInputTensorNonStrict(loaded_->compiled, signature_index_, i,
                                                      dims.data(), dims.size()) != lc::kOk) {
        return Status::kError;
      }
    }
    const size_t output_count = bindings_.size() - input_count_;
    std::vector<lc::Layout> layouts(output_count);
    return api.GetCompiledModelOutputTensorLayouts(loaded_->compiled, signature_index_,
                                                   output_count, layouts.data(), true) == lc::kOk
               ? Status::kOk
               : Status::kError;
  }

  Status prepare() {
    std::vector<lc::Layout> layouts(bindings_.size());
    for (size_t i = 0; i < input_count_; ++i) {
      const auto status = api.GetCompiledModelInputTensorLayout(loaded_->compiled,
                                                                signature_index_, i, &layouts[i]);
      if (status != lc::kOk) return failed("preparing input tensors", status);
    }
    // LiteRT plans and touches its own tensors for these shapes in the next call, and
    // the kernel only promises memory until it is touched: more than the machine has
    // would end in the OOM killer, not an error. So inputs that, with outputs at least
    // as large, cannot fit are refused first.
    const size_t physical = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) *
                            static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t inputs = 0;
    for (size_t i = 0; i < input_count_; ++i) inputs += bindings_[i].bytes_for(layouts[i]);
    if (inputs > physical / 2) return too_big(inputs * 2, physical);
    const size_t output_count = bindings_.size() - input_count_;
    auto status = api.GetCompiledModelOutputTensorLayouts(
        loaded_->compiled, signature_index_, output_count, layouts.data() + input_count_, true);
    if (status != lc::kOk) return failed("sizing the outputs for these inputs", status);
    size_t total = 0;
    for (size_t i = 0; i < bindings_.size(); ++i) total += bindings_[i].bytes_for(layouts[i]);
    if (total > physical) return too_big(total, physical);
    for (size_t i = 0; i < bindings_.size(); ++i) {
      status = bindings_[i].bind(layouts[i]);
      if (status != lc::kOk) return failed("binding tensor buffers", status);
      bindings_[i].requested.clear();
    }
    buffers_.clear();
    for (const auto& binding : bindings_) buffers_.push_back(binding.buffer);
    return Status::kOk;
  }

  Status invoke() override {
    loaded_->cancel_requested.store(false, std::memory_order_relaxed);
    const auto status = api.RunCompiledModel(loaded_->compiled, signature_index_, input_count_,
                                             buffers_.data(), buffers_.size() - input_count_,
                                             buffers_.data() + input_count_);
    if (status == lc::kOk) return dynamic_outputs_ ? check_output_shapes() : Status::kOk;
    // LiteRT 2.3.0 reports a cancelled run as a runtime failure, not kCancelled.
    if (status == lc::kCancelled || loaded_->cancel_requested.load(std::memory_order_relaxed)) {
      return Status::kCancelled;
    }
    const auto result = failed("the run failed", status);
    std::string text = loaded_->take_error();
    if (text.find("Custom allocation is too small") != std::string::npos) {
      text = kDataDependent + ". LiteRT said: " + text;
    }
    loaded_->set_text(text);
    return result;
  }

  Status too_big(size_t bytes, size_t physical) {
    loaded_->set_text("these shapes would need " + std::to_string(bytes >> 20) +
                      " MiB or more, beyond this machine's " + std::to_string(physical >> 20) +
                      " MiB");
    return Status::kOutOfMemory;
  }

  // An output whose size depends on the input values may come out of a run another
  // size than the buffer it was given: its values would then be wrong, so it is refused.
  Status check_output_shapes() {
    const size_t output_count = bindings_.size() - input_count_;
    std::vector<lc::Layout> layouts(output_count);
    const auto status = api.GetCompiledModelOutputTensorLayouts(
        loaded_->compiled, signature_index_, output_count, layouts.data(), false);
    if (status != lc::kOk) return failed("reading the output shapes", status);
    for (size_t i = 0; i < output_count; ++i) {
      if (dims_of(layouts[i]) != bindings_[input_count_ + i].dims) {
        loaded_->set_text(kDataDependent);
        return Status::kError;
      }
    }
    return Status::kOk;
  }

  std::string refuse_empty(int /*handle*/, size_t /*axis*/, const std::vector<int>& /*dims*/,
                           const std::vector<int>& /*signature*/) const override {
    return "would be empty, and LiteRT 2.3.0 refuses dimensions of 0 ('Dimensions must be "
           "positive'); give it at least one element, or use runtime='tflite'";
  }

  void write_strings(int /*handle*/, const py::object& /*array*/) override {
    raise("UnsupportedTypeError", "LiteRT 2.3.0's C API cannot carry string tensors");
  }

  py::object read_strings(int /*handle*/) override {
    raise("UnsupportedTypeError", "LiteRT 2.3.0's C API cannot carry string tensors");
  }

 private:
  Status failed(const std::string& what, lc::Status status) {
    loaded_->set_error(what, status);
    return status == lc::kMemoryAllocationFailure ? Status::kOutOfMemory : Status::kError;
  }

  std::shared_ptr<Loaded> loaded_;
  size_t signature_index_;
  size_t input_count_ = 0;
  // Kept by the shared state too: views of their memory keep the session, not the runner.
  std::shared_ptr<std::vector<Binding>> storage_;
  std::vector<Binding>& bindings_;
  std::vector<lc::TensorBuffer> buffers_;  // inputs then outputs, as the run takes them
  bool dynamic_outputs_ = false;  // an output's shape signature has a dynamic dimension
};

class LitertBackend final : public core::Backend {
 public:
  explicit LitertBackend(std::shared_ptr<Loaded> loaded) : loaded_(std::move(loaded)) {
    lc::ParamIndex count = 0;
    api.GetNumModelSignatures(loaded_->model, &count);
    for (lc::ParamIndex i = 0; i < count; ++i) {
      SignatureInfo info{};
      const char* key = nullptr;
      if (api.GetModelSignature(loaded_->model, i, &info.signature) != lc::kOk ||
          api.GetSignatureKey(info.signature, &key) != lc::kOk || key == nullptr) {
        raise("ModelLoadError", "LiteRT cannot read signature " + std::to_string(i));
      }
      info.key = key;
      signatures_.push_back(info);
    }
  }

  const char* runtime_name() const override { return "litert"; }

  std::unique_ptr<core::Graph> open(const core::GraphRequest& request) override {
    // The signature pysig synthesizes for a model without SignatureDefs is the one
    // LiteRT makes for it, its only one.
    const bool synthesized = request.signature_key.empty();
    for (size_t i = 0; i < signatures_.size(); ++i) {
      if (synthesized ? signatures_.size() == 1 : signatures_[i].key == request.signature_key) {
        return std::make_unique<LitertGraph>(loaded_, i, signatures_[i].signature,
                                             synthesized ? "serving_default" : signatures_[i].key,
                                             request);
      }
    }
    throw std::invalid_argument("LiteRT has no signature '" + request.signature_key + "'");
  }

  Status cancel() override {
    loaded_->cancel_requested.store(true, std::memory_order_relaxed);
    return Status::kOk;
  }

  std::string take_error_text() override { return loaded_->take_error(); }

  const std::vector<SignatureInfo>& signature_infos() const { return signatures_; }
  Loaded& loaded() const { return *loaded_; }

  // The index in the model file of the subgraph a signature runs, or -1.
  int subgraph_index(lc::Signature signature) const {
    lc::Subgraph wanted = nullptr;
    lc::ParamIndex count = 0;
    if (api.GetSignatureSubgraph(signature, &wanted) != lc::kOk ||
        api.GetNumModelSubgraphs(loaded_->model, &count) != lc::kOk) {
      return -1;
    }
    for (lc::ParamIndex i = 0; i < count; ++i) {
      lc::Subgraph subgraph = nullptr;
      if (api.GetModelSubgraph(loaded_->model, i, &subgraph) == lc::kOk && subgraph == wanted) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  std::shared_ptr<Loaded> loaded_;
  std::vector<SignatureInfo> signatures_;
};

py::dict tensor_facts(lc::Tensor tensor, const char* signature_name) {
  py::dict facts;
  const char* name = nullptr;
  uint32_t index = 0;
  lc::RankedTensorType type{};
  api.GetTensorName(tensor, &name);
  api.GetTensorIndex(tensor, &index);
  api.GetRankedTensorType(tensor, &type);
  facts["signature_name"] = signature_name;
  facts["name"] = name != nullptr ? name : "";
  facts["index"] = index;
  facts["type"] = type.element_type;
  py::list dims;
  for (unsigned i = 0; i < type.layout.rank; ++i) dims.append(type.layout.dimensions[i]);
  facts["shape_signature"] = py::tuple(dims);
  facts["defining_op"] = defining_op(tensor);
  int32_t kind = lc::kQuantizationNone;
  api.GetQuantizationTypeId(tensor, &kind);
  py::list scales;
  py::list zero_points;
  int quantized_dimension = 0;
  if (kind == lc::kQuantizationPerTensor) {
    lc::PerTensorQuantization q{};
    api.GetPerTensorQuantization(tensor, &q);
    scales.append(q.scale);
    zero_points.append(q.zero_point);
  } else if (kind == lc::kQuantizationPerChannel) {
    lc::PerChannelQuantization q{};
    api.GetPerChannelQuantization(tensor, &q);
    for (uint64_t i = 0; i < q.num_channels; ++i) {
      scales.append(q.scales[i]);
      zero_points.append(q.zero_points[i]);
    }
    quantized_dimension = q.quantized_dimension;
  }
  facts["scales"] = scales;
  facts["zero_points"] = zero_points;
  facts["quantized_dimension"] = quantized_dimension;
  return facts;
}

}  // namespace

void load_library(const std::string& library_path) {
  if (loaded) return;
  void* library = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    raise("AbiMismatchError", "cannot load LiteRT's library " + library_path + ": " + dlerror());
  }
  lc::Api found{};
  auto* table = reinterpret_cast<void**>(&found);
  std::string missing;
  for (size_t i = 0; i < sizeof(lc::kApiSymbols) / sizeof(lc::kApiSymbols[0]); ++i) {
    table[i] = dlvsym(library, lc::kApiSymbols[i], lc::kSymbolVersion);
    if (table[i] == nullptr) missing += std::string(missing.empty() ? "" : ", ") + lc::kApiSymbols[i];
  }
  if (!missing.empty()) {
    raise("AbiMismatchError", "LiteRT's library " + library_path + " does not export what "
                              "pysig declares (ai-edge-litert 2.3.0, " + lc::kSymbolVersion +
                              "): missing " + missing);
  }
  api = found;  // the library stays loaded: its handle is never closed
  loaded = true;
}

std::unique_ptr<core::Backend> make_backend(py::bytes content, std::optional<int> num_threads,
                                            const std::string& kernel_mode) {
  if (!loaded) raise("PysigError", "litert backend used before loading");
  auto state = std::make_shared<Loaded>();
  state->content = std::move(content);
  char* data = nullptr;
  Py_ssize_t size = 0;
  PyBytes_AsStringAndSize(state->content.ptr(), &data, &size);
  const lc::Environment environment = shared_environment();
  std::string toml;
  if (num_threads) toml = "num_threads = " + std::to_string(*num_threads) + "\n";
  if (!kernel_mode.empty()) toml += "kernel_mode = \"" + kernel_mode + "\"\n";
  {
    // Compiling (XNNPACK packs the weights) takes long for big models: other threads run.
    lc::Status status;
    {
      py::gil_scoped_release no_gil;
      std::lock_guard<std::mutex> lock(compile_mutex);
      status = api.CreateModelFromBuffer(environment, data, static_cast<size_t>(size),
                                         &state->model);
    }
    if (status != lc::kOk) {
      raise("ModelLoadError", "LiteRT cannot read the model (" + status_text(status) + ")");
    }
    if (api.CreateOptions(&state->options) != lc::kOk ||
        api.SetOptionsHardwareAccelerators(state->options, lc::kAcceleratorCpu) != lc::kOk) {
      raise("ModelLoadError", "LiteRT refused its CPU options");
    }
    if (!toml.empty()) add_payload(state->options, lc::kCpuOptionsIdentifier, toml);
    add_payload(state->options, lc::kRuntimeOptionsIdentifier,
                "error_reporter_mode = " + std::to_string(lc::kErrorReporterBuffer) + "\n");
    {
      py::gil_scoped_release no_gil;
      std::lock_guard<std::mutex> lock(compile_mutex);
      status = without_runtime_logs([&] {
        return api.CreateCompiledModel(environment, state->model, state->options,
                                       &state->compiled);
      });
    }
    if (status != lc::kOk) {
      raise("ModelLoadError", "LiteRT cannot compile the model (" + status_text(status) +
                                  "): an operator it lacks, or one its CPU kernels refuse");
    }
  }
  api.SetCompiledModelCancellationFunction(state->compiled, state.get(), poll_cancel);
  return std::make_unique<LitertBackend>(std::move(state));
}

py::bytes model_content(core::Backend& backend) {
  auto* litert = dynamic_cast<LitertBackend*>(&backend);
  if (litert == nullptr) throw py::type_error("not a litert session");
  return litert->loaded().content;
}

py::dict prepare(core::Backend& backend) {
  auto* litert = dynamic_cast<LitertBackend*>(&backend);
  if (litert == nullptr) throw py::type_error("not a litert session");
  py::dict failures;
  const auto& infos = litert->signature_infos();
  for (size_t i = 0; i < infos.size(); ++i) {
    lc::ParamIndex count = 0;
    api.GetNumSignatureOutputs(infos[i].signature, &count);
    std::vector<lc::Layout> layouts(count);
    const auto status = api.GetCompiledModelOutputTensorLayouts(
        litert->loaded().compiled, i, count, layouts.data(), true);
    if (status != lc::kOk) {
      litert->loaded().set_error("preparing signature '" + infos[i].key + "'", status);
      failures[py::str(infos[i].key)] = litert->loaded().take_error();
    }
  }
  return failures;
}

py::list signatures(core::Backend& backend) {
  auto* litert = dynamic_cast<LitertBackend*>(&backend);
  if (litert == nullptr) throw py::type_error("not a litert session");
  py::list result;
  for (const auto& info : litert->signature_infos()) {
    py::dict signature;
    signature["key"] = info.key;
    signature["subgraph_index"] = litert->subgraph_index(info.signature);
    for (const bool input : {true, false}) {
      lc::ParamIndex count = 0;
      (input ? api.GetNumSignatureInputs : api.GetNumSignatureOutputs)(info.signature, &count);
      py::list tensors;
      for (lc::ParamIndex i = 0; i < count; ++i) {
        const char* name = nullptr;
        lc::Tensor tensor = nullptr;
        (input ? api.GetSignatureInputName : api.GetSignatureOutputName)(info.signature, i, &name);
        (input ? api.GetSignatureInputTensorByIndex : api.GetSignatureOutputTensorByIndex)(
            info.signature, i, &tensor);
        tensors.append(tensor_facts(tensor, name != nullptr ? name : ""));
      }
      signature[input ? "inputs" : "outputs"] = tensors;
    }
    result.append(signature);
  }
  return result;
}

}  // namespace pysig::litert_backend
