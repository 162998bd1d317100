// pysig's own declarations of the few pieces of the tflite-runtime 2.14.0 ABI it uses.
//
// Nothing here is copied from TensorFlow: the names, signatures and byte offsets are
// facts read off the installed runtime (see README.md beside this file for how each
// was checked). Only non-virtual member functions are declared, so calling them
// needs nothing but the exported symbol; objects are only ever handled by pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

static_assert(sizeof(void*) == 8, "the layouts below are those of 64-bit builds");

// A delegate (XNNPACK, or one given by the user): opaque, pysig only hands the
// runtime's own pointers back to it.
struct TfLiteDelegate;

namespace tflite {

// A status is returned as a 32-bit enum; 0 means success.
using StatusCode = int;
constexpr StatusCode kStatusOk = 0;
constexpr StatusCode kStatusError = 1;
// Returned by an invocation stopped through Cancel().
constexpr StatusCode kStatusCancelled = 8;

// Element types, numbered as in the runtime's tensor type enum.
enum class ElementType : int32_t {
  kNone = 0, kFloat32 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4, kString = 5,
  kBool = 6, kInt16 = 7, kComplex64 = 8, kInt8 = 9, kFloat16 = 10, kFloat64 = 11,
  kComplex128 = 12, kUInt64 = 13, kResource = 14, kVariant = 15, kUInt32 = 16,
  kUInt16 = 17, kInt4 = 18,
};

// Where a tensor's bytes live; only the kind that can move during Invoke matters.
enum class AllocationKind : int32_t { kDynamic = 4 };

// A length-prefixed array of int32, the runtime's shape representation.
struct ShapeArray {
  int32_t size;
  int32_t dims[1];  // really `size` entries
};

// The runtime's tensor record (112 bytes), reduced to the fields pysig reads.
struct TensorRecord {
  ElementType type;              // 0
  int32_t pad_type;
  void* data;                    // 8
  ShapeArray* dims;              // 16
  uint8_t legacy_quantization[8];  // 24: per-tensor scale and zero point
  AllocationKind allocation;     // 32
  int32_t pad_allocation;
  size_t bytes;                  // 40
  const void* mapped_allocation; // 48
  const char* name;              // 56
  TfLiteDelegate* delegate;      // 64: set on the outputs of a delegated partition
  uint8_t unused_72[32];         // 72: buffer handle, flags, quantization, sparsity
  const ShapeArray* dims_signature;  // 104
};
static_assert(sizeof(TensorRecord) == 112, "tensor record size");
static_assert(offsetof(TensorRecord, data) == 8, "tensor data pointer offset");
static_assert(offsetof(TensorRecord, dims) == 16, "tensor dims offset");
static_assert(offsetof(TensorRecord, allocation) == 32, "tensor allocation type offset");
static_assert(offsetof(TensorRecord, bytes) == 40, "tensor byte size offset");
static_assert(offsetof(TensorRecord, name) == 56, "tensor name offset");
static_assert(offsetof(TensorRecord, delegate) == 64, "tensor delegate offset");
static_assert(offsetof(TensorRecord, dims_signature) == 104, "tensor dims_signature offset");

// One graph of the model; signatures each run one of these.
class Subgraph {
 public:
  Subgraph() = delete;
  StatusCode ResizeInputTensor(int tensor_index, const std::vector<int>& dims);
  StatusCode ResizeInputTensorStrict(int tensor_index, const std::vector<int>& dims);
  StatusCode AllocateTensors();
  // Undoes every delegate, forgets them, plans memory anew and allocates.
  StatusCode RemoveAllDelegates();
  StatusCode ModifyGraphWithDelegate(TfLiteDelegate* delegate);
  bool HasDelegates();
};

// Byte offsets of the members pysig reads; they are verified against the live
// runtime at import (src/pysig/runtime/tflite_abi_check.py).
struct Offsets {
  static constexpr size_t kSubgraphTensorsBegin = 8;   // std::vector<TensorRecord>
  static constexpr size_t kSubgraphTensorsEnd = 16;
  // std::vector<TfLiteDelegate*>: the delegates applied to the subgraph, in order.
  static constexpr size_t kSubgraphDelegatesBegin = 440;
  static constexpr size_t kSubgraphDelegatesEnd = 448;
  static constexpr size_t kRunnerSubgraph = 8;         // Subgraph*
  static constexpr size_t kInterpreterSubgraphsBegin = 96;  // std::vector<unique_ptr<Subgraph>>
  static constexpr size_t kInterpreterSubgraphsEnd = 104;
};

namespace impl {

// Runs one signature: resets the cancellation flag, invokes, makes outputs readable.
class SignatureRunner {
 public:
  SignatureRunner() = delete;
  StatusCode Invoke();
};

class Interpreter {
 public:
  Interpreter() = delete;
  // Null when the model has no signature with this key.
  SignatureRunner* GetSignatureRunner(const char* signature_key);
  // Invokes the main graph (subgraph 0), as a model without signatures needs.
  StatusCode Invoke();
  // Cancellation is checked between nodes once enabled.
  StatusCode EnableCancellation();
  StatusCode Cancel();
};

}  // namespace impl
}  // namespace tflite
