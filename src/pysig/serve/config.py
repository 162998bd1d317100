"""TF Serving's text-format config files: ``--model_config_file`` and ``--batching_parameters_file``.

The files are protocol buffer text format. The messages are declared here in
protobuf's own descriptor form (field names and numbers as TF Serving documents
them; only the fields pysig serve uses or accepts), and protobuf's ``text_format``
parses them, so syntax errors come with a line and column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

_PACKAGE = "pysig.serve"
_FIELD = descriptor_pb2.FieldDescriptorProto


class ConfigError(ValueError):
    """A config file or flag that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class VersionPolicy:
    """Which version folders to serve: the newest ``latest`` ones, ``all``, or ``specific``."""

    kind: str = "latest"  # "latest", "all" or "specific"
    latest: int = 1
    specific: tuple[int, ...] = ()

    def choose(self, available: list[int]) -> list[int]:
        if self.kind == "all":
            return sorted(available)
        if self.kind == "specific":
            return sorted(set(self.specific) & set(available))
        return sorted(available)[-self.latest :]


@dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str
    policy: VersionPolicy = VersionPolicy()
    labels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchingParameters:
    """TF Serving's BatchingParameters, with pysig serve's defaults for unset fields."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 64
    num_batch_threads: int | None = None  # None: the model's pool size
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def padded_size(self, rows: int) -> int:
        """The batch size to run ``rows`` rows as: the next allowed size, if any are set."""
        for size in self.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows


def _field(
    name: str, number: int, kind: int, type_name: str = "", repeated: bool = False
) -> descriptor_pb2.FieldDescriptorProto:
    proto = _FIELD(
        name=name,
        number=number,
        type=cast(Any, kind),  # an enum value; protobuf's stubs, where installed, say so
        label=_FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL,
    )
    if type_name:
        proto.type_name = type_name
    return proto


def _message(name: str, *fields: descriptor_pb2.FieldDescriptorProto) -> Any:
    return descriptor_pb2.DescriptorProto(name=name, field=list(fields))


def _declarations() -> descriptor_pb2.FileDescriptorProto:
    message, string, int64, uint32, boolean = (
        _FIELD.TYPE_MESSAGE,
        _FIELD.TYPE_STRING,
        _FIELD.TYPE_INT64,
        _FIELD.TYPE_UINT32,
        _FIELD.TYPE_BOOL,
    )
    own = f".{_PACKAGE}."
    int64_value, bool_value, string_value = (
        ".google.protobuf.Int64Value",
        ".google.protobuf.BoolValue",
        ".google.protobuf.StringValue",
    )
    batching = _message(
        "BatchingParameters",
        _field("max_batch_size", 1, message, int64_value),
        _field("batch_timeout_micros", 2, message, int64_value),
        _field("max_enqueued_batches", 3, message, int64_value),
        _field("num_batch_threads", 4, message, int64_value),
        _field("thread_pool_name", 5, message, string_value),
        _field("allowed_batch_sizes", 6, int64, repeated=True),
        _field("pad_variable_length_inputs", 7, boolean),
        _field("enable_large_batch_splitting", 8, message, bool_value),
        _field("max_execution_batch_size", 9, message, int64_value),
    )
    policy = _message(
        "ServableVersionPolicy",
        _field("latest", 100, message, own + "ServableVersionPolicy.Latest"),
        _field("all", 101, message, own + "ServableVersionPolicy.All"),
        _field("specific", 102, message, own + "ServableVersionPolicy.Specific"),
    )
    for choice in policy.field:
        choice.oneof_index = 0
    policy.oneof_decl.add(name="policy_choice")
    policy.nested_type.extend(
        [
            _message("Latest", _field("num_versions", 1, uint32)),
            _message("All"),
            _message("Specific", _field("versions", 1, int64, repeated=True)),
        ]
    )
    labels_entry = _message(
        "VersionLabelsEntry", _field("key", 1, string), _field("value", 2, int64)
    )
    labels_entry.options.map_entry = True
    model = _message(
        "ModelConfig",
        _field("name", 1, string),
        _field("base_path", 2, string),
        _field("model_platform", 4, string),
        _field("model_version_policy", 7, message, own + "ServableVersionPolicy"),
        _field("version_labels", 8, message, own + "ModelConfig.VersionLabelsEntry", True),
    )
    model.nested_type.append(labels_entry)
    config_list = _message(
        "ModelConfigList", _field("config", 1, message, own + "ModelConfig", True)
    )
    server = _message(
        "ModelServerConfig", _field("model_config_list", 1, message, own + "ModelConfigList")
    )
    return descriptor_pb2.FileDescriptorProto(
        name="pysig/serve/config.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
        message_type=[batching, policy, model, config_list, server],
    )


def _message_classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(wrappers_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(_declarations())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("BatchingParameters", "ModelServerConfig")
    }


_CLASSES = _message_classes()


def _parse(path: str, message_name: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path!r}: {error}") from None
    message = _CLASSES[message_name]()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        raise ConfigError(f"{path!r} is not a valid {message_name}: {error}") from None
    return message


def read_batching_parameters(path: str | None) -> BatchingParameters:
    """The file's parameters, checked as TF Serving checks them; defaults without a file."""
    if path is None:
        return BatchingParameters()
    proto = _parse(path, "BatchingParameters")
    defaults = BatchingParameters()

    def value(name: str, default: int | None) -> int | None:
        if proto.HasField(name):
            return int(getattr(proto, name).value)
        return default

    params = BatchingParameters(
        max_batch_size=value("max_batch_size", defaults.max_batch_size) or 0,
        batch_timeout_micros=value("batch_timeout_micros", defaults.batch_timeout_micros) or 0,
        max_enqueued_batches=value("max_enqueued_batches", defaults.max_enqueued_batches) or 0,
        num_batch_threads=value("num_batch_threads", None),
        allowed_batch_sizes=tuple(int(size) for size in proto.allowed_batch_sizes),
        pad_variable_length_inputs=bool(proto.pad_variable_length_inputs),
    )
    problems = []
    if params.max_batch_size < 1:
        problems.append("max_batch_size must be at least 1")
    if params.batch_timeout_micros < 0:
        problems.append("batch_timeout_micros must not be negative")
    if params.max_enqueued_batches < 1:
        problems.append("max_enqueued_batches must be at least 1")
    if params.num_batch_threads is not None and params.num_batch_threads < 1:
        problems.append("num_batch_threads must be at least 1")
    sizes = params.allowed_batch_sizes
    if sizes:
        if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] < 1:
            problems.append("allowed_batch_sizes must be positive and increasing")
        if sizes[-1] != params.max_batch_size:
            problems.append(
                f"the last of allowed_batch_sizes ({sizes[-1]}) must equal max_batch_size "
                f"({params.max_batch_size})"
            )
    if problems:
        raise ConfigError(f"{path!r}: {'; '.join(problems)}")
    return params


