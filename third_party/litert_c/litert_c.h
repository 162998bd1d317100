// pysig's own declarations of the few pieces of LiteRT's C API (ai-edge-litert 2.3.0,
// ai_edge_litert/libLiteRt.so, symbols versioned VERS_1.0) that it uses.
//
// Nothing here is copied from LiteRT: the names, argument lists, enum values and
// struct layouts are facts read off LiteRT's public sources and checked against the
// installed library (see README.md beside this file). No headers ship in the wheel
// and pysig does not link against the library: every function is looked up with
// dlvsym(name, "VERS_1.0") into the pointer types below.
#pragma once

#include <cstddef>
#include <cstdint>

static_assert(sizeof(void*) == 8, "the layouts below are those of 64-bit builds");

namespace litert_c {

// Every call returns a status; 0 is success.
using Status = int32_t;
constexpr Status kOk = 0;
constexpr Status kInvalidArgument = 1;
constexpr Status kMemoryAllocationFailure = 2;
// Returned by a run stopped because the cancellation function returned true.
constexpr Status kCancelled = 100;

using ParamIndex = size_t;

// The runtime's objects, only ever handled by pointer.
struct EnvironmentObject;
struct ModelObject;
struct SignatureObject;
struct TensorObject;
struct SubgraphObject;
struct OptionsObject;
struct OpaqueOptionsObject;
struct CompiledModelObject;
struct TensorBufferObject;
using Environment = EnvironmentObject*;
using Model = ModelObject*;
using Signature = SignatureObject*;
using Tensor = TensorObject*;
using Subgraph = SubgraphObject*;
using Options = OptionsObject*;
using OpaqueOptions = OpaqueOptionsObject*;
using CompiledModel = CompiledModelObject*;
using TensorBuffer = TensorBufferObject*;

// Element types use TensorFlow Lite's numbering (float32 = 1 ... uint16 = 17).
using ElementType = int32_t;

constexpr int kMaxRank = 8;

// A tensor's shape: a 7-bit rank and a has-strides bit in the first 32-bit word,
// then 8 int32 dimensions (-1: dynamic) and 8 uint32 strides.
struct Layout {
  uint32_t rank : 7;
  uint32_t has_strides : 1;
  int32_t dimensions[kMaxRank];
  uint32_t strides[kMaxRank];
};
static_assert(sizeof(Layout) == 68, "layout size");
static_assert(offsetof(Layout, dimensions) == 4, "layout dimensions offset");
static_assert(offsetof(Layout, strides) == 36, "layout strides offset");

struct RankedTensorType {
  ElementType element_type;
  Layout layout;
};
static_assert(sizeof(RankedTensorType) == 72, "ranked tensor type size");
static_assert(offsetof(RankedTensorType, layout) == 4, "ranked tensor type layout offset");

// What LiteRtGetTensorTypeId reports: only ranked tensors have a RankedTensorType.
constexpr int32_t kRankedTensorType = 0;

// What LiteRtGetQuantizationTypeId reports.
constexpr int32_t kQuantizationNone = 0;
constexpr int32_t kQuantizationPerTensor = 1;
constexpr int32_t kQuantizationPerChannel = 2;

struct PerTensorQuantization {
  float scale;
  int64_t zero_point;
};
static_assert(sizeof(PerTensorQuantization) == 16, "per-tensor quantization size");
static_assert(offsetof(PerTensorQuantization, zero_point) == 8, "zero point offset");

struct PerChannelQuantization {
  int32_t quantized_dimension;
  uint64_t num_channels;
  float* scales;           // num_channels entries, owned by the model
  int64_t* zero_points;    // num_channels entries, owned by the model
};
static_assert(sizeof(PerChannelQuantization) == 32, "per-channel quantization size");
static_assert(offsetof(PerChannelQuantization, num_channels) == 8, "channel count offset");
static_assert(offsetof(PerChannelQuantization, scales) == 16, "scales offset");
static_assert(offsetof(PerChannelQuantization, zero_points) == 24, "zero points offset");

struct OpObject;
using Op = OpObject*;

// The operator whose output a tensor is (none for inputs, constants, variables).
struct DefiningOp {
  Op op;
  ParamIndex output_index;
};
static_assert(sizeof(DefiningOp) == 16, "defining op size");

// Builtin operator codes use TensorFlow Lite's numbering.
constexpr int32_t kOpReadVariable = 143;

// Hardware accelerator bit set: the CPU is bit 0.
constexpr int32_t kAcceleratorCpu = 1;

// Host memory buffers must start at a multiple of this (LiteRT refuses others).
constexpr size_t kHostMemoryAlignment = 64;

// The identifiers of the opaque option payloads pysig sets: NUL-terminated TOML
// text, freed by the destructor given with it. "xnnpack" takes `num_threads = N`;
// "runtime_options_string" takes `error_reporter_mode = 2` (keep messages in a buffer
// that LiteRtCompiledModelGetErrorMessages returns).
constexpr const char kCpuOptionsIdentifier[] = "xnnpack";
constexpr const char kRuntimeOptionsIdentifier[] = "runtime_options_string";
constexpr int kErrorReporterBuffer = 2;

constexpr const char kSymbolVersion[] = "VERS_1.0";

// The functions, each with its exported name.
struct Api {
  // (num_options, options, out): pysig passes no options.
  Status (*CreateEnvironment)(int, const void*, Environment*);
  void (*DestroyEnvironment)(Environment);
  // Never LiteRtCreateModelFromFile: it reads files pysig has not verified.
  Status (*CreateModelFromBuffer)(Environment, const void*, size_t, Model*);
  void (*DestroyModel)(Model);
  Status (*GetNumModelSignatures)(Model, ParamIndex*);
  Status (*GetModelSignature)(Model, ParamIndex, Signature*);
  Status (*GetSignatureKey)(Signature, const char**);
  Status (*GetSignatureSubgraph)(Signature, Subgraph*);
  Status (*GetNumModelSubgraphs)(Model, ParamIndex*);
  Status (*GetModelSubgraph)(Model, ParamIndex, Subgraph*);
  Status (*GetNumSignatureInputs)(Signature, ParamIndex*);
  Status (*GetSignatureInputName)(Signature, ParamIndex, const char**);
  Status (*GetSignatureInputTensorByIndex)(Signature, ParamIndex, Tensor*);
  Status (*GetNumSignatureOutputs)(Signature, ParamIndex*);
  Status (*GetSignatureOutputName)(Signature, ParamIndex, const char**);
  Status (*GetSignatureOutputTensorByIndex)(Signature, ParamIndex, Tensor*);
  Status (*GetTensorName)(Tensor, const char**);
  Status (*GetTensorIndex)(Tensor, uint32_t*);
  Status (*GetTensorTypeId)(Tensor, int32_t*);
  Status (*GetRankedTensorType)(Tensor, RankedTensorType*);
  Status (*GetQuantizationTypeId)(Tensor, int32_t*);
  Status (*GetPerTensorQuantization)(Tensor, PerTensorQuantization*);
  Status (*GetPerChannelQuantization)(Tensor, PerChannelQuantization*);
  Status (*GetTensorDefiningOp)(Tensor, bool*, DefiningOp*);
  Status (*GetOpCode)(Op, int32_t*);
  Status (*CreateOptions)(Options*);
  void (*DestroyOptions)(Options);
  Status (*SetOptionsHardwareAccelerators)(Options, int32_t);
  // (identifier, payload, payload destructor, out)
  Status (*CreateOpaqueOptions)(const char*, void*, void (*)(void*), OpaqueOptions*);
  // Takes ownership of the opaque options.
  Status (*AddOpaqueOptions)(Options, OpaqueOptions);
  // The options stay the caller's.
  Status (*CreateCompiledModel)(Environment, Model, Options, CompiledModel*);
  void (*DestroyCompiledModel)(CompiledModel);
  // (model, signature index, input count, inputs, output count, outputs)
  Status (*RunCompiledModel)(CompiledModel, ParamIndex, size_t, TensorBuffer*, size_t,
                             TensorBuffer*);
  // (model, signature index, input index, dims, rank): strict allows only dynamic dims.
  Status (*CompiledModelResizeInputTensor)(CompiledModel, ParamIndex, ParamIndex, const int*,
                                           size_t);
  Status (*CompiledModelResizeInputTensorNonStrict)(CompiledModel, ParamIndex, ParamIndex,
                                                    const int*, size_t);
  Status (*GetCompiledModelInputTensorLayout)(CompiledModel, ParamIndex, ParamIndex, Layout*);
  // (model, signature index, count, layouts out, update allocation): the output shapes
  // after a resize; with the flag set the runtime prepares its tensors for them.
  Status (*GetCompiledModelOutputTensorLayouts)(CompiledModel, ParamIndex, size_t, Layout*,
                                                bool);
  // Polled between nodes; returning true stops the run with kCancelled.
  Status (*SetCompiledModelCancellationFunction)(CompiledModel, void*, bool (*)(void*));
  // A malloc'ed copy of the messages since the last clear; the caller frees it.
  Status (*CompiledModelGetErrorMessages)(CompiledModel, char**);
  Status (*CompiledModelClearErrors)(CompiledModel);
  // (type, address, size, deallocator or null, out): the runtime reads and writes the
  // caller's memory in place and never frees it when the deallocator is null.
  Status (*CreateTensorBufferFromHostMemory)(const RankedTensorType*, void*, size_t,
                                             void (*)(void*), TensorBuffer*);
  void (*DestroyTensorBuffer)(TensorBuffer);
};

// Name of each Api member's symbol, in member order (for the lookup and its errors).
constexpr const char* kApiSymbols[] = {
    "LiteRtCreateEnvironment",
    "LiteRtDestroyEnvironment",
    "LiteRtCreateModelFromBuffer",
    "LiteRtDestroyModel",
    "LiteRtGetNumModelSignatures",
    "LiteRtGetModelSignature",
    "LiteRtGetSignatureKey",
    "LiteRtGetSignatureSubgraph",
    "LiteRtGetNumModelSubgraphs",
    "LiteRtGetModelSubgraph",
    "LiteRtGetNumSignatureInputs",
    "LiteRtGetSignatureInputName",
    "LiteRtGetSignatureInputTensorByIndex",
    "LiteRtGetNumSignatureOutputs",
    "LiteRtGetSignatureOutputName",
    "LiteRtGetSignatureOutputTensorByIndex",
    "LiteRtGetTensorName",
    "LiteRtGetTensorIndex",
    "LiteRtGetTensorTypeId",
    "LiteRtGetRankedTensorType",
    "LiteRtGetQuantizationTypeId",
    "LiteRtGetPerTensorQuantization",
    "LiteRtGetPerChannelQuantization",
    "LiteRtGetTensorDefiningOp",
    "LiteRtGetOpCode",
    "LiteRtCreateOptions",
    "LiteRtDestroyOptions",
    "LiteRtSetOptionsHardwareAccelerators",
    "LiteRtCreateOpaqueOptions",
    "LiteRtAddOpaqueOptions",
    "LiteRtCreateCompiledModel",
    "LiteRtDestroyCompiledModel",
    "LiteRtRunCompiledModel",
    "LiteRtCompiledModelResizeInputTensor",
    "LiteRtCompiledModelResizeInputTensorNonStrict",
    "LiteRtGetCompiledModelInputTensorLayout",
    "LiteRtGetCompiledModelOutputTensorLayouts",
    "LiteRtSetCompiledModelCancellationFunction",
    "LiteRtCompiledModelGetErrorMessages",
    "LiteRtCompiledModelClearErrors",
    "LiteRtCreateTensorBufferFromHostMemory",
    "LiteRtDestroyTensorBuffer",
};
static_assert(sizeof(kApiSymbols) / sizeof(kApiSymbols[0]) * sizeof(void*) == sizeof(Api),
              "one symbol name per Api member");

}  // namespace litert_c
