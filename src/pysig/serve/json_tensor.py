"""JSON bodies to numpy tensors and back, with the semantics of TF Serving's REST API.

Requests: ``instances`` (row format: a list, or a list of objects keyed by input
name, stacked along a new first dimension) or ``inputs`` (columnar: a value, or
an object by input name); ``examples`` and ``context`` for classify and regress.
Responses: ``predictions`` / ``outputs``, a single output without its name;
``results`` for classify and regress. Strings are JSON strings or ``{"b64": ...}``
objects; outputs whose name ends in ``_bytes`` are written as ``{"b64": ...}``.
``NaN``, ``Infinity`` and ``-Infinity`` are accepted and written as those tokens.

The common case (a dense numeric tensor) is converted by numpy in one step; the
slow paths that walk every value run only for strings, for bodies that contain
``true``/``false`` (numpy would turn a bool into a number), and to explain an error.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np
import orjson
from numpy.typing import NDArray

from .errors import InvalidArgument
from .signatures import TensorSpec

Tensors = Dict[str, NDArray[Any]]
Feature = Tuple[str, List[Any]]  # ("bytes" | "float" | "int64", values)

_MISSING = object()
_DEBUG_CHARS = 256  # TF Serving cuts JSON quoted in messages at this length too
_MAX_RANK = 16
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_NON_FINITE = {math.inf: b"Infinity", -math.inf: b"-Infinity"}


class RequestFormat(enum.Enum):
    ROW = "instances"
    COLUMNAR = "inputs"


# ------------------------------------------------------------------------ parsing


def loads(body: bytes) -> dict[str, Any]:
    """The request's JSON object. orjson parses it; bodies with the ``NaN``/``Infinity``
    tokens it refuses are parsed again by the standard library, with the same limits."""
    if not body.strip():
        raise InvalidArgument("JSON Parse error: The document is empty")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if b"NaN" not in body and b"Infinity" not in body:
            raise InvalidArgument(f"JSON Parse error: {error}") from None
        document = _loads_with_tokens(body)
    if not isinstance(document, dict):
        raise InvalidArgument(f"JSON Value: {_debug(document)} Is not object")
    return document


def _loads_with_tokens(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=_finite_float, parse_int=_json_int)
    except RecursionError:
        raise InvalidArgument("JSON Parse error: the document is nested too deeply") from None
    except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError too
        raise InvalidArgument(f"JSON Parse error: {error}") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is too big to be stored in double")
    return value


def _json_int(text: str) -> int | float:
    value = int(text)
    # As orjson (and rapidjson) do: an integer beyond 64 bits is a double.
    return value if _INT64_MIN <= value <= _UINT64_MAX else _finite_float(text)


def signature_name(document: Mapping[str, Any]) -> str | None:
    name = document.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise InvalidArgument(
            f"JSON Value: {_debug(document)} not formatted correctly. 'signature_name' key "
            "must be a string value."
        )
    return name


# ---------------------------------------------------------------- predict requests


def predict_inputs(
    document: Mapping[str, Any], inputs: Mapping[str, TensorSpec], has_bools: bool
) -> tuple[Tensors, RequestFormat]:
    """The input tensors of a predict request, and its format (which the response follows).

    ``has_bools`` says whether the body contains ``true`` or ``false`` anywhere, so
    numeric tensors must be checked value by value.
    """
    instances = document.get("instances", _MISSING)
    columns = document.get("inputs", _MISSING)
    if instances is not _MISSING and columns is not _MISSING:
        raise InvalidArgument(
            f"JSON Value: {_debug(document)} Not formatted correctly expecting only one of "
            "'inputs' or 'instances' keys to exist"
        )
    if instances is not _MISSING:
        if not isinstance(instances, list):
            raise InvalidArgument(
                f"JSON Value: {_debug(document)} Expecting 'instances' to be an list/array"
            )
        if not instances:
            raise InvalidArgument(f"JSON Value: {_debug(document)} No values in 'instances' array")
        return _from_instances(instances, inputs, has_bools), RequestFormat.ROW
    if columns is not _MISSING:
        return _from_columns(columns, inputs, has_bools), RequestFormat.COLUMNAR
    raise InvalidArgument("Missing 'inputs' or 'instances' key")


def _from_instances(
    instances: list[Any], inputs: Mapping[str, TensorSpec], has_bools: bool
) -> Tensors:
    named = _is_named(instances[0])
    if not named and len(inputs) != 1:
        raise InvalidArgument(
            "instances is a plain list, but expecting list of objects as multiple input "
            f"tensors required as per tensorinfo_map (inputs: {', '.join(inputs)})"
        )
    if not named:
        for position, item in enumerate(instances):
            if _is_named(item):
                raise InvalidArgument(
                    f"Expecting value/list but got object at item {position} of input list"
                )
        (name,) = inputs
        return {name: _stacked(instances, name, inputs[name], has_bools)}
    expected = set(inputs)
    for position, item in enumerate(instances):
        if not _is_named(item):
            raise InvalidArgument(f"Expecting object but got list at item {position} of input list")
        if set(item) != expected:
            unknown = sorted(set(item) - expected)
            if unknown:
                raise InvalidArgument(
                    f"Failed to process element: {position} key: {unknown[0]} of 'instances' "
                    f"list. Error: JSON object: does not have named input: {unknown[0]}"
                )
            raise InvalidArgument(
                f"Failed to process element: {position} of 'instances' list. JSON object: "
                f"{_debug(item)} keys must be equal to: {','.join(sorted(expected))}"
            )
    return {
        name: _stacked([item[name] for item in instances], name, spec, has_bools)
        for name, spec in inputs.items()
    }


def _from_columns(value: Any, inputs: Mapping[str, TensorSpec], has_bools: bool) -> Tensors:
    if not _is_named(value):
        if len(inputs) != 1:
            raise InvalidArgument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                f"tensors required as per tensorinfo_map (inputs: {', '.join(inputs)})"
            )
        (name,) = inputs
        return {name: tensor(value, inputs[name], has_bools)}
    tensors = {}
    for name, spec in inputs.items():
        if name not in value:
            raise InvalidArgument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = tensor(value[name], spec, has_bools)
    return tensors


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and not _is_b64(value)


def _stacked(values: list[Any], name: str, spec: TensorSpec, has_bools: bool) -> NDArray[Any]:
    """The instances' values of one input, stacked along a new first dimension."""
    try:
        return tensor(values, spec, has_bools)
    except InvalidArgument as error:
        # Say which instance differs from the first, as TF Serving does.
        first_shape, first_size = _dense_shape(values[0]), _leaf_count(values[0])
        for position, value in enumerate(values[1:], 1):
            shape, size = _dense_shape(value), _leaf_count(value)
            if size != first_size:
                raise InvalidArgument(
                    f"Failed to process element: {position} key: {name} of 'instances' list. "
                    f"Error: Expecting tensor size: {first_size} but got: {size}"
                ) from None
            if shape != first_shape:
                raise InvalidArgument(
                    f"Failed to process element: {position} key: {name} of 'instances' list. "
                    f"Error: Expecting shape {_shape_text(first_shape)} but got: "
                    f"{_shape_text(shape)}"
                ) from None
        raise error from None


