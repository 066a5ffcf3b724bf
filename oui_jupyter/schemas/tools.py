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
    source: Literal["builtin", "entrypoint", "mcp", "client"]
    requires_approval: bool
    #: on a team client server: where the tool runs (``client``: this server, on your
    #: files; ``service``: the team service); absent elsewhere
    runs: Literal["client", "service"] | None = None


class ToolChannelQuery(msgspec.Struct):
    """``wait``: seconds to wait for a call when none is waiting (0-60); ``after``: the
    ``cursor`` of the last answer (calls numbered after it)."""

    wait: Annotated[float, msgspec.Meta(ge=0, le=60)] = 25.0
    after: Annotated[int, msgspec.Meta(ge=0)] = 0


class ToolChannelRequest(msgspec.Struct):
    """One call the user's server is to run: ``call_id`` (the channel's, for the result),
    the tool's ``name`` and ``arguments`` (checked against its schema), the model's
    ``tool_call_id``, and the turn's chat and answer."""

    seq: int
    call_id: str
    name: str
    arguments: dict[str, Any]
    tool_call_id: str | None
    chat_id: str | None
    message_id: str | None


class ToolChannelPoll(msgspec.Struct):
    requests: list[ToolChannelRequest]
    running: bool  # false: the turn is over, stop polling
    cursor: int  # the next poll's ``after``


class ToolChannelResultForm(msgspec.Struct, forbid_unknown_fields=True):
    """A call's result (``content``, ``data``, ``sources``, as a ``ToolResult``) or its
    ``error`` (what the model is told): exactly one of ``content`` and ``error``."""

    call_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    content: str | None = None
    data: Any = None
    sources: list[dict[str, Any]] | None = None
    error: str | None = None


class ToolChannelResultResponse(msgspec.Struct):
    call_id: str


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
