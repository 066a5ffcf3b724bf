"""Keep one-off loads out of the garbage collector's sight.

What the server loads once and keeps (Jupyter's modules at start; SQLAlchemy, ``openai``,
aiohttp, DuckDB and numpy at first use) is never garbage, yet every full collection walks it
again: 50-80 ms pauses of the event loop, i.e. of every stream, with 200 answers streaming
(``benchmarks/chat_concurrency.py``). Freezing moves it to the permanent generation.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


def freeze_long_lived(collect: bool = True) -> None:
    """Freeze everything allocated so far; ``collect`` first frees what is already garbage
    (one collection now, from a thread where possible, instead of one every few seconds)."""
    if collect:
        gc.collect()
    gc.freeze()


# ----- no collections during bulk work -----
#: a pause longer than this lets collections run again, whoever still holds it
MAX_PAUSE_SECONDS = 30.0

_pause_lock = threading.Lock()
_pause_holders = 0
_pause_since = 0.0
_pause_reenable = False


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection while this block runs (in any thread).

    Work on a whole chat (decode, parse, build, encode) makes hundreds of thousands of
    short-lived objects, freed by reference counting, not cycles; the collections they set off
    walk them all (100-400 ms with the GIL held, i.e. with the event loop stopped). Nested and
    concurrent holders share one pause; it ends with the last of them, or after
    ``MAX_PAUSE_SECONDS`` however many still hold it.
    """
    global _pause_holders, _pause_since, _pause_reenable
    with _pause_lock:
        if _pause_holders == 0:
            _pause_reenable = gc.isenabled()
            _pause_since = time.monotonic()
            gc.disable()
        elif _pause_reenable and time.monotonic() - _pause_since > MAX_PAUSE_SECONDS:
            gc.enable()
        _pause_holders += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_holders -= 1
            if _pause_holders == 0 and _pause_reenable:
                gc.enable()


# ----- large structures dropped a piece at a time -----
#: a dict or list with more entries than this is emptied entry by entry by ``release``
RELEASE_BIG = 256
#: how deep ``release`` looks for large containers
RELEASE_DEPTH = 5


_SCALARS = (str, bytes, int, float, type(None))


def _parts(item: Any) -> Iterable[Any]:
    if isinstance(item, dict):
        return item.values()
    if isinstance(item, (list, tuple)):
        return item
    fields = getattr(item, "__struct_fields__", None)  # msgspec.Struct
    if fields is not None:
        return [getattr(item, name) for name in fields]
    state = getattr(item, "__dict__", None)  # dataclasses and other plain objects
    return state.values() if isinstance(state, dict) else ()


def release(value: Any) -> None:
    """Drop ``value`` a piece at a time; nothing may use it afterwards.

    The last reference to a whole chat's data (hundreds of thousands of objects) frees it all
    in one cascade of deallocations, 50-500 ms with the GIL held. Here each large dict or
    list in it (more than ``RELEASE_BIG`` entries, found through smaller containers up to
    ``RELEASE_DEPTH`` levels down) is emptied entry by entry, so the GIL changes hands
    between entries; an entry of a large container is a small part of the whole. Smaller
    containers are only looked into, never changed.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    del value
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict) and len(item) > RELEASE_BIG:
            while item:
                item.popitem()
        elif isinstance(item, list) and len(item) > RELEASE_BIG:
            while item:
                item.pop()
        elif depth < RELEASE_DEPTH:
            pending.extend(
                (part, depth + 1) for part in _parts(item) if not isinstance(part, _SCALARS)
            )
        del item
