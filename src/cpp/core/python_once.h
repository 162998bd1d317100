// Python objects looked up once per process, from whichever thread asks first.
#pragma once

#include <pybind11/gil_safe_call_once.h>
#include <pybind11/pybind11.h>

namespace pysig {

// The object `lookup()` returns (an imported module or one of its attributes),
// computed on the first call and kept until the process exits. A plain function-local
// static deadlocks here: an import releases the GIL while it reads files, and a second
// thread that takes the GIL meanwhile then waits on the static's guard, holding the GIL
// the first thread needs to finish (seen with two pool threads refused at once). Each
// lambda is its own type, so each call site has its own storage.
template <typename Lookup>
pybind11::handle python_once(Lookup lookup) {
  PYBIND11_CONSTINIT static pybind11::gil_safe_call_once_and_store<pybind11::object> storage;
  return storage.call_once_and_store_result(lookup).get_stored();
}

}  // namespace pysig
