"""Bodies of the tool routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


class UndoForm(msgspec.Struct, forbid_unknown_fields=True):
    """``POST v1/tools/undo``: the agent turn (its assistant message) to undo."""

    chat_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class UndoResponse(msgspec.Struct):
    restored: list[str]


class ToolApprovalForm(msgspec.Struct, forbid_unknown_fields=True):
    """The user's decision on a tool call that waits for approval (``chat_id`` null: a turn
    outside a chat, ``message_id`` then being the status's)."""

    message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    call_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    decision: Literal["approve", "deny", "approve_chat"]
    chat_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class ToolApprovalResponse(msgspec.Struct):
    call_id: str
    decision: str
