// The mapping between runtime element types and numpy dtypes.
#pragma once

#include <pybind11/numpy.h>

#include "backend.h"

namespace pysig {

// The numpy dtype a tensor of this type holds; strings map to object (bytes).
// Throws pysig's UnsupportedTypeError for types numpy cannot hold (resource, variant, int4).
pybind11::dtype numpy_dtype(core::ElementType type);

bool is_numeric(core::ElementType type);

}  // namespace pysig
