"""Re-serializing a model with new SignatureDefs, through the flatbuffers library and the
TFLite schema's generated Python module (its object API), and writing files atomically.

The generated module is not pysig's: LiteRT (ai-edge-litert) and TensorFlow each ship
one. Both are optional here, so they are imported only when a model is written.
"""

from __future__ import annotations

import importlib
import os
import secrets
from types import ModuleType
from typing import Any, Sequence

from ..errors import ModelWriteError
from . import schema

# Where the TFLite schema's generated module may be found, most current first.
_SCHEMA_MODULES = (
    "ai_edge_litert.schema_py_generated",
    "tensorflow.lite.python.schema_py_generated",
)
# The converter starts buffer data at 16-byte boundaries; kernels may read it in place.
_BUFFER_ALIGNMENT = 16
# Offsets above 1 locate data outside the flatbuffer, from the start of the file.
_EXTERNAL_OFFSET_MIN = 2
_FLATBUFFER_LIMIT = (1 << 31) - 1


def libraries() -> tuple[ModuleType, ModuleType]:
    """The flatbuffers package and the TFLite schema's generated module, or a clear error
    naming what to install."""
    try:
        flatbuffers = importlib.import_module("flatbuffers")
    except ImportError:
        raise ModelWriteError(
            "writing model files needs the flatbuffers package: pip install 'pysig[edit]'"
        ) from None
    for name in _SCHEMA_MODULES:
        try:
            return flatbuffers, importlib.import_module(name)
        except ImportError:
            continue
    raise ModelWriteError(
        "writing model files needs the TFLite schema module that ai-edge-litert (Python "
        "3.10+: pip install 'pysig[edit]') or tensorflow ships; neither is installed"
    )


def with_signatures(
    content: bytes, signatures: Sequence[tuple[str, int, list[Any], list[Any]]]
) -> bytes:
    """``content`` with its SignatureDefs replaced by ``signatures``: (key, subgraph index,
    inputs, outputs), each input and output a (name, tensor index). Everything else is
    carried over by the schema's object API."""
    flatbuffers, fb = libraries()
    model = fb.ModelT.InitFromPackedBuf(content, 0)
    # Fields set one by one: older generated modules' constructors take no arguments.
    model.signatureDefs = [
        _fill(
            fb.SignatureDefT(),
            inputs=[_tensor_map(fb, name, index) for name, index in inputs],
            outputs=[_tensor_map(fb, name, index) for name, index in outputs],
            signatureKey=key.encode("utf-8"),
            subgraphIndex=subgraph,
        )
        for key, subgraph, inputs, outputs in signatures
    ] or None
    aligned = _aligned_buffer_class(fb)
    model.buffers = [
        _fill(aligned(), data=b.data, offset=b.offset, size=b.size) for b in model.buffers or ()
    ]
    external = _external_data_start(model)
    # Room for the whole flatbuffer at once: growing the builder copies it each time.
    hint = (len(content) if external is None else external) + 4096
    if external is None:
        return _pack(flatbuffers, model, hint)
    # Data stored after the flatbuffer (models above 2 GiB) moves with its end: pack
    # once to learn the new size (offsets are fixed-size fields), then shift them.
    size = len(_pack(flatbuffers, model, hint))
    start = -(-size // _BUFFER_ALIGNMENT) * _BUFFER_ALIGNMENT
    _shift_external_offsets(model, start - external)
    packed = _pack(flatbuffers, model, hint)
    return packed + b"\0" * (start - len(packed)) + content[external:]


def _fill(table: Any, **fields: Any) -> Any:
    for name, value in fields.items():
        setattr(table, name, value)
    return table


def _tensor_map(fb: ModuleType, name: str, index: int) -> Any:
    return _fill(fb.TensorMapT(), name=name.encode("utf-8"), tensorIndex=index)


def _pack(flatbuffers: Any, model: Any, size_hint: int) -> bytes:
    try:
        builder = flatbuffers.Builder(min(size_hint, flatbuffers.Builder.MAX_BUFFER_SIZE))
        builder.Finish(model.Pack(builder), file_identifier=schema.FILE_IDENTIFIER)
    except flatbuffers.builder.BuilderSizeError as error:
        raise ModelWriteError(
            "the model's flatbuffer would exceed 2 GiB; store its weights outside the "
            f"flatbuffer (buffers with offset and size) to edit it ({error})"
        ) from None
    output = bytes(builder.Output())
    if len(output) > _FLATBUFFER_LIMIT:
        raise ModelWriteError("the model's flatbuffer would exceed 2 GiB")
    return output


_ALIGNED: dict[str, type[Any]] = {}


def _aligned_buffer_class(fb: ModuleType) -> type[Any]:
    """The module's BufferT, packing its data at 16-byte boundaries as the converter does."""
    aligned = _ALIGNED.get(fb.__name__)
    if aligned is None:

        class AlignedBufferT(fb.BufferT):  # type: ignore[misc, name-defined]
            def Pack(self, builder: Any) -> Any:
                if self.data is not None and len(self.data):
                    builder.Prep(_BUFFER_ALIGNMENT, len(self.data))
                return super().Pack(builder)

        aligned = _ALIGNED[fb.__name__] = AlignedBufferT
    return aligned


def _external_data_start(model: Any) -> int | None:
    offsets = [b.offset for b in model.buffers or () if b.offset >= _EXTERNAL_OFFSET_MIN]
    for subgraph in model.subgraphs or ():
        for op in subgraph.operators or ():
            if op.largeCustomOptionsOffset >= _EXTERNAL_OFFSET_MIN:
                offsets.append(op.largeCustomOptionsOffset)
    return min(offsets) if offsets else None


def _shift_external_offsets(model: Any, delta: int) -> None:
    for buffer in model.buffers or ():
        if buffer.offset >= _EXTERNAL_OFFSET_MIN:
            buffer.offset += delta
    for subgraph in model.subgraphs or ():
        for op in subgraph.operators or ():
            if op.largeCustomOptionsOffset >= _EXTERNAL_OFFSET_MIN:
                op.largeCustomOptionsOffset += delta


def write_atomically(path: str, content: bytes, mode_from: str | None = None) -> None:
    """Write ``content`` to ``path`` so that ``path`` is never half-written: a new file in
    the same folder, flushed to disk, then renamed over it. It gets the permissions of
    ``mode_from`` (the file it replaces), else those the umask gives a new file."""
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if mode_from is not None:
            os.chmod(temporary, os.stat(mode_from).st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
