"""Bodies of the completion routes: OpenAI's ``chat/completions`` plus oui's fields."""
from __future__ import annotations

from typing import Annotated, Any

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# What ``validate_messages`` enforces: at least one message, each with a string role.
Message = Annotated[
    dict[str, Any],
    msgspec.Meta(
        extra_json_schema={
            "required": ["role"],
            "properties": {
                "role": {"type": "string"},
                "content": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}]},
            },
        }
    ),
]
Messages = Annotated[list[Message], msgspec.Meta(min_length=1)]

# Fields of a chat/completions body that oui reads itself; every other field is a model
# parameter and goes to the upstream as is (after the model's and the defaults').
OUI_FIELDS = ("chat_id", "parent_id", "session_id", "files", "features", "regenerate", "continue",
              "id", "background_tasks", "variables", "params", "tool_ids")


class ChatCompletionForm(msgspec.Struct):
    """OpenAI's request (``model``, ``messages``, ``stream``, sampling parameters...) and:
    ``chat_id`` + ``parent_id`` persist the turn in that chat (``parent_id``: the message the new
    user message hangs under; absent: the chat's current message; null: the root);
    ``regenerate`` (``parent_id`` = the user message) adds an assistant sibling; ``continue``
    (``parent_id`` = an assistant message) extends it; ``session_id`` answers at once and streams
    over the WebSocket; ``files``/``features`` ask for retrieved context."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    messages: Messages
    stream: bool = False
    chat_id: Id | None = None
    parent_id: Id | None | msgspec.UnsetType = msgspec.UNSET
    session_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    files: list[Any] | None = None
    features: dict[str, Any] | None = None
    regenerate: bool = False
    continue_: bool = msgspec.field(default=False, name="continue")
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None


class ChatMessageForm(msgspec.Struct):
    """One user turn in a chat, run entirely by the server."""

    content: Annotated[str, msgspec.Meta(min_length=1)]
    model: str | None = None
    parent_id: Id | None = None
    files: list[Any] | None = None
    features: dict[str, Any] | None = None
    stream: bool = False
    session_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    params: dict[str, Any] | None = None


class LiveTaskResponse(msgspec.Struct):
    task_id: str
    chat_id: str
    message_id: str
    user_message_id: str | None


class AssistantMessageResponse(msgspec.Struct, omit_defaults=True):
    id: str
    chat_id: str
    parentId: str | None
    role: str
    content: str
    model: str
    done: bool
    usage: dict[str, Any] | None = None
    sources: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    stopped: bool = False


class StopResponse(msgspec.Struct):
    status: bool
    task_ids: list[str]


class TaskListResponse(msgspec.Struct):
    task_ids: list[str]
