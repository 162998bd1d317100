#include "runtime.h"

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

Graph resolve(tflite::impl::Interpreter* interpreter, const char* signature_key,
              int subgraph_index) {
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

StatusCode allocate(const Graph& graph) {
  try {
    return graph.subgraph->AllocateTensors();
  } catch (const std::bad_alloc&) {
    return kStatusOutOfMemory;
  }
}

StatusCode enable_cancellation(tflite::impl::Interpreter* interpreter) {
  return interpreter->EnableCancellation();
}

StatusCode cancel(tflite::impl::Interpreter* interpreter) { return interpreter->Cancel(); }

}  // namespace pysig::runtime