def tensor(value: Any, spec: TensorSpec, has_bools: bool) -> NDArray[Any]:
    """One JSON value (a scalar or nested lists) as a tensor of the spec's dtype."""
    if spec.is_string:
        return _string_tensor(value)
    kind = spec.dtype.kind
    if kind == "c":
        raise InvalidArgument(
            f"Conversion of JSON Value: {_debug(value)} to type: {spec.tf_dtype} is not supported"
        )
    try:
        array = np.array(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        array = None
    if array is None or array.dtype.kind not in "biuf" or array.ndim > _MAX_RANK:
        raise _explain(value, spec)
    if has_bools and kind != "b" and array.dtype.kind != "b":
        # numpy turned a bool mixed with numbers into 0 or 1; TF Serving refuses it.
        _check_leaves(value, spec)
    source = array.dtype.kind
    if kind == "b":
        if source != "b":
            raise _explain(value, spec)
        return array
    if source == "b" or (kind in "iu" and source == "f"):
        raise _explain(value, spec)
    if kind in "iu":
        limits = np.iinfo(spec.dtype)
        if array.size and (int(array.min()) < limits.min or int(array.max()) > limits.max):
            raise InvalidArgument(
                f"JSON Value: {_debug(value)} holds a value outside the range of "
                f"{spec.tf_dtype} ([{limits.min}, {limits.max}])"
            )
    if array.dtype == spec.dtype:
        return array
    if kind == "f" and (array.dtype.itemsize > spec.dtype.itemsize or spec.dtype.itemsize < 4):
        # Numbers beyond a float32's range become +-inf and tiny ones 0, as in TF Serving.
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return array.astype(spec.dtype)
    return array.astype(spec.dtype)


def _explain(value: Any, spec: TensorSpec) -> InvalidArgument:
    """The first thing wrong with a value that numpy could not make a tensor of."""
    try:
        _check_dense(value, _dense_shape(value), 0, spec)
        _check_leaves(value, spec)
    except InvalidArgument as error:
        return error
    except RecursionError:
        return InvalidArgument("JSON value is nested too deeply")
    return InvalidArgument(f"JSON Value: {_debug(value)} cannot be a {spec.tf_dtype} tensor")


def _dense_shape(value: Any) -> list[int]:
    """The shape the value's first elements describe (TF Serving's GetDenseTensorShape)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if len(shape) > _MAX_RANK:
            raise InvalidArgument(f"JSON value has more than {_MAX_RANK} dimensions")
        if not value:
            break
        value = value[0]
    return shape


def _leaf_count(value: Any) -> int:
    if isinstance(value, list):
        return sum(_leaf_count(item) for item in value)
    return 1


def _check_dense(value: Any, shape: Sequence[int], level: int, spec: TensorSpec) -> None:
    """Raise TF Serving's error if nested lists do not form a dense tensor of ``shape``."""
    if not isinstance(value, list):
        if level != len(shape):
            raise InvalidArgument(
                f"JSON Value: {_debug(value)} found at incorrect level: {level + 1} in the "
                f"JSON DOM. Expected at level: {len(shape)}"
            )
        return
    if level >= len(shape):
        raise InvalidArgument(
            f"Encountered list at unexpected level: {level} expected < {len(shape)}"
        )
    if len(value) != shape[level]:
        raise InvalidArgument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} expected "
            f"size: {shape[level]}"
        )
    for item in value:
        _check_dense(item, shape, level + 1, spec)


