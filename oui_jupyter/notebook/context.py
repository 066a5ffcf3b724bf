"""Context for prompts: compact descriptions of variables (``--with``) and the last exception
(``%oui explain``). Duck-typed: nothing here imports pandas or numpy.
"""

from __future__ import annotations

import reprlib
import sys
import traceback
from typing import Any

MAX_REPR = 600
HEAD_ROWS = 5
MAX_COLUMNS = 40
MAX_TRACEBACK = 4000


def _short(text: str, limit: int = MAX_REPR) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 15] + " ... (truncated)"


def _is_dataframe(value: Any) -> bool:
    return all(
        hasattr(value, a) for a in ("dtypes", "shape", "head", "columns")
    ) and not isinstance(value, type)


def _is_series(value: Any) -> bool:
    return all(
        hasattr(value, a) for a in ("dtype", "shape", "head", "index", "name")
    ) and not hasattr(value, "columns")


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "ndim")


def describe_dataframe(name: str, df: Any) -> str:
    rows, cols = df.shape
    lines = [f"`{name}` is a {type(df).__name__} with {rows} rows and {cols} columns."]
    lines.append("Columns (name: dtype, non-null count):")
    columns = list(df.columns)
    for column in columns[:MAX_COLUMNS]:
        series = df[column]
        try:
            non_null = int(series.notna().sum())
            lines.append(f"- {column}: {series.dtype}, {non_null} non-null")
        except Exception:
            lines.append(f"- {column}: {series.dtype}")
    if len(columns) > MAX_COLUMNS:
        lines.append(f"- ... and {len(columns) - MAX_COLUMNS} more columns")
    try:
        head = df.head(HEAD_ROWS).to_string(max_cols=MAX_COLUMNS, max_colwidth=40)
    except Exception:
        head = repr(df.head(HEAD_ROWS))
    lines.append(f"First {min(rows, HEAD_ROWS)} rows:\n```\n{_short(head, 2000)}\n```")
    return "\n".join(lines)


def describe(name: str, value: Any) -> str:
    """A compact, prompt-sized description of a variable."""
    if _is_dataframe(value):
        return describe_dataframe(name, value)
    if _is_series(value):
        head = _short(repr(value.head(HEAD_ROWS)), 800)
        return (
            f"`{name}` is a {type(value).__name__} named {value.name!r} of length {value.shape[0]}, "
            f"dtype {value.dtype}. First values:\n```\n{head}\n```"
        )
    if _is_array(value):
        shape = tuple(value.shape)
        sample = _short(repr(value), 400)
        return f"`{name}` is a {type(value).__name__} with shape {shape} and dtype {value.dtype}.\n```\n{sample}\n```"
    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlist, short.maxdict = 300, 300, 12, 12
    kind = type(value).__name__
    size = (
        f" of length {len(value)}"
        if isinstance(value, (list, tuple, dict, set, str, bytes))
        else ""
    )
    return f"`{name}` is a {kind}{size}: `{_short(short.repr(value))}`"


def with_context(prompt: str, described: list[str]) -> str:
    if not described:
        return prompt
    return "Context from my notebook:\n\n" + "\n\n".join(described) + "\n\n" + prompt


def last_exception() -> tuple[BaseException, str] | None:
    """The last uncaught exception of the interactive session, with its traceback text."""
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if error is None:
        return None
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = "".join(lines)
    if len(text) > MAX_TRACEBACK:
        text = "...\n" + text[-MAX_TRACEBACK:]
    return error, text


def explain_prompt(error_text: str, code: str | None = None, question: str = "") -> str:
    parts = ["My notebook cell raised this exception. Explain the cause and how to fix it."]
    if question:
        parts.append(question)
    if code:
        parts.append(f"The cell:\n```python\n{_short(code, 3000)}\n```")
    parts.append(f"The traceback:\n```\n{error_text}\n```")
    return "\n\n".join(parts)
