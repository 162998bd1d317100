// The only place that touches tflite-runtime: everything pysig needs from it, over
// the declarations in third_party/tflite_abi. A second backend would replace this file.
#pragma once

#include <cstddef>
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
};

size_t subgraph_count(tflite::impl::Interpreter* interpreter);
tflite::Subgraph* subgraph_at(tflite::impl::Interpreter* interpreter, size_t index);
size_t tensor_count(const tflite::Subgraph* subgraph);
// Valid until the runtime adds tensors; re-read it rather than caching it.
TensorRecord* tensor_at(tflite::Subgraph* subgraph, int index);
// The subgraph a SignatureRunner drives, for the import-time layout check.
tflite::Subgraph* runner_subgraph(tflite::impl::SignatureRunner* runner);

// Throws std::invalid_argument when the key is unknown or the index out of range.
Graph resolve(tflite::impl::Interpreter* interpreter, const char* signature_key,
              int subgraph_index);

// Not one of the runtime's codes: an allocation inside the runtime threw
// std::bad_alloc, after which the runtime's state is inconsistent.
inline constexpr StatusCode kStatusOutOfMemory = static_cast<StatusCode>(-1);

// Both return kStatusOutOfMemory instead of letting std::bad_alloc through.
StatusCode invoke(const Graph& graph);
StatusCode resize(const Graph& graph, int tensor_index, const std::vector<int>& dims,
                  bool strict);
StatusCode allocate(const Graph& graph);
StatusCode enable_cancellation(tflite::impl::Interpreter* interpreter);
StatusCode cancel(tflite::impl::Interpreter* interpreter);

}  // namespace pysig::runtime
