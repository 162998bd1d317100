"""A bounds-checked reader of FlatBuffers binary data, for verifying untrusted models.

Only what pysig's model verification needs: tables (through their vtables),
scalar fields, offsets to sub-tables, vectors and strings. Every read checks
that it lies inside the buffer and is aligned as the format requires, so a
hostile buffer raises :class:`FlatbufferError` instead of reading elsewhere.
"""

from __future__ import annotations

import struct

_SCALARS = {
    "b": struct.Struct("<b"),
    "B": struct.Struct("<B"),
    "h": struct.Struct("<h"),
    "H": struct.Struct("<H"),
    "i": struct.Struct("<i"),
    "I": struct.Struct("<I"),
    "q": struct.Struct("<q"),
    "Q": struct.Struct("<Q"),
    "f": struct.Struct("<f"),
}
_U16 = _SCALARS["H"]
_I32 = _SCALARS["i"]
_U32 = _SCALARS["I"]

# A vtable holds its own size and the table's size (2 bytes each), then one
# 2-byte entry per field; the format caps it there.
_VTABLE_HEADER = 4


class FlatbufferError(ValueError):
    """The buffer does not hold what the schema says should be at some place."""


class Buffer:
    """The whole flatbuffer, with bounds-checked reads of little-endian values."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def check_range(self, position: int, length: int, what: str) -> None:
        if position < 0 or length < 0 or position + length > self.size:
            raise FlatbufferError(
                f"{what} at byte {position} ({length} bytes) lies outside the "
                f"{self.size}-byte buffer"
            )

    def scalar(self, code: str, position: int, what: str) -> float:
        layout = _SCALARS[code]
        self.check_range(position, layout.size, what)
        if position % layout.size:
            raise FlatbufferError(f"{what} at byte {position} is misaligned")
        return layout.unpack_from(self.data, position)[0]  # type: ignore[no-any-return]

    def follow(self, position: int, what: str) -> int:
        """The absolute position an unsigned 32-bit offset stored at ``position`` points to."""
        target = position + int(self.scalar("I", position, what))
        if target >= self.size:
            raise FlatbufferError(f"{what} at byte {position} points past the buffer")
        return target

    def root(self, what: str) -> Table:
        return self.table(self.follow(0, what), what)

    def table(self, position: int, what: str) -> Table:
        vtable = position - int(self.scalar("i", position, what))
        if vtable % 2 or vtable < 0 or vtable + _VTABLE_HEADER > self.size:
            raise FlatbufferError(f"{what}: its vtable at byte {vtable} is invalid")
        vtable_size, object_size = struct.unpack_from("<HH", self.data, vtable)
        if vtable_size < _VTABLE_HEADER or vtable_size % 2 or vtable + vtable_size > self.size:
            raise FlatbufferError(f"{what}: its vtable at byte {vtable} has an invalid size")
        if object_size < 4:
            raise FlatbufferError(f"{what}: its table at byte {position} has an invalid size")
        self.check_range(position, object_size, what)
        return Table(self, position, vtable, vtable_size, object_size, what)


class Table:
    """One table: fields are found by slot, the field's order in the schema (from 0)."""

    __slots__ = ("buffer", "object_size", "position", "vtable", "vtable_size", "what")

    def __init__(
        self,
        buffer: Buffer,
        position: int,
        vtable: int,
        vtable_size: int,
        object_size: int,
        what: str,
    ) -> None:
        self.buffer = buffer
        self.position = position
        self.vtable = vtable
        self.vtable_size = vtable_size
        self.object_size = object_size
        self.what = what

    def field_position(self, slot: int, size: int) -> int:
        """The absolute position of a ``size``-byte field, or 0 when the table lacks it."""
        entry = _VTABLE_HEADER + 2 * slot
        if entry + 2 > self.vtable_size:
            return 0
        offset = int(_U16.unpack_from(self.buffer.data, self.vtable + entry)[0])
        if offset == 0:
            return 0
        if offset + size > self.object_size:
            raise FlatbufferError(f"{self.what}: field {slot} lies outside its table")
        return self.position + offset

    def scalar(self, slot: int, code: str, default: float = 0) -> float:
        position = self.field_position(slot, _SCALARS[code].size)
        if not position:
            return default
        return self.buffer.scalar(code, position, f"{self.what}, field {slot}")

    def _target(self, slot: int, name: str) -> int:
        position = self.field_position(slot, 4)
        if not position:
            return 0
        return self.buffer.follow(position, f"{self.what}.{name}")

    def table(self, slot: int, name: str) -> Table | None:
        target = self._target(slot, name)
        return self.buffer.table(target, f"{self.what}.{name}") if target else None

    def vector(self, slot: int, element_size: int, name: str) -> Vector | None:
        """The vector in this field; its elements are ``element_size`` bytes each."""
        target = self._target(slot, name)
        if not target:
            return None
        what = f"{self.what}.{name}"
        length = int(self.buffer.scalar("I", target, what))
        start = target + 4
        self.buffer.check_range(start, length * element_size, what)
        if element_size in (2, 4, 8) and start % element_size:
            raise FlatbufferError(f"{what}: its elements at byte {start} are misaligned")
        return Vector(self.buffer, start, length, element_size, what)

    def string(self, slot: int, name: str) -> bytes | None:
        """The string in this field (the runtime reads it up to its terminating NUL)."""
        vector = self.vector(slot, 1, name)
        if vector is None:
            return None
        end = vector.start + vector.length
        if end >= self.buffer.size or self.buffer.data[end] != 0:
            raise FlatbufferError(f"{vector.what} is not NUL-terminated")
        return self.buffer.data[vector.start : end]


class Vector:
    """A vector's elements, already known to lie inside the buffer."""

    __slots__ = ("buffer", "element_size", "length", "start", "what")

    def __init__(self, buffer: Buffer, start: int, length: int, element_size: int, what: str):
        self.buffer = buffer
        self.start = start
        self.length = length
        self.element_size = element_size
        self.what = what

    def __len__(self) -> int:
        return self.length

    def scalars(self, code: str) -> tuple[int, ...]:
        """Every element as a scalar of ``code`` (one unpack for the whole vector)."""
        return struct.unpack_from(f"<{self.length}{code}", self.buffer.data, self.start)

    def table(self, index: int) -> Table:
        """Element ``index`` of a vector of tables."""
        what = f"{self.what}[{index}]"
        return self.buffer.table(self.buffer.follow(self.start + 4 * index, what), what)
