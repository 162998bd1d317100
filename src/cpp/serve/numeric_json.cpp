// Reads `{"instances": T}`, `{"inputs": T}` and `{"inputs": {"name": T, ...}}` (each with an
// optional "signature_name" string), where every T is a number, NaN, Infinity, -Infinity or
// a dense nested list of them. Anything else, and anything this reader is unsure of, is
// answered with None so the general path (orjson and numpy, with TF Serving's error messages)
// decides: this path never has to explain an error, only to agree with that path on the
// requests it takes. Numbers become doubles exactly as Python's float() reads them; integer
// literals are taken only up to 15 digits, where a double holds them exactly.
#include "serve/numeric_json.h"

#include <pybind11/numpy.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace pysig::serve {
namespace {

constexpr int kMaxRank = 16;            // as the general path (and TF Serving's checks) allow
constexpr int kMaxIntegerDigits = 15;   // 10**15 < 2**53: exact in a double

struct Tree {
  int rank = -1;  // known at the first number: the depth it was found at
  std::vector<py::ssize_t> shape;
  std::vector<double> values;  // row-major
  bool integral = true;        // every number an integer literal
  double max_abs = 0.0;        // of the finite numbers: decides whether a cast can overflow
};

struct Named {
  std::string_view name;
  Tree tree;
};

constexpr std::uint64_t kExactMantissa = std::uint64_t{1} << 53;
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::uint64_t digit(char c) { return static_cast<std::uint64_t>(c - '0'); }

class Reader {
 public:
  Reader(const char* begin, const char* end) : p_(begin), end_(end) {}

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool consume(char c) {
    skip_space();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  bool next_is(char c) {
    skip_space();
    return p_ < end_ && *p_ == c;
  }

  bool at_end() {
    skip_space();
    return p_ == end_;
  }

  // A string of printable ASCII without escapes (keys, input and signature names).
  bool plain_string(std::string_view& out) {
    if (!consume('"')) return false;
    const char* start = p_;
    while (p_ < end_ && *p_ != '"') {
      const auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    out = std::string_view(start, static_cast<size_t>(p_ - start));
    ++p_;
    return true;
  }

  bool tree(Tree& t) {
    if (next_is('[')) return list(t, 0);
    t.rank = 0;
    return number(t);
  }

 private:
  // The list whose '[' is next, at nesting `level`. The first list met at each level sets
  // that level's size; every later one must have it, and numbers sit only at the rank.
  bool list(Tree& t, int level) {
    ++p_;
    if (level >= kMaxRank || (t.rank >= 0 && level >= t.rank)) return false;
    const bool first = static_cast<int>(t.shape.size()) == level;
    if (first) t.shape.push_back(0);
    if (next_is(']')) return false;  // empty lists: left to the general path
    py::ssize_t count = 0;
    do {
      if (next_is('[')) {
        if (!list(t, level + 1)) return false;
      } else {
        if (t.rank < 0) {
          t.rank = level + 1;
        } else if (t.rank != level + 1) {
          return false;
        }
        if (!number(t)) return false;
      }
      ++count;
      if (!first && count > t.shape[static_cast<size_t>(level)]) return false;
    } while (consume(','));
    if (!consume(']')) return false;
    if (first) {
      t.shape[static_cast<size_t>(level)] = count;
      return true;
    }
    return count == t.shape[static_cast<size_t>(level)];
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // One number of JSON's grammar (RFC 8259), or NaN, Infinity, -Infinity as the general
  // path accepts them.
  bool number(Tree& t) {
    skip_space();
    const char* start = p_;
    double value = 0.0;
    if (p_ == end_) return false;
    const char lead = *p_;
    if (lead == 'N' || lead == 'I' || (lead == '-' && end_ - p_ > 1 && p_[1] == 'I')) {
      if (literal("NaN")) {
        value = std::numeric_limits<double>::quiet_NaN();
      } else if (literal("Infinity")) {
        value = std::numeric_limits<double>::infinity();
      } else if (literal("-Infinity")) {
        value = -std::numeric_limits<double>::infinity();
      } else {
        return false;
      }
    } else {
      // Local copies the compiler can keep in registers through the digit loops.
      const char* p = p_;
      const char* const end = end_;
      const bool negative = *p == '-';
      if (negative) ++p;
      // The digits as one integer (exact while there are at most 19) and the power of ten
      // it is scaled by; unsigned arithmetic wraps harmlessly beyond that.
      std::uint64_t mantissa = 0;
      const char* digits = p;
      if (p < end && *p == '0') {
        ++p;
      } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) mantissa = mantissa * 10 + digit(*p++);
      } else {
        return false;
      }
      const char* digits_end = p;
      std::ptrdiff_t count = digits_end - digits;
      int scale = 0;
      bool integral = true;
      if (p < end && *p == '.') {
        ++p;
        const char* fraction = p;
        while (p < end && is_digit(*p)) mantissa = mantissa * 10 + digit(*p++);
        if (p == fraction) return false;
        count += p - fraction;
        scale = -static_cast<int>(std::min<std::ptrdiff_t>(p - fraction, 100000));
        integral = false;
      }
      if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        const bool down = p < end && *p == '-';
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if (p == end || !is_digit(*p)) return false;
        int exponent = 0;
        while (p < end && is_digit(*p)) {
          if (exponent < 100000) exponent = exponent * 10 + (*p - '0');
          ++p;
        }
        scale += down ? -exponent : exponent;
        integral = false;
      }
      p_ = p;
      if (integral) {
        if (digits_end - digits > kMaxIntegerDigits) return false;
        // An integer has no sign of zero: "-0" is 0, as Python's int reads it.
        const auto magnitude = static_cast<std::int64_t>(mantissa);
        value = static_cast<double>(negative ? -magnitude : magnitude);
      } else {
        t.integral = false;
        if (count <= 19 && mantissa <= kExactMantissa && scale >= -22 && scale <= 22) {
          // Clinger's fast path: the mantissa and 10**|scale| are exact doubles, so one
          // correctly rounded operation gives the correctly rounded value.
          const double digits_value = static_cast<double>(mantissa);
          value = scale < 0 ? digits_value / kPowersOfTen[-scale]
                            : digits_value * kPowersOfTen[scale];
          if (negative) value = -value;
        } else {
          // The text is valid JSON, which from_chars' general format reads as JSON does;
          // beyond a double's range (either way) is the general path's to explain.
          const auto [end, error] = std::from_chars(start, p_, value);
          if (error != std::errc() || end != p_) return false;
        }
      }
      t.values.push_back(value);
      const double magnitude = std::fabs(value);
      if (magnitude > t.max_abs) t.max_abs = magnitude;
      return true;
    }
    t.integral = false;
    t.values.push_back(value);
    return true;
  }

