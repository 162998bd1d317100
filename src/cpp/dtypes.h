// The mapping between runtime element types and numpy dtypes.
#pragma once

#include <pybind11/numpy.h>

#include "runtime.h"

namespace pysig {

// The numpy dtype a tensor of this type holds; strings map to object (bytes).
// Throws pysig's UnsupportedTypeError for types numpy cannot hold (resource, variant, int4).
pybind11::dtype numpy_dtype(runtime::ElementType type);

bool is_numeric(runtime::ElementType type);

}  // namespace pysig
