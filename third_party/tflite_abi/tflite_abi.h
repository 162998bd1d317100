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

// The runtime's objects, only ever handled by pointer.
class Subgraph;
namespace impl {
class Interpreter;
class SignatureRunner;
}  // namespace impl

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
  // TfLiteDelegate (the C API's struct) begins with its data pointer, then its Prepare
  // function: where Prepare lives tells which library a delegate comes from (Flex's).
  static constexpr size_t kDelegatePrepare = 8;
};

// The non-virtual member functions pysig calls, by their exported (Itanium-mangled)
// names. A member function is called as a function whose first argument is the
// object, so each is resolved with dlsym into the plain function type beside it.
namespace symbols {

// Interpreter::GetSignatureRunner(const char*): null when no signature has the key.
constexpr const char kGetSignatureRunner[] =
    "_ZN6tflite4impl11Interpreter18GetSignatureRunnerEPKc";
using GetSignatureRunner = impl::SignatureRunner* (*)(impl::Interpreter*, const char*);
// Interpreter::Invoke(): runs the main graph (subgraph 0), as a model without signatures needs.
constexpr const char kInterpreterInvoke[] = "_ZN6tflite4impl11Interpreter6InvokeEv";
using InterpreterInvoke = StatusCode (*)(impl::Interpreter*);
// Interpreter::EnableCancellation() and Cancel(): checked between nodes once enabled.
constexpr const char kEnableCancellation[] = "_ZN6tflite4impl11Interpreter18EnableCancellationEv";
constexpr const char kCancel[] = "_ZN6tflite4impl11Interpreter6CancelEv";
using InterpreterCall = StatusCode (*)(impl::Interpreter*);
// SignatureRunner::Invoke(): resets the cancellation flag, invokes, makes outputs readable.
constexpr const char kRunnerInvoke[] = "_ZN6tflite4impl15SignatureRunner6InvokeEv";
using RunnerInvoke = StatusCode (*)(impl::SignatureRunner*);
// Subgraph::ResizeInputTensor(int, const std::vector<int>&) and its Strict form.
constexpr const char kResizeInputTensor[] =
    "_ZN6tflite8Subgraph17ResizeInputTensorEiRKSt6vectorIiSaIiEE";
constexpr const char kResizeInputTensorStrict[] =
    "_ZN6tflite8Subgraph23ResizeInputTensorStrictEiRKSt6vectorIiSaIiEE";
using ResizeInputTensor = StatusCode (*)(Subgraph*, int, const std::vector<int>&);
// Subgraph::AllocateTensors().
constexpr const char kAllocateTensors[] = "_ZN6tflite8Subgraph15AllocateTensorsEv";
using AllocateTensors = StatusCode (*)(Subgraph*);
// Subgraph::RemoveAllDelegates(): undoes every delegate, forgets them, plans memory anew
// and allocates.
constexpr const char kRemoveAllDelegates[] = "_ZN6tflite8Subgraph18RemoveAllDelegatesEv";
using RemoveAllDelegates = StatusCode (*)(Subgraph*);
// Subgraph::ModifyGraphWithDelegate(TfLiteDelegate*).
constexpr const char kModifyGraphWithDelegate[] =
    "_ZN6tflite8Subgraph23ModifyGraphWithDelegateEP14TfLiteDelegate";
using ModifyGraphWithDelegate = StatusCode (*)(Subgraph*, TfLiteDelegate*);
// Subgraph::HasDelegates().
constexpr const char kHasDelegates[] = "_ZN6tflite8Subgraph12HasDelegatesEv";
using HasDelegates = bool (*)(Subgraph*);

}  // namespace symbols
}  // namespace tflite
