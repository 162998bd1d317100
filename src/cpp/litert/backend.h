// The litert backend: LiteRT 2.3.0's compiled model, run by signature over
// host-memory tensor buffers that pysig owns, through the C API that
// ai_edge_litert/libLiteRt.so exports (declared in third_party/litert_c).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>

#include "core/backend.h"

namespace pysig::litert_backend {

// Opens the library and resolves every declared function at its VERS_1.0 version;
// raises AbiMismatchError naming what is missing. Once per process.
void load_library(const std::string& library_path);

// Compiles verified model bytes for the CPU: `num_threads` when given, and the CPU
// kernels `kernel_mode` names ("xnnpack", "builtin", "reference"; "" for LiteRT's default).
std::unique_ptr<core::Backend> make_backend(pybind11::bytes content,
                                            std::optional<int> num_threads,
                                            const std::string& kernel_mode);

// The model's signatures as LiteRT reports them: a list of dicts with `key`,
// `inputs` and `outputs` (lists of tensor facts: name, index, type, shape_signature,
// quantization). Raises unless `backend` is a litert one.
pybind11::list signatures(core::Backend& backend);

// Prepares every signature for the model's own shapes, as tflite's AllocateTensors
// does at load: signature key -> LiteRT's error, for those that fail (unresolved ops).
pybind11::dict prepare(core::Backend& backend);

// The model bytes the compiled model reads from (shared, never copied).
pybind11::bytes model_content(core::Backend& backend);

}  // namespace pysig::litert_backend
