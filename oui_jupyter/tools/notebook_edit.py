"""``edit_notebook`` and ``run_cells``: the agent changes the chat's notebook.

Both wait for the user's approval (``requires_approval``), act on
``ToolContext.notebook_path`` only, and write through ``NotebookFiles.write`` (contents
manager, undo checkpoint, ``notebook:changed``). Cells the agent inserts or replaces carry
``metadata.oui = {"chat_id", "message_id"}``; so do cells it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .base import ToolContext, ToolError, ToolLimits, ToolResult, clip
from .kernel import Kernels
from .notebook import OUTPUT_CHARS, trim_output

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from oui_jupyter.services.notebook_files import NotebookFiles

CELL_REF: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "minLength": 1, "maxLength": 256},
    ],
    "description": "a cell index (from 0) or a cell id",
}
MAX_OPERATIONS = 50
MAX_RUN = 20


def find_cell(nb: NotebookNode, ref: int | str, path: str) -> int:
    """The index of the cell ``ref`` (an index or an id) names."""
    if isinstance(ref, int):
        if ref >= len(nb.cells):
            raise ToolError(f"'{path}' has {len(nb.cells)} cells; there is no cell {ref}")
        return ref
    for index, cell in enumerate(nb.cells):
        if cell.get("id") == ref:
            return index
    raise ToolError(f"'{path}' has no cell with id '{ref}'")


def mark(cell: Any, context: ToolContext) -> None:
    cell.setdefault("metadata", {})["oui"] = {
        "chat_id": context.chat_id,
        "message_id": context.message_id,
    }


def _path(files: NotebookFiles, context: ToolContext, tool: str) -> str:
    if not context.notebook_path:
        raise ToolError(f"{tool} needs the notebook the chat is about; this chat has none")
    if not context.chat_id or not context.message_id:
        raise ToolError(f"{tool} runs in a chat turn only (each turn can be undone)")
    return files.confine(context.notebook_path, context.root_dir)


class EditNotebookTool:
    name = "edit_notebook"
    workspace = True
    description = (
        "Change cells of the notebook this chat is about: insert a new cell, replace a cell's "
        "source, or delete a cell. Operations apply in order, each on the notebook as the "
        "previous ones left it; cells are named by index (from 0) or id. The user approves "
        "the change first and can undo the whole turn."
    )
    requires_approval: ClassVar[bool] = True

    def __init__(self, files: NotebookFiles, limits: ToolLimits) -> None:
        self.files = files
        self.limits = limits

    @property
    def parameters(self) -> dict[str, Any]:
        source = {"type": "string", "maxLength": self.limits.max_source_chars}
        kind = {"type": "string", "enum": ["code", "markdown", "raw"]}
        return {
            "type": "object",
            "properties": {
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_OPERATIONS,
                    "items": {
                        "anyOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "op": {"const": "insert"},
                                    "index": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "description": "where the new cell goes (default: the end)",
                                    },
                                    "cell_type": {**kind, "default": "code"},
                                    "source": source,
                                },
                                "required": ["op", "source"],
                                "additionalProperties": False,
                            },
                            {
                                "type": "object",
                                "properties": {
                                    "op": {"const": "replace"},
                                    "cell": CELL_REF,
                                    "cell_type": kind,
                                    "source": source,
                                },
                                "required": ["op", "cell", "source"],
                                "additionalProperties": False,
                            },
                            {
                                "type": "object",
                                "properties": {"op": {"const": "delete"}, "cell": CELL_REF},
                                "required": ["op", "cell"],
                                "additionalProperties": False,
                            },
                        ]
                    },
                }
            },
            "required": ["operations"],
            "additionalProperties": False,
        }

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

        from oui_jupyter.services.notebook_files import ensure_cell_ids

        makers = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}
        path = _path(self.files, context, self.name)
        async with self.files.lock(path):
            before = await self.files.read_bytes(path)
            nb = self.files.parse(before, path)
            ensure_cell_ids(nb)
            touched: set[str] = set()
            done: list[str] = []
            for n, op in enumerate(args["operations"]):
                try:
                    done.append(self._apply(nb, op, context, makers, touched, path))
                except ToolError as exc:
                    raise ToolError(f"operation {n}: {exc.message}; nothing was changed") from None
            await self.files.write(context, path, before, nb, touched)
        content = f"{path}: {len(nb.cells)} cells now\n" + "\n".join(done)
        data = {"path": path, "cell_count": len(nb.cells), "changes": done}
        return ToolResult(clip(content, self.limits.max_output_chars)[0], data)

    @staticmethod
    def _apply(
        nb: NotebookNode,
        op: dict[str, Any],
        context: ToolContext,
        makers: dict[str, Any],
        touched: set[str],
        path: str,
    ) -> str:
        kind = op["op"]
        if kind == "insert":
            index = op.get("index", len(nb.cells))
            if index > len(nb.cells):
                raise ToolError(f"'{path}' has {len(nb.cells)} cells; cannot insert at {index}")
            cell = makers[op.get("cell_type", "code")](source=op["source"])
            taken = {c.get("id") for c in nb.cells}
            while cell["id"] in taken:
                cell = makers[op.get("cell_type", "code")](source=op["source"])
            mark(cell, context)
            nb.cells.insert(index, cell)
            touched.add(cell["id"])
            return f"inserted cell {index} (id {cell['id']}, {cell['cell_type']})"
        index = find_cell(nb, op["cell"], path)
        old = nb.cells[index]
        touched.add(old["id"])
        if kind == "delete":
            del nb.cells[index]
            return f"deleted cell {index} (id {old['id']})"
        cell_type = op.get("cell_type", old.get("cell_type", "code"))
        if cell_type != old.get("cell_type"):
            new = makers[cell_type](source=op["source"])
            new["id"] = old["id"]
            new["metadata"] = dict(old.get("metadata") or {})
            nb.cells[index] = old = new
        else:
            old["source"] = op["source"]
            if cell_type == "code":
                old["outputs"] = []
                old["execution_count"] = None
        mark(old, context)
        return f"replaced cell {index} (id {old['id']}, {cell_type})"


class RunCellsTool:
    name = "run_cells"
    workspace = True
    description = (
        "Run code cells of the notebook this chat is about in its running kernel, in the "
        "order given, and save their outputs into the notebook; stops at the first error. "
        "Cells are named by index (from 0) or id. The user approves the run first."
    )
    requires_approval: ClassVar[bool] = True
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "cells": {"type": "array", "minItems": 1, "maxItems": MAX_RUN, "items": CELL_REF}
        },
        "required": ["cells"],
        "additionalProperties": False,
    }

    def __init__(self, files: NotebookFiles, kernels: Kernels, limits: ToolLimits) -> None:
        self.files = files
        self.kernels = kernels
        self.limits = limits

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        from oui_jupyter.services.notebook_files import ensure_cell_ids

        path = _path(self.files, context, self.name)
        kernel_id = await self.kernels.kernel_id(path)
        async with self.files.lock(path):
            raw = await self.files.read_bytes(path)
            nb = self.files.parse(raw, path)
            new_ids = ensure_cell_ids(nb)
            ids = []
            for ref in args["cells"]:
                cell = nb.cells[find_cell(nb, ref, path)]
                if cell.get("cell_type") != "code":
                    raise ToolError(f"cell {ref} of '{path}' is not a code cell; nothing was run")
                ids.append(cell["id"])
            if new_ids:  # the ids must last from here to the writes below
                await self.files.write(context, path, raw, nb, set())
        report: list[dict[str, Any]] = []
        for cell_id in ids:
            # run without holding the lock (a cell may take minutes); write each result
            # into the notebook as it is on disk then
            async with self.files.lock(path):
                source = self._source(await self.files.read_bytes(path), path, cell_id)
            run = await self.kernels.execute(
                kernel_id, source, self.limits.run_cell_timeout, self.limits.max_run_output_bytes
            )
            async with self.files.lock(path):
                before = await self.files.read_bytes(path)
                nb = self.files.parse(before, path)
                ensure_cell_ids(nb)
                index = find_cell(nb, cell_id, path)
                cell = nb.cells[index]
                cell["outputs"] = run.outputs
                cell["execution_count"] = run.execution_count
                mark(cell, context)
                await self.files.write(context, path, before, nb, {cell_id})
            report.append(
                {
                    "index": index,
                    "id": cell_id,
                    "status": run.status,
                    "execution_count": run.execution_count,
                    "outputs": [trim_output(o, OUTPUT_CHARS) for o in run.outputs],
                }
            )
            if run.status != "ok":
                break
        return self._result(path, report, len(ids))

    def _source(self, raw: bytes, path: str, cell_id: str) -> str:
        nb = self.files.parse(raw, path)
        for cell in nb.cells:
            if cell.get("id") == cell_id:
                source = cell.get("source", "")
                return "".join(source) if isinstance(source, list) else str(source)
        raise ToolError(f"cell {cell_id} of '{path}' is gone (deleted while the run went on)")

    def _result(self, path: str, report: list[dict[str, Any]], asked: int) -> ToolResult:
        lines = [f"{path}: ran {len(report)} of {asked} cells"]
        for item in report:
            lines.append(
                f"--- cell {item['index']} (id {item['id']}, [{item['execution_count']}]): "
                f"{item['status']}"
            )
            for out in item["outputs"]:
                if "text" in out:
                    lines.append(f"[output] {out['text']}")
                elif out["type"] == "error":
                    lines.append(f"[error] {out['ename']}: {out['evalue']}")
                elif "mime_types" in out:
                    lines.append(f"[output: {', '.join(out['mime_types'])}]")
        content, _cut = clip("\n".join(lines), self.limits.max_output_chars)
        return ToolResult(content, {"path": path, "cells": report})
