// The seam between pysig's core and a runtime. A backend loads a model on one
// runtime and runs its signatures; the core (runner, views, dtypes, locks, errors)
// never sees a runtime's own types. Adding a runtime means adding a backend.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace pysig::core {

// Element types, numbered as both runtimes number them (TensorFlow Lite's tensor type enum).
enum class ElementType : int32_t {
  kNone = 0, kFloat32 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4, kString = 5,
  kBool = 6, kInt16 = 7, kComplex64 = 8, kInt8 = 9, kFloat16 = 10, kFloat64 = 11,
  kComplex128 = 12, kUInt64 = 13, kResource = 14, kVariant = 15, kUInt32 = 16,
  kUInt16 = 17, kInt4 = 18,
};

enum class Status {
  kOk,
  kError,      // the backend's error text says why
  kCancelled,  // stopped by Backend::cancel()
  // An allocation inside the runtime failed and left it inconsistent: the core
  // abandons the interpreter rather than destroy it.
  kOutOfMemory,
};

// Where a tensor's bytes are now and what shape they have; valid until the next
// resize, allocate or invoke.
struct TensorState {
  void* data = nullptr;
  size_t bytes = 0;
  const int32_t* dims = nullptr;
  int rank = 0;
  bool has_shape = false;
};

// Each input or output: (name, tensor index in the signature's subgraph, shape
// signature), as the model file declares them (-1 marks a dynamic dimension; the
// runtime's own copy is not kept for every tensor type).
using NamedTensors = std::vector<std::tuple<std::string, int, std::vector<int>>>;
// ARG_MAX / ARG_MIN operators of a subgraph as (data tensor, axis tensor) indices;
// the axis is -1 when it is not a constant.
using ArgReductions = std::vector<std::pair<int, int>>;

// What a signature of a loaded model is asked for; handles name its inputs and
// outputs in every later call (each backend chooses what they mean).
struct GraphRequest {
  std::string signature_key;  // empty: the signature pysig synthesizes (no SignatureDefs)
  int subgraph_index = 0;
  NamedTensors inputs;
  NamedTensors outputs;
  ArgReductions arg_reductions;
  // Tensors of the subgraph whose sizes depend on the input values (from the model file).
  std::vector<int> value_sized;
};

// One signature of a loaded model, as the backend runs it. Called with the
// interpreter's lock held; invoke() is called without the GIL.
class Graph {
 public:
  virtual ~Graph() = default;
  const std::vector<int>& input_handles() const { return inputs_; }
  const std::vector<int>& output_handles() const { return outputs_; }

  virtual TensorState tensor(int handle) const = 0;
  virtual ElementType type(int handle) const = 0;
  virtual Status resize(int handle, const std::vector<int>& dims, bool strict) = 0;
  // On success, the input shapes become the ones restore() puts back.
  virtual Status allocate() = 0;
  // Puts the graph back as its last successful allocation left it (input shapes and
  // whatever the runtime prepared for them), after the runtime refused a resize or an
  // allocation, or pysig refused shapes the runtime accepted. kError: it could not.
  virtual Status restore() = 0;
  virtual Status invoke() = 0;
  // "" when the current shapes may run, else why they may not (after allocate()).
  virtual std::string refuse_shapes() const { return ""; }
  // Why this signature cannot run on the backend at all, as a pysig error class and
  // message (class null: it can). Checked before a call touches anything, so read in
  // place rather than through a virtual call.
  struct Refusal {
    const char* error_class = nullptr;
    std::string what;
  };
  const Refusal& refuse_run() const { return refusal_; }
  // "" when tensor memory stays put across invokes (views allowed), else why not.
  virtual std::string refuse_views() const { return ""; }
  // Why a dimension of 0 at `axis` of this input cannot be used, or "". `signature`
  // is the input's shape signature in the model file.
  virtual std::string refuse_empty(int handle, size_t axis, const std::vector<int>& dims,
                                   const std::vector<int>& signature) const = 0;
  // String tensors: values as numpy object arrays of bytes.
  virtual void write_strings(int handle, const pybind11::object& array) = 0;
  virtual pybind11::object read_strings(int handle) = 0;

 protected:
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  Refusal refusal_;  // set by the backend when it opens the signature
};

// One model loaded on one runtime.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* runtime_name() const = 0;
  // Throws std::invalid_argument when the request does not match the model.
  virtual std::unique_ptr<Graph> open(const GraphRequest& request) = 0;
  // Stops the invocation in progress from any thread, between nodes.
  virtual Status cancel() = 0;
  // The runtime's error text since the last call.
  virtual std::string take_error_text() = 0;
};

}  // namespace pysig::core
