"""Bodies of the tool routes."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class ToolMeta(msgspec.Struct):
    description: str


class ToolFunctionSpec(msgspec.Struct):
    """The OpenAI function schema (what a chat completion's ``tools[].function`` holds)."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolResponse(msgspec.Struct):
    id: str
    name: str
    meta: ToolMeta
    spec: ToolFunctionSpec
    source: Literal["builtin", "entrypoint", "mcp"]
    requires_approval: bool