def _check_leaves(value: Any, spec: TensorSpec) -> None:
    """Raise TF Serving's type error at the first value that is not of the spec's JSON type."""
    stack = [value]
    kind = spec.dtype.kind
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if isinstance(item, bool):
            valid = kind == "b"
        elif isinstance(item, int):
            valid = kind in "iuf"
        elif isinstance(item, float):
            valid = kind == "f"
        else:
            valid = False
        if not valid:
            raise InvalidArgument(
                f"JSON Value: {_debug(item)} Type: {_json_type(item)} is not of expected type: "
                f"{spec.dtype.name}"
            )


def _string_tensor(value: Any) -> NDArray[Any]:
    shape = _dense_shape(value)
    flat: list[bytes] = []

    def fill(item: Any, level: int) -> None:
        if isinstance(item, list):
            if level >= len(shape) or len(item) != shape[level]:
                _check_dense(item, shape, level, _STRING)
            for element in item:
                fill(element, level + 1)
            return
        if level != len(shape):
            _check_dense(item, shape, level, _STRING)
        if isinstance(item, str):
            flat.append(item.encode("utf-8", "surrogatepass"))
        elif _is_b64(item):
            flat.append(decode_b64(item))
        elif isinstance(item, dict):
            raise InvalidArgument(
                f"JSON Value: {_debug(item)} not formatted correctly for base64 data"
            )
        else:
            raise InvalidArgument(
                f"JSON Value: {_debug(item)} Type: {_json_type(item)} is not of expected type: "
                "string"
            )

    try:
        fill(value, 0)
    except RecursionError:
        raise InvalidArgument("JSON value is nested too deeply") from None
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array.reshape(shape)


_STRING = TensorSpec("", np.dtype(object), ())


def decode_b64(item: Mapping[str, str]) -> bytes:
    text = item["b64"]
    try:
        # Padding is optional in what clients send.
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"Unable to base64 decode {_debug(text)}") from None


# -------------------------------------------------------- classify/regress requests


def examples(document: Mapping[str, Any]) -> tuple[list[dict[str, Feature]], dict[str, Feature]]:
    """The request's examples and its context, each a map of feature name to typed values."""
    context: dict[str, Feature] = {}
    if "context" in document:
        context = _example(document["context"])
    items = document.get("examples", _MISSING)
    if items is _MISSING:
        raise InvalidArgument(
            f"JSON Value: {_debug(document)} When method is classify, key 'examples' is "
            "expected and was not found"
        )
    if not isinstance(items, list):
        raise InvalidArgument(
            f"JSON Value: {_debug(document)} Expecting 'examples' value to be an list/array"
        )
    if not items:
        raise InvalidArgument(f"JSON Value: {_debug(document)} 'examples' value is an empty array")
    return [_example(item) for item in items], context


def _example(value: Any) -> dict[str, Feature]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"Example must be JSON object but got JSON {_json_type(value)}")
    features = {}
    for name, content in value.items():
        kind = ""
        values: list[Any] = []
        for element in content if isinstance(content, list) else [content]:
            item_kind, item = _feature_value(name, element)
            if kind and item_kind != kind:
                raise InvalidArgument(
                    f"Unexpected element type in feature: {name} expecting type: {kind}"
                )
            kind = item_kind
            values.append(item)
        features[name] = (kind, values)
    return features


