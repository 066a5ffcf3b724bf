"""``read_notebook``: cells of a notebook on disk, by index or id, outputs trimmed."""

from __future__ import annotations

import json
import os
import re
from typing import Any, ClassVar

from .base import BlockingTool, ToolContext, ToolError, ToolLimits, ToolResult, clip
from .paths import Confined

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: the most characters kept of one output (the answer as a whole has its own limit)
OUTPUT_CHARS = 2000


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def trim_output(out: dict[str, Any], limit: int) -> dict[str, Any]:
    """One output as text: streams and ``text/plain`` as they are (cut), rich data named
    by its type only, errors as ``ename: evalue`` and the traceback's last lines."""
    kind = out.get("output_type")
    if kind == "stream":
        return {
            "type": "stream",
            "name": out.get("name"),
            "text": clip(_text(out.get("text")), limit)[0],
        }
    if kind in ("execute_result", "display_data"):
        data = out.get("data") or {}
        plain = data.get("text/plain")
        trimmed: dict[str, Any] = {"type": kind, "mime_types": sorted(data)}
        if plain is not None:
            trimmed["text"] = clip(_text(plain), limit)[0]
        return trimmed
    if kind == "error":
        trace = _ANSI.sub("", "\n".join(_text(t) for t in out.get("traceback") or []))
        return {
            "type": "error",
            "ename": out.get("ename"),
            "evalue": clip(str(out.get("evalue", "")), limit)[0],
            "traceback": trace[-limit:],
        }
    return {"type": str(kind)}


def _render(cell: dict[str, Any]) -> str:
    head = f"--- cell {cell['index']} (id {cell['id']}, {cell['cell_type']}"
    if cell.get("execution_count") is not None:
        head += f", [{cell['execution_count']}]"
    lines = [head + ")", cell["source"]]
    for out in cell.get("outputs", []):
        if "text" in out:
            lines.append(f"[output] {out['text']}")
        elif out["type"] == "error":
            lines.append(f"[error] {out['ename']}: {out['evalue']}")
        elif "mime_types" in out:
            lines.append(f"[output: {', '.join(out['mime_types'])}]")
    return "\n".join(lines)


class ReadNotebookTool(BlockingTool):
    name = "read_notebook"
    workspace = True
    description = (
        "Read cells of a Jupyter notebook (.ipynb) in the workspace: source and trimmed text "
        "outputs. Cells are chosen by index (0 is the first, as in search citations) or by "
        "cell id; without 'cells', every cell (up to the size limit)."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "maxLength": 4096},
            "cells": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "integer", "minimum": 0},
                        {"type": "string", "minLength": 1, "maxLength": 256},
                    ]
                },
                "maxItems": 500,
                "description": "cell indexes (from 0) or cell ids",
            },
            "include_outputs": {"type": "boolean", "default": True},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    def __init__(self, limits: ToolLimits) -> None:
        self.limits = limits

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        real, rel = Confined(context.root_dir).resolve(args["path"])
        if not rel.endswith(".ipynb"):
            raise ToolError(f"'{rel}' is not a notebook (.ipynb); use read_file")
        if os.path.getsize(real) > self.limits.max_file_bytes:
            raise ToolError(f"'{rel}' is over {self.limits.max_file_bytes} bytes")
        try:
            with open(real, encoding="utf-8", errors="replace") as f:
                cells = json.load(f)["cells"]
            if not isinstance(cells, list):
                raise TypeError("cells is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise ToolError(f"'{rel}' is not a valid notebook: {exc}") from None
        chosen = self._choose(cells, args.get("cells"), rel)
        outputs = bool(args.get("include_outputs", True))
        found = []
        for index in chosen:
            cell = cells[index] if isinstance(cells[index], dict) else {}
            item: dict[str, Any] = {
                "index": index,
                "id": cell.get("id") or f"cell-{index}",
                "cell_type": cell.get("cell_type", "code"),
                "source": _text(cell.get("source")),
            }
            if item["cell_type"] == "code":
                item["execution_count"] = cell.get("execution_count")
                if outputs:
                    item["outputs"] = [
                        trim_output(o, OUTPUT_CHARS)
                        for o in cell.get("outputs") or []
                        if isinstance(o, dict)
                    ]
            found.append(item)
        content, cut = clip(
            "\n".join([f"{rel}: {len(cells)} cells", *map(_render, found)]),
            self.limits.max_output_chars,
        )
        data = {"path": rel, "cell_count": len(cells), "cells": found, "truncated": cut}
        return ToolResult(content, data)

    @staticmethod
    def _choose(cells: list[Any], wanted: list[int | str] | None, rel: str) -> list[int]:
        if wanted is None:
            return list(range(len(cells)))
        ids = {
            (c.get("id") if isinstance(c, dict) and c.get("id") else f"cell-{i}"): i
            for i, c in enumerate(cells)
        }
        chosen = []
        for key in wanted:
            if isinstance(key, int):
                if key >= len(cells):
                    raise ToolError(f"'{rel}' has {len(cells)} cells; there is no cell {key}")
                chosen.append(key)
            elif key in ids:
                chosen.append(ids[key])
            else:
                raise ToolError(f"'{rel}' has no cell with id '{key}'")
        return chosen
