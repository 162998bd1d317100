// The only place that touches tflite-runtime: everything pysig needs from it, over
// the declarations in third_party/tflite_abi. A second backend would replace this file.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "tflite_abi/tflite_abi.h"

namespace pysig::runtime {

using tflite::ElementType;
using tflite::StatusCode;
using tflite::TensorRecord;

// One signature's graph, resolved once per runner.
struct Graph {
  tflite::impl::Interpreter* interpreter = nullptr;
  tflite::Subgraph* subgraph = nullptr;
  // Null for the signature pysig synthesizes for a model without SignatureDefs:
  // that one runs through the interpreter's own Invoke().
  tflite::impl::SignatureRunner* runner = nullptr;
  // What restore() puts back: each input (tensor index) with its shape at the last
  // allocation that succeeded, and the delegates the graph was resolved with.
  std::vector<std::pair<int, std::vector<int>>> allocated_inputs;
  std::vector<TfLiteDelegate*> delegates;
};

size_t subgraph_count(tflite::impl::Interpreter* interpreter);
tflite::Subgraph* subgraph_at(tflite::impl::Interpreter* interpreter, size_t index);
size_t tensor_count(const tflite::Subgraph* subgraph);
// Valid until the runtime adds tensors; re-read it rather than caching it.
TensorRecord* tensor_at(tflite::Subgraph* subgraph, int index);
// The subgraph a SignatureRunner drives, for the import-time layout check.
tflite::Subgraph* runner_subgraph(tflite::impl::SignatureRunner* runner);

// `inputs`: the signature's input tensor indices, whose current shapes count as the
// last allocated ones. Throws std::invalid_argument when the key is unknown or the
// index out of range, std::runtime_error when the subgraph's delegates read wrong.
Graph resolve(tflite::impl::Interpreter* interpreter, const char* signature_key,
              int subgraph_index, const std::vector<int>& inputs);

// Not one of the runtime's codes: an allocation inside the runtime threw
// std::bad_alloc, after which the runtime's state is inconsistent.
inline constexpr StatusCode kStatusOutOfMemory = static_cast<StatusCode>(-1);

// These return kStatusOutOfMemory instead of letting std::bad_alloc through.
StatusCode invoke(const Graph& graph);
StatusCode resize(const Graph& graph, int tensor_index, const std::vector<int>& dims,
                  bool strict);
// On success, the input shapes become the ones restore() puts back.
StatusCode allocate(Graph& graph);
// Puts the graph back as it was after its last successful allocation: input shapes,
// delegates, memory plan. Call it after the runtime refused a resize or allocation
// (or pysig refused shapes the runtime accepted) and before the graph is used again.
StatusCode restore(Graph& graph);
StatusCode enable_cancellation(tflite::impl::Interpreter* interpreter);
StatusCode cancel(tflite::impl::Interpreter* interpreter);

}  // namespace pysig::runtime