def read_model_config_file(path: str) -> list[ModelConfig]:
    """The models of a ModelServerConfig file with a ``model_config_list``."""
    proto = _parse(path, "ModelServerConfig")
    if not proto.HasField("model_config_list") or not proto.model_config_list.config:
        raise ConfigError(f"{path!r} has no model_config_list with a config in it")
    models = []
    base = os.path.dirname(os.path.abspath(path))
    for entry in proto.model_config_list.config:
        if not entry.name or not entry.base_path:
            raise ConfigError(f"{path!r}: every config needs a name and a base_path")
        if entry.model_platform not in ("", "tensorflow", "tflite"):
            raise ConfigError(
                f"{path!r}: model {entry.name!r} has model_platform {entry.model_platform!r}; "
                "pysig serve serves TensorFlow Lite models ('tensorflow' or 'tflite')"
            )
        models.append(
            ModelConfig(
                name=entry.name,
                # Relative base paths are taken from the config file's folder.
                base_path=os.path.join(base, entry.base_path),
                policy=_policy(entry.model_version_policy, path, entry.name),
                labels=dict(entry.version_labels),
            )
        )
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path!r}: model names must be unique, repeated: {duplicates}")
    return models


def _policy(proto: Any, path: str, name: str) -> VersionPolicy:
    choice = proto.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy(kind="all")
    if choice == "specific":
        if not proto.specific.versions:
            raise ConfigError(f"{path!r}: model {name!r} has a specific policy with no versions")
        return VersionPolicy(kind="specific", specific=tuple(proto.specific.versions))
    if choice == "latest" and proto.latest.num_versions > 0:
        return VersionPolicy(kind="latest", latest=int(proto.latest.num_versions))
    return VersionPolicy()