def _feature_value(name: str, item: Any) -> tuple[str, Any]:
    if isinstance(item, bool):
        return "int64", int(item)
    if isinstance(item, int):
        if item > _INT64_MAX or item < _INT64_MIN:
            raise InvalidArgument(
                f"Feature: {name} has uint64_t element. Only int64_t is supported."
            )
        return "int64", item
    if isinstance(item, float):
        return "float", item
    if isinstance(item, str):
        return "bytes", item.encode("utf-8", "surrogatepass")
    if _is_b64(item):
        return "bytes", decode_b64(item)
    raise InvalidArgument(
        f"Feature: {name} has element with unexpected JSON type: {_json_type(item)}"
    )


def example_inputs(
    items: list[dict[str, Feature]],
    context: Mapping[str, Feature],
    inputs: Mapping[str, TensorSpec],
) -> Tensors:
    """Each input of the signature from the feature of the same name, one row per example."""
    for position, item in enumerate(items):
        shared = sorted(set(item) & set(context))
        if shared:
            raise InvalidArgument(
                f"feature {shared[0]!r} is in both the context and example {position}: features "
                "in the context must not appear in examples"
            )
    return {name: _feature_tensor(name, items, context, spec) for name, spec in inputs.items()}


def _feature_tensor(
    name: str, items: list[dict[str, Feature]], context: Mapping[str, Feature], spec: TensorSpec
) -> NDArray[Any]:
    rows: list[list[Any]] = []
    for position, item in enumerate(items):
        feature = context.get(name) or item.get(name)
        if feature is None:
            raise InvalidArgument(
                f"example {position} has no feature {name!r}, an input of the signature"
            )
        kind, values = feature
        allowed = {
            "bytes": spec.is_string,
            "float": spec.dtype.kind == "f",
            "int64": spec.dtype.kind in "iuf" or (spec.dtype.kind == "b" and set(values) <= {0, 1}),
        }
        if values and not allowed[kind]:
            raise InvalidArgument(
                f"feature {name!r} of example {position} holds {kind} values, but input "
                f"{name!r} is {spec.tf_dtype}"
            )
        if rows and len(values) != len(rows[0]):
            raise InvalidArgument(
                f"feature {name!r} has {len(rows[0])} values in example 0 but {len(values)} in "
                f"example {position}"
            )
        rows.append(values)
    if spec.is_string:
        stacked = np.empty((len(rows), len(rows[0])), dtype=object)
        stacked[...] = rows
    elif spec.dtype.kind == "b":
        stacked = np.array(rows, dtype=bool).reshape(len(rows), -1)
    else:
        stacked = tensor(rows, spec, False).reshape(len(rows), -1)
    return stacked.reshape(_example_shape(name, spec, len(items), stacked.shape[1]))


def _example_shape(name: str, spec: TensorSpec, batch: int, count: int) -> tuple[int, ...]:
    """The input's shape for ``batch`` examples of ``count`` values each."""
    inner = list(spec.shape[1:])
    known = math.prod(d for d in inner if d != -1)
    free = [i for i, d in enumerate(inner) if d == -1]
    if len(free) == 1 and known and count % known == 0:
        inner[free[0]] = count // known
    if len(free) > 1 or math.prod(inner) != count:
        raise InvalidArgument(
            f"feature {name!r} has {count} values per example, which do not fit input "
            f"{name!r} of shape {list(spec.shape)}"
        )
    return (batch, *inner)


# ---------------------------------------------------------------------- responses