  const char* p_;
  const char* end_;
};

enum class Format { kNone, kInstances, kInputs };

// The document, or false if it is not one this reader takes.
struct Request {
  std::optional<std::string_view> signature_name;
  Format format = Format::kNone;
  bool named = false;
  Tree tree;                 // unnamed
  std::vector<Named> trees;  // named, in the document's order
};

bool read_request(Reader& r, Request& request) {
  if (!r.consume('{') || r.next_is('}')) return false;
  do {
    std::string_view key;
    if (!r.plain_string(key) || !r.consume(':')) return false;
    if (key == "signature_name") {
      std::string_view name;
      if (request.signature_name || !r.plain_string(name)) return false;
      request.signature_name = name;
    } else if (key == "instances" || key == "inputs") {
      if (request.format != Format::kNone) return false;
      request.format = key == "instances" ? Format::kInstances : Format::kInputs;
      if (request.format == Format::kInputs && r.next_is('{')) {
        request.named = true;
        r.consume('{');
        if (r.next_is('}')) return false;
        do {
          Named item;
          if (!r.plain_string(item.name) || !r.consume(':')) return false;
          for (const Named& other : request.trees) {
            if (other.name == item.name) return false;  // which one counts: the general path's call
          }
          if (!r.tree(item.tree)) return false;
          request.trees.push_back(std::move(item));
        } while (r.consume(','));
        if (!r.consume('}')) return false;
      } else {
        // Instances are a list (of rows); objects in it are named rows: the general path's.
        if (request.format == Format::kInstances && !r.next_is('[')) return false;
        if (!r.tree(request.tree)) return false;
      }
    } else {
      return false;
    }
  } while (r.consume(','));
  return r.consume('}') && r.at_end() && request.format != Format::kNone;
}

py::tuple to_python(Tree& tree) {
  auto* values = new std::vector<double>(std::move(tree.values));
  py::capsule owner(values, [](void* p) { delete static_cast<std::vector<double>*>(p); });
  py::array_t<double> array(tree.shape, values->data(), owner);
  return py::make_tuple(std::move(array), tree.integral, tree.max_abs);
}

py::object read_numeric_request(const py::buffer& body) {
  const py::buffer_info info = body.request();
  if (info.ndim != 1 || info.itemsize != 1) throw py::type_error("the body must be bytes");
  const char* begin = static_cast<const char*>(info.ptr);
  Reader reader(begin, begin + info.size);
  Request request;
  bool taken = false;
  {
    // The caller holds the buffer; reading megabytes of text needs no Python.
    py::gil_scoped_release release;
    taken = read_request(reader, request);
  }
  if (!taken) return py::none();
  py::object name = py::none();
  if (request.signature_name) {
    name = py::str(request.signature_name->data(), request.signature_name->size());
  }
  const char* format = request.format == Format::kInstances ? "instances" : "inputs";
  if (!request.named) return py::make_tuple(name, format, to_python(request.tree));
  py::dict trees;
  for (Named& item : request.trees) {
    trees[py::str(item.name.data(), item.name.size())] = to_python(item.tree);
  }
  return py::make_tuple(name, format, trees);
}

}  // namespace

void register_bindings(py::module_& m) {
  m.def("read_numeric_request", &read_numeric_request, py::arg("body"),
        "(signature_name or None, 'instances' or 'inputs', tensor or {name: tensor}) for a "
        "predict body whose tensors are all numbers, each tensor as (float64 array, whether "
        "every number was an integer literal, largest finite magnitude); None for any other "
        "body.");
}

}  // namespace pysig::serve
