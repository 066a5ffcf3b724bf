"""``kernel_variables`` and ``describe_variable``: what the running kernel of the chat's
notebook holds, read without changing its namespace (``kernel.Kernels.evaluate``)."""

from __future__ import annotations

import inspect
import json
from functools import lru_cache
from typing import Any, ClassVar

from . import kernel_probe
from .base import ToolContext, ToolError, ToolLimits, ToolResult, clip
from .kernel import Kernels
from .paths import Confined

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,200}$"


@lru_cache(maxsize=1)
def _probe_source() -> str:
    return inspect.getsource(kernel_probe)


def probe_expression(request: dict[str, Any]) -> str:
    """One expression that runs ``kernel_probe.probe`` on the user's namespace in a scope of
    its own (a fresh globals dict) and gives its JSON answer."""
    return (
        f"(lambda g: (__import__('builtins').exec({_probe_source()!r}, g), "
        f"g['probe'](__import__('IPython').get_ipython().user_ns, {json.loads(json.dumps(request))!r}))[1])"
        "({'__name__': '__oui_probe__'})"
    )


def notebook_of(context: ToolContext, tool: str) -> str:
    """The chat's notebook, confined to the root (``ToolError`` without one)."""
    if not context.notebook_path:
        raise ToolError(f"{tool} needs the notebook the chat is about; this chat has none")
    _real, rel = Confined(context.root_dir).resolve(context.notebook_path)
    if not rel.endswith(".ipynb"):
        raise ToolError(f"'{rel}' is not a notebook (.ipynb)")
    return rel


class _KernelTool:
    requires_approval: ClassVar[bool] = False
    workspace: ClassVar[bool] = True  # the user's kernels: never in the team service
    name: ClassVar[str]

    def __init__(self, kernels: Kernels, limits: ToolLimits) -> None:
        self.kernels = kernels
        self.limits = limits

    async def _ask(self, context: ToolContext, request: dict[str, Any]) -> tuple[str, Any]:
        path = notebook_of(context, self.name)
        kernel_id = await self.kernels.kernel_id(path)
        text = await self.kernels.evaluate(
            kernel_id, probe_expression(request), self.limits.kernel_timeout
        )
        return path, json.loads(text)


class KernelVariablesTool(_KernelTool):
    name = "kernel_variables"
    description = (
        "List the variables of the running kernel of the notebook this chat is about: name, "
        "type, shape and dtype of arrays and dataframes, length of collections, small values. "
        "Names starting with '_' and modules are left out. Reads only; changes nothing."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 200}},
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        path, answer = await self._ask(context, {"op": "list", "limit": args.get("limit", 200)})
        lines = [f"{path}: {answer['total']} variables"]
        for item in answer["variables"]:
            extra = [f"{k}={item[k]}" for k in ("shape", "dtype", "len", "kind") if k in item]
            value = f" = {item['value']}" if "value" in item else ""
            lines.append(f"{item['name']}: {item['type']}{value} {' '.join(extra)}".rstrip())
        if answer.get("truncated"):
            lines.append(f"[only the first {len(answer['variables'])} names are listed]")
        content, _cut = clip("\n".join(lines), self.limits.max_output_chars)
        return ToolResult(content, {"path": path, **answer})


class DescribeVariableTool(_KernelTool):
    name = "describe_variable"
    description = (
        "Describe one variable of the running kernel of the notebook this chat is about: its "
        "type and shape; for a dataframe its columns with dtypes and null counts and its "
        "first rows; for arrays a preview; for other objects a short repr. Changes nothing."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": IDENTIFIER},
            "rows": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        },
        "required": ["name"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        request = {
            "op": "describe",
            "name": args["name"],
            "rows": args.get("rows", 5),
            "chars": min(4000, self.limits.max_output_chars),
        }
        path, answer = await self._ask(context, request)
        if "error" in answer:
            raise ToolError(answer["error"])
        info = answer["variable"]
        lines = [f"{info['name']}: {info['type']}"]
        for key, value in info.items():
            if key in ("name", "type", "head", "preview", "repr", "columns"):
                continue
            lines.append(f"{key}: {value}")
        if "columns" in info:
            lines.append("columns:")
            lines += [
                f"  {c['name']}: {c['dtype']}" + (f" ({c['nulls']} null)" if "nulls" in c else "")
                for c in info["columns"]
            ]
        for key in ("head", "preview", "repr"):
            if key in info:
                lines.append(f"{key}:\n{info[key]}")
        content, _cut = clip("\n".join(lines), self.limits.max_output_chars)
        return ToolResult(content, {"path": path, **info})
