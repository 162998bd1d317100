#include "dtypes.h"

#include <string>

#include "errors.h"

namespace pysig {

namespace py = pybind11;
using core::ElementType;

namespace {

const char* numpy_name(ElementType type) {
  switch (type) {
    case ElementType::kFloat32: return "float32";
    case ElementType::kInt32: return "int32";
    case ElementType::kUInt8: return "uint8";
    case ElementType::kInt64: return "int64";
    case ElementType::kString: return "object";
    case ElementType::kBool: return "bool";
    case ElementType::kInt16: return "int16";
    case ElementType::kComplex64: return "complex64";
    case ElementType::kInt8: return "int8";
    case ElementType::kFloat16: return "float16";
    case ElementType::kFloat64: return "float64";
    case ElementType::kComplex128: return "complex128";
    case ElementType::kUInt64: return "uint64";
    case ElementType::kUInt32: return "uint32";
    case ElementType::kUInt16: return "uint16";
    default: return nullptr;
  }
}

}  // namespace

py::dtype numpy_dtype(ElementType type) {
  const char* name = numpy_name(type);
  if (name == nullptr) {
    raise("UnsupportedTypeError",
          "tensor element type " + std::to_string(static_cast<int>(type)) +
              " (resource, variant or int4) has no numpy equivalent");
  }
  return py::dtype(name);
}

bool is_numeric(ElementType type) {
  return type != ElementType::kString && numpy_name(type) != nullptr;
}

}  // namespace pysig