def dumps(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def predict_response(outputs: Mapping[str, NDArray[Any]], fmt: RequestFormat) -> bytes:
    if not outputs:
        raise InvalidArgument("Cannot convert empty tensor map to JSON")
    single = len(outputs) == 1
    if fmt is RequestFormat.COLUMNAR:
        values = {name: jsonable(value, _is_bytes(name)) for name, value in outputs.items()}
        return dumps({"outputs": next(iter(values.values())) if single else values})
    batch = -1
    for name, value in outputs.items():
        if value.ndim == 0:
            raise InvalidArgument(f"Tensor name: {name} has no shape information ")
        if batch >= 0 and value.shape[0] != batch:
            raise InvalidArgument(
                f"Tensor name: {name} has inconsistent batch size: {value.shape[0]} "
                f"expecting: {batch}"
            )
        batch = value.shape[0]
    if single:
        ((name, value),) = outputs.items()
        return dumps({"predictions": jsonable(value, _is_bytes(name))})
    rows = {name: jsonable(value, _is_bytes(name)) for name, value in outputs.items()}
    return dumps({"predictions": [{name: rows[name][i] for name in rows} for i in range(batch)]})


def _is_bytes(name: str) -> bool:
    return name.endswith("_bytes")


def jsonable(value: NDArray[Any], as_b64: bool = False) -> Any:
    """What orjson writes as the tensor's nested lists: the array itself where it can,
    per-element values for strings and non-finite floats."""
    kind = value.dtype.kind
    if kind in "OSU":
        return _nested(value, lambda item: _string_value(item, as_b64))
    if kind == "c":
        raise InvalidArgument(f"Failed to write JSON value for tensor type: {value.dtype.name}")
    if value.ndim == 0:
        item = value[()]
        return _float_value(item) if kind == "f" and not math.isfinite(item) else item
    if kind == "f" and not np.isfinite(value).all():
        return _nested(value, _float_value)
    if not value.dtype.isnative:
        value = value.astype(value.dtype.newbyteorder("="))
    return value if value.flags.c_contiguous else np.ascontiguousarray(value)


def _nested(value: NDArray[Any], leaf: Callable[[Any], Any]) -> Any:
    if value.ndim == 0:
        return leaf(value[()])
    if value.ndim == 1:
        return [leaf(item) for item in value]
    return [_nested(item, leaf) for item in value]


def _float_value(item: Any) -> Any:
    if math.isnan(item):
        return orjson.Fragment(b"NaN")
    token = _NON_FINITE.get(float(item))
    return orjson.Fragment(token) if token else item


def _string_value(item: Any, as_b64: bool) -> Any:
    data = item if isinstance(item, bytes) else str(item).encode()
    if not as_b64:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass  # not text: the only faithful JSON for it is base64
    return {"b64": base64.b64encode(data).decode("ascii")}


def classify_response(
    scores: NDArray[Any] | None, classes: NDArray[Any] | None, batch: int
) -> bytes:
    """``{"results": [[[label, score], ...] per example]}`` from the classify outputs."""
    for name, value in (("scores", scores), ("classes", classes)):
        if value is not None and (value.ndim != 2 or value.shape[0] != batch):
            raise InvalidArgument(
                f"output {name!r} has shape {list(value.shape)}: a classify signature must give "
                f"[batch_size, num_classes] for its {batch} examples"
            )
    if scores is not None and classes is not None and scores.shape != classes.shape:
        raise InvalidArgument(
            f"outputs 'classes' {list(classes.shape)} and 'scores' {list(scores.shape)} of a "
            "classify signature must have the same shape"
        )
    if scores is not None and scores.dtype.kind != "f":
        raise InvalidArgument(f"output 'scores' must be floats, not {scores.dtype.name}")
    count = (scores if scores is not None else classes).shape[1]  # type: ignore[union-attr]
    labels = [[""] * count] * batch if classes is None else _labels(classes)
    values = [[0.0] * count] * batch if scores is None else _nested(scores, _float_value)
    results = [
        [[label, score] for label, score in zip(label_row, score_row)]
        for label_row, score_row in zip(labels, values)
    ]
    if not results:
        raise InvalidArgument("Cannot convert empty ClassificationResults to JSON")
    return dumps({"results": results})


def _labels(classes: NDArray[Any]) -> list[list[str]]:
    if classes.dtype.kind in "OSU":
        return [
            [
                item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
                for item in row
            ]
            for row in classes
        ]
    if classes.dtype.kind in "iu":
        return [[str(int(item)) for item in row] for row in classes]
    raise InvalidArgument(f"output 'classes' must be strings, not {classes.dtype.name}")


def regress_response(outputs: NDArray[Any], batch: int) -> bytes:
    if outputs.dtype.kind != "f":
        raise InvalidArgument(
            f"output 'outputs' of a regress signature must be floats, not {outputs.dtype.name}"
        )
    if outputs.shape not in ((batch,), (batch, 1)):
        raise InvalidArgument(
            f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            f"{list(outputs.shape)}"
        )
    if not batch:
        raise InvalidArgument("Cannot convert empty RegressionResults to JSON")
    return dumps({"results": jsonable(outputs.reshape(batch))})


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


# ------------------------------------------------------------------------ helpers


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    return "String" if isinstance(value, str) else "Value"


def _debug(value: Any) -> str:
    """A JSON value for a message, cut as TF Serving cuts it."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return "<a value nested too deeply to show>"
    return text if len(text) <= _DEBUG_CHARS else text[:_DEBUG_CHARS] + "..."


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(map(str, shape)) + "]"
