"""Limits checked on raw JSON text: nesting depth (before decoding), NUL characters.

A body nested 1,000 deep is 2 KB; decoding it (and every recursive walk after that) would
exhaust Python's recursion limit, so the depth is measured on the bytes first, in a few
passes in C: escaped backslashes and quotes are dropped, then everything but quotes and
brackets; what is left is walked (in Python when short, else with numpy, which the
retrieval index has loaded anyway) counting the brackets outside strings.
"""

from __future__ import annotations

import re
from typing import Any

#: Deepest nesting of arrays and objects a request body or WebSocket frame may have.
#: Open WebUI's chat JSON is about 8 deep; 64 leaves room for tool schemas and params.
MAX_JSON_DEPTH = 64

_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_ESCAPED_QUOTE_OR_BACKSLASH = re.compile(rb'\\[\\"]')
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_PYTHON_LIMIT = 64 * 1024  # bytes of quotes and brackets walked in Python; numpy past this
_QUOTE, _OPENERS = 34, (91, 123)  # " [ {


def json_depth_exceeds(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the arrays/objects of ``raw`` (JSON text) nest deeper than ``limit``.

    Malformed text is measured as far as it goes (the decoder refuses it anyway)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot nest deeper than the brackets it has
    # Escaped backslashes and quotes go (left to right, as JSON reads them): the quotes
    # left open and close strings. A regular expression does it in one pass, at a cost per
    # match: past a budget of matches, two plain replaces finish the rest (what the regular
    # expression left has no lone backslash before a backslash or a quote).
    marks = raw
    if b"\\" in raw:
        budget = max(len(raw) // 256, 64)
        marks, matches = _ESCAPED_QUOTE_OR_BACKSLASH.subn(b"", raw, count=budget)
        if matches == budget:
            marks = marks.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = marks.translate(None, _NOT_QUOTES_OR_BRACKETS)
    if len(marks) <= _PYTHON_LIMIT:
        depth, inside = 0, False
        for byte in marks:
            if byte == _QUOTE:
                inside = not inside
            elif inside:
                continue
            elif byte in _OPENERS:
                depth += 1
                if depth > limit:
                    return True
            else:
                depth -= 1
        return False
    import numpy as np

    codes = np.frombuffer(marks, dtype=np.uint8)
    steps = _step_table(np).take(codes)
    quotes = codes == _QUOTE
    if quotes.any():
        steps *= (np.cumsum(quotes, dtype=np.int32) & 1) == 0  # brackets outside strings
    return bool(np.cumsum(steps, dtype=np.int32).max() > limit)


def _step_table(np: Any) -> Any:
    table = np.zeros(256, dtype=np.int8)
    table[[91, 123]] = 1  # [ {
    table[[93, 125]] = -1  # ] }
    return table


def has_escaped_nul(raw: bytes) -> bool:
    """Whether JSON text holds a NUL character (``\\u0000``, not an escaped backslash before
    ``u0000``): PostgreSQL cannot store one in text, so requests with one are refused."""
    return b"u0000" in raw and _ESCAPED_NUL.search(raw) is not None
