// Raising pysig's Python exception classes (defined in pysig/errors.py) from C++.
#pragma once

#include <string>

namespace pysig {

// Raises pysig.errors.<class_name>(message) as a pybind11::error_already_set.
[[noreturn]] void raise(const char* class_name, const std::string& message);

}  // namespace pysig
