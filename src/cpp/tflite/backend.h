// The tflite backend: tflite-runtime 2.14.0's C++ Interpreter and SignatureRunner,
// over pysig's own declarations (third_party/tflite_abi), with every function
// resolved at run time from the library tflite_runtime has already loaded.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.h"
#include "tflite_abi/tflite_abi.h"

namespace pysig::tflite_backend {

// Resolves the runtime's functions from the library at `library_path` (already
// loaded by tflite_runtime); raises AbiMismatchError when one is missing. Once per process.
void load_symbols(const std::string& library_path);

size_t subgraph_count(tflite::impl::Interpreter* interpreter);
tflite::Subgraph* subgraph_at(tflite::impl::Interpreter* interpreter, size_t index);
size_t tensor_count(const tflite::Subgraph* subgraph);
// Valid until the runtime adds tensors; re-read it rather than caching it.
tflite::TensorRecord* tensor_at(tflite::Subgraph* subgraph, int index);
// The subgraph index the runtime's SignatureRunner for `key` drives, or -1.
int signature_subgraph(tflite::impl::Interpreter* interpreter, const char* key);

// `owner` is the tflite_runtime interpreter whose native interpreter `handle` points to.
std::unique_ptr<core::Backend> make_backend(pybind11::object owner, uintptr_t handle);

}  // namespace pysig::tflite_backend
