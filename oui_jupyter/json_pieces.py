"""Large JSON bodies decoded and encoded in pieces.

One ``msgspec`` call on 10-30 MB of JSON holds the GIL for 40-150 ms: run in a worker
thread, it still stops the event loop for that long. A large body is decoded one level at a
time instead (the level's values are first only scanned, as ``msgspec.Raw``, ~1 ms a MB, then
each is decoded on its own), and a large answer is encoded a few thousand entries at a time,
so the GIL changes hands between pieces. The bytes and values are those of one plain call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

#: bodies (and pieces) up to this size are decoded in one call
PIECE_BYTES = 256 * 1024
#: levels split at most; below them a piece is decoded whole, whatever its size
MAX_SPLIT_DEPTH = 8
#: a dict or list with more entries than this is encoded this many entries at a time
PIECE_ENTRIES = 2000
#: a body of fewer values than this is decoded in one call, whatever its size: a decode's
#: time grows with the values (a 1 MB image as a ``data:`` URL is one string, ~0.5 ms), and
#: each level split scans the whole piece again
FEW_VALUES = 4096

_plain = msgspec.json.Decoder()
_object_of_raw = msgspec.json.Decoder(dict[str, msgspec.Raw])
_array_of_raw = msgspec.json.Decoder(list[msgspec.Raw])
_encode = msgspec.json.Encoder().encode


def _first_byte(data: bytes | msgspec.Raw) -> bytes:
    view = memoryview(data)
    for i in range(min(len(view), 64)):
        byte = bytes(view[i : i + 1])
        if byte not in b" \t\r\n":
            return byte
    return b""


def _in_pieces(data: bytes | msgspec.Raw, depth: int) -> Any:
    if depth >= MAX_SPLIT_DEPTH or len(memoryview(data)) <= PIECE_BYTES:
        return _plain.decode(data)
    first = _first_byte(data)
    if first == b"{":
        return {
            key: _in_pieces(value, depth + 1) for key, value in _object_of_raw.decode(data).items()
        }
    if first == b"[":
        return [_in_pieces(value, depth + 1) for value in _array_of_raw.decode(data)]
    return _plain.decode(data)


def decode_value(data: bytes | msgspec.Raw) -> Any:
    """Plain JSON (no schema), in pieces when ``data`` is large."""
    return _in_pieces(data, 0)


def decode(body: bytes, schema: type[T]) -> T:
    """``msgspec.json.decode(body, type=schema)``, in pieces when ``body`` is large.
    Raises msgspec's ``DecodeError`` / ``ValidationError`` as that call does.

    A schema with ``scans_raw = True`` holds its large values as ``msgspec.Raw`` (only
    scanned, ~1 ms a MB) and decodes them later with ``decode_value``: it is decoded in one
    call, since a value decoded in pieces cannot be turned back into ``Raw``."""
    if (
        len(body) <= PIECE_BYTES
        or getattr(schema, "scans_raw", False)
        or body.count(b",") < FEW_VALUES  # a separator per value: the values are few
    ):
        return msgspec.json.decode(body, type=schema)
    value = _in_pieces(body, 0)
    if schema is Any:
        return value
    return msgspec.convert(value, type=schema)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), PIECE_ENTRIES):
        yield items[start : start + PIECE_ENTRIES]


def _big(value: Any, depth: int) -> Any:
    """``value`` with its large dicts and lists replaced by their encoded bytes (``Raw``)."""
    if depth >= MAX_SPLIT_DEPTH:
        return value
    if isinstance(value, dict):
        if len(value) > PIECE_ENTRIES:
            parts = [_encode(dict(chunk))[1:-1] for chunk in _chunks(list(value.items()))]
            return msgspec.Raw(b"{" + b",".join(parts) + b"}")
        return {k: _big(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > PIECE_ENTRIES:
            parts = [_encode(chunk)[1:-1] for chunk in _chunks(value)]
            return msgspec.Raw(b"[" + b",".join(parts) + b"]")
        return [_big(v, depth + 1) for v in value]
    if isinstance(value, msgspec.Struct):
        fields = {name: _big(getattr(value, name), depth + 1) for name in value.__struct_fields__}
        return msgspec.structs.replace(value, **fields)
    return value


def encode(value: Any) -> bytes:
    """``msgspec.json.encode(value)``, its large dicts and lists a piece at a time."""
    return _encode(_big(value, 0))
