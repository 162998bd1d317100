// One signature of one interpreter: its input and output tensors resolved once,
// the dict call, the caller-buffer call, the zero-copy views and resizing.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backend.h"
#include "session.h"

namespace pysig {

// One named input or output of a signature.
struct Slot {
  std::string name;
  pybind11::str key;  // the same name as a Python str, for dict lookups
  int handle;         // the backend's name for the tensor
  core::ElementType type;
  pybind11::dtype dtype;
  bool numeric;       // false for strings, which go through the backend's string calls
  std::vector<int> shape_signature;  // from the model file; -1 marks a dynamic dimension
};

using core::ArgReductions;
using core::NamedTensors;

// Registers the object that zero-copy views keep as their base.
void register_view_guard(pybind11::module_& m);

class Runner {
 public:
  // `signature_key` empty: the signature pysig synthesizes for a model without
  // SignatureDefs, named `label`. `coerce(value, dtype, label, name)` turns any
  // other input into a C-contiguous array of exactly `dtype`, or raises.
  Runner(std::shared_ptr<Session> session, const std::string& signature_key,
         const std::string& label, int subgraph_index, const NamedTensors& inputs,
         const NamedTensors& outputs, pybind11::object coerce,
         const ArgReductions& arg_reductions, const std::vector<int>& value_sized);

  // Copy in, invoke, copy out under one lock. `out` maps output names to arrays
  // to write into (or is None); outputs without one are returned as new arrays.
  pybind11::dict run(const pybind11::dict& inputs, const pybind11::handle& out);
  // Invokes on whatever the input tensors hold (zero-copy path).
  void invoke();
  // Times `iterations` back-to-back invocations inside C++, with no Python in
  // between: the floor that benchmarks compare against. Nanoseconds per invoke.
  std::vector<int64_t> time_invokes(size_t iterations);
  void resize_input(const std::string& name, const std::vector<pybind11::ssize_t>& shape,
                    bool strict);
  void allocate();
  pybind11::array input_view(const std::string& name);
  pybind11::array output_view(const std::string& name);
  // The current shape of an input or output tensor.
  std::vector<int> shape(const std::string& name);

  int subgraph_index() const { return subgraph_index_; }
  const std::shared_ptr<Session>& session() const { return session_; }

 private:
  const Slot& find(const std::vector<Slot>& slots, const std::string& name,
                   const char* kind) const;
  pybind11::array view(const Slot& slot, bool writable);
  core::TensorState tensor(const Slot& slot) const { return graph_->tensor(slot.handle); }
  // Allocates when a resize is pending; requires the lock.
  void allocate_if_needed();
  // The shape as the runtime's int32 dimensions; refuses shapes too big for memory.
  std::vector<int> checked_dims(const Slot& slot, const pybind11::ssize_t* shape,
                                size_t rank) const;
  void check_inputs(const pybind11::dict& inputs) const;
  void check_runnable() const;
  pybind11::object stage_input(const Slot& slot, pybind11::handle value);
  void resize_locked(const Slot& slot, const std::vector<int>& dims, bool strict);
  void write_input(const Slot& slot, const pybind11::object& array);
  void invoke_locked();
  void check_invoke_status(core::Status status) const;
  void check_out_buffers(const pybind11::handle& out) const;
  pybind11::object read_output(const Slot& slot, const pybind11::handle& target);
  [[noreturn]] void fail(const char* error_class, const std::string& what) const;
  // fail(), after putting the graph back as its last allocation left it when this
  // call (or a resize before it) changed it: a refused call changes nothing.
  [[noreturn]] void refuse(const char* error_class, const std::string& what);
  void restore_allocation();

  std::shared_ptr<Session> session_;
  std::unique_ptr<core::Graph> graph_;
  std::string signature_key_;
  std::string label_;
  int subgraph_index_;
  std::vector<Slot> inputs_;
  std::vector<Slot> outputs_;
  std::vector<size_t> string_inputs_;  // positions in inputs_
  pybind11::object coerce_;
  bool allocation_pending_ = false;
};

}  // namespace pysig
