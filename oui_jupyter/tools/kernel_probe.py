"""Code that runs inside the user's kernel (its source is sent, never this module imported
there): it reads the namespace and answers JSON, defining and changing nothing in it.

``probe(ns, request)`` answers ``{"variables": [...]}`` (``request["op"] == "list"``) or
``{"variable": {...}}`` (``"describe"``). Everything it reads is cut to small sizes; an
object whose attributes fail is described by its type only.
"""

from __future__ import annotations

import json
from typing import Any

#: names IPython puts into every namespace
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_SCALARS = (int, float, complex, bool, str, bytes, type(None))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _type_name(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module in ("builtins", "") else f"{module}.{name}"


def _shape(value: Any) -> list[int] | None:
    try:
        shape = value.shape
        if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
            return list(shape)
    except Exception:
        pass
    return None


def _summary(name: str, value: Any, repr_chars: int) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, "type": _type_name(value)}
    try:
        if isinstance(value, type):
            item["kind"] = "class"
        elif callable(value) and not hasattr(value, "shape"):
            item["kind"] = "function"
        shape = _shape(value)
        if shape is not None:
            item["shape"] = shape
            dtype = getattr(value, "dtype", None)
            if dtype is not None and not callable(dtype):
                item["dtype"] = str(dtype)
        elif isinstance(value, (list, tuple, dict, set, frozenset, str, bytes)):
            item["len"] = len(value)
        if isinstance(value, _SCALARS):
            item["value"] = _cut(repr(value), repr_chars)
    except Exception:
        pass
    return item


def _is_listed(name: str, value: Any) -> bool:
    import types

    if name.startswith("_") or name in _IPYTHON_NAMES:
        return False
    return not isinstance(value, types.ModuleType)


def _variables(ns: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    limit = int(request.get("limit", 200))
    names = sorted(n for n, v in list(ns.items()) if _is_listed(n, v))
    shown = names[:limit]
    return {
        "variables": [_summary(n, ns[n], 80) for n in shown],
        "total": len(names),
        "truncated": len(names) > limit,
    }


def _frame(value: Any, rows: int, chars: int) -> dict[str, Any]:
    """A pandas DataFrame: schema, nulls (when small), head."""
    info: dict[str, Any] = {"shape": list(value.shape)}
    columns = list(value.columns)[:100]
    info["columns"] = [{"name": str(c), "dtype": str(value[c].dtype)} for c in columns]
    info["columns_truncated"] = len(value.columns) > 100
    if value.size <= 10_000_000:
        nulls = value[columns].isna().sum()
        for col in info["columns"]:
            col["nulls"] = int(nulls.iloc[[str(c) for c in columns].index(col["name"])])
    info["index"] = _type_name(value.index)
    head = value.head(rows).iloc[:, :20]
    info["head"] = _cut(head.to_string(max_colwidth=40), chars)
    return info


def _describe(ns: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    name = request["name"]
    if name not in ns:
        return {"error": f"no variable named '{name}' in the kernel"}
    value = ns[name]
    rows = int(request.get("rows", 5))
    chars = int(request.get("chars", 4000))
    info = _summary(name, value, chars)
    module = type(value).__module__ or ""
    try:
        if module.startswith("pandas") and type(value).__name__ == "DataFrame":
            info.update(_frame(value, rows, chars))
        elif module.startswith("pandas") and type(value).__name__ == "Series":
            info["name_of_series"] = str(value.name)
            info["head"] = _cut(value.head(rows).to_string(), chars)
        elif module.startswith("polars") and type(value).__name__ == "DataFrame":
            info["columns"] = [
                {"name": str(k), "dtype": str(t)} for k, t in list(value.schema.items())[:100]
            ]
            info["head"] = _cut(str(value.head(rows)), chars)
        elif module.startswith("numpy") and hasattr(value, "shape"):
            import numpy

            info["preview"] = _cut(numpy.array2string(value, threshold=50, edgeitems=3), chars)
        elif isinstance(value, dict):
            keys = list(value)[:50]
            info["keys"] = [_cut(repr(k), 80) for k in keys]
        elif isinstance(value, (list, tuple, set, frozenset)):
            info["items"] = [_cut(repr(v), 80) for v in list(value)[:rows]]
        elif "value" not in info:
            info["repr"] = _cut(repr(value), chars)
        doc = getattr(value, "__doc__", None) if info.get("kind") else None
        if isinstance(doc, str):
            info["doc"] = _cut(doc.strip(), 500)
    except Exception as exc:
        info["note"] = f"could not read more: {type(exc).__name__}"
    return {"variable": info}


def probe(ns: dict[str, Any], request: dict[str, Any]) -> str:
    if request.get("op") == "describe":
        return json.dumps(_describe(ns, request), default=str)
    return json.dumps(_variables(ns, request), default=str)
