"""JSON request bodies decoded in pieces when they are large.

One ``msgspec`` decode of a 10 MB body holds the GIL for ~50-150 ms in a single C call: run
in a worker thread, it still stops the event loop for that long. A large body is decoded one
level at a time instead: the level's values are first only scanned (``msgspec.Raw``, ~1 ms a
MB), then each is decoded on its own, so the GIL changes hands between pieces. The result is
the same as one plain decode.
"""
from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

#: bodies (and pieces) up to this size are decoded in one call
PIECE_BYTES = 256 * 1024
#: levels split at most; below them a piece is decoded whole, whatever its size
MAX_SPLIT_DEPTH = 8

_plain = msgspec.json.Decoder()
_object_of_raw = msgspec.json.Decoder(dict[str, msgspec.Raw])
_array_of_raw = msgspec.json.Decoder(list[msgspec.Raw])


def _first_byte(data: bytes | memoryview | msgspec.Raw) -> bytes:
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
        return {key: _in_pieces(value, depth + 1) for key, value in _object_of_raw.decode(data).items()}
    if first == b"[":
        return [_in_pieces(value, depth + 1) for value in _array_of_raw.decode(data)]
    return _plain.decode(data)


def decode(body: bytes, schema: type[T]) -> T:
    """``msgspec.json.decode(body, type=schema)``, in pieces when ``body`` is large.
    Raises msgspec's ``DecodeError`` / ``ValidationError`` as that call does."""
    if len(body) <= PIECE_BYTES:
        return msgspec.json.decode(body, type=schema)
    value = _in_pieces(body, 0)
    if schema is Any:  # type: ignore[comparison-overlap]
        return value  # type: ignore[no-any-return]
    return msgspec.convert(value, type=schema)
