#include "runtime.h"

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

namespace pysig::runtime {
namespace {

template <typename T>
T read_member(const void* object, size_t offset) {
  return *reinterpret_cast<const T*>(static_cast<const char*>(object) + offset);
}

using Offsets = tflite::Offsets;
using SubgraphSlot = std::unique_ptr<tflite::Subgraph>;

}  // namespace

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

tflite::Subgraph* runner_subgraph(tflite::impl::SignatureRunner* runner) {
  return read_member<tflite::Subgraph*>(runner, Offsets::kRunnerSubgraph);
}

namespace {

std::vector<int> dims_of(const TensorRecord& tensor) {
  if (tensor.dims == nullptr) return {};
  return {tensor.dims->dims, tensor.dims->dims + tensor.dims->size};
}

// The subgraph's applied delegates, checked against what the runtime shows of them
// elsewhere: its own HasDelegates(), and the delegate marked on delegated tensors.
std::vector<TfLiteDelegate*> applied_delegates(tflite::Subgraph* subgraph) {
  auto* begin = read_member<TfLiteDelegate* const*>(subgraph, Offsets::kSubgraphDelegatesBegin);
  auto* end = read_member<TfLiteDelegate* const*>(subgraph, Offsets::kSubgraphDelegatesEnd);
  constexpr ptrdiff_t kMostDelegates = 64;
  if (end < begin || end - begin > kMostDelegates ||
      (end > begin) != subgraph->HasDelegates()) {
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

}  // namespace

Graph resolve(tflite::impl::Interpreter* interpreter, const char* signature_key,
              int subgraph_index, const std::vector<int>& inputs) {
  Graph graph;
  graph.interpreter = interpreter;
  graph.subgraph = subgraph_at(interpreter, static_cast<size_t>(subgraph_index));
  if (signature_key != nullptr) {
    graph.runner = interpreter->GetSignatureRunner(signature_key);
    if (graph.runner == nullptr) {
      throw std::invalid_argument(std::string("no signature '") + signature_key + "'");
    }
    if (runner_subgraph(graph.runner) != graph.subgraph) {
      throw std::invalid_argument(std::string("signature '") + signature_key +
                                  "' does not run subgraph " + std::to_string(subgraph_index));
    }
  }
  for (const int index : inputs) {
    if (index < 0 || static_cast<size_t>(index) >= tensor_count(graph.subgraph)) {
      throw std::invalid_argument("input tensor index " + std::to_string(index) + " out of range");
    }
    graph.allocated_inputs.emplace_back(index, dims_of(*tensor_at(graph.subgraph, index)));
  }
  graph.delegates = applied_delegates(graph.subgraph);
  return graph;
}

StatusCode invoke(const Graph& graph) {
  try {
    return graph.runner != nullptr ? graph.runner->Invoke() : graph.interpreter->Invoke();
  } catch (const std::bad_alloc&) {
    return kStatusOutOfMemory;
  }
}

StatusCode resize(const Graph& graph, int tensor_index, const std::vector<int>& dims,
                  bool strict) {
  return strict ? graph.subgraph->ResizeInputTensorStrict(tensor_index, dims)
                : graph.subgraph->ResizeInputTensor(tensor_index, dims);
}

StatusCode allocate(Graph& graph) {
  try {
    const StatusCode status = graph.subgraph->AllocateTensors();
    if (status != tflite::kStatusOk) return status;
  } catch (const std::bad_alloc&) {
    return kStatusOutOfMemory;
  }
  for (auto& [index, dims] : graph.allocated_inputs) {
    dims = dims_of(*tensor_at(graph.subgraph, index));
  }
  return tflite::kStatusOk;
}

StatusCode restore(Graph& graph) {
  // tflite-runtime 2.14 undoes a delegated graph's delegates when an input is
  // resized and re-applies them when it allocates. When that re-application fails
  // (a kernel refuses the new shapes while the plain graph is prepared for the
  // delegate), the delegates are dropped from the subgraph's list and the memory
  // plan still describes the delegated graph: the next allocation leaves tensors of
  // the plain graph without memory, and the next invocation crashes. So the shapes
  // go back first, then the subgraph is planned anew without delegates
  // (RemoveAllDelegates), then the same delegates are applied again, as when the
  // interpreter was built.
  try {
    for (const auto& [index, dims] : graph.allocated_inputs) {
      if (graph.subgraph->ResizeInputTensor(index, dims) != tflite::kStatusOk) {
        return tflite::kStatusError;
      }
    }
    StatusCode status = graph.subgraph->RemoveAllDelegates();
    for (auto* delegate : graph.delegates) {
      if (status == tflite::kStatusOk) status = graph.subgraph->ModifyGraphWithDelegate(delegate);
    }
    return status == tflite::kStatusOk ? graph.subgraph->AllocateTensors() : status;
  } catch (const std::bad_alloc&) {
    return kStatusOutOfMemory;
  }
}

StatusCode enable_cancellation(tflite::impl::Interpreter* interpreter) {
  return interpreter->EnableCancellation();
}

StatusCode cancel(tflite::impl::Interpreter* interpreter) { return interpreter->Cancel(); }

}  // namespace pysig::runtime
