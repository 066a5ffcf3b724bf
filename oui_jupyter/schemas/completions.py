"""Bodies of the completion routes: OpenAI's ``chat/completions`` plus oui's fields."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# The server's tools a turn offers the model (``GET v1/tools/`` ids), at most 32.
ToolIds = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=32)]
# The notebook a chat is about: a path relative to root_dir, ending in .ipynb.
NotebookPath = Annotated[
    str, msgspec.Meta(max_length=1024, pattern=r"^(?!/)(?!.*(^|/)\.\.(/|$)).*\.ipynb$")
]
# A message id a client chooses: what the routes' ``{message_id}`` takes (Open WebUI's uuid4s).
MessageId = Annotated[str, msgspec.Meta(pattern=r"^[\w-]{1,64}$")]
# What ``validate_messages`` enforces: each message has a string role (and a turn outside a
# chat needs at least one: the route's body rules say so).
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

# Fields of a chat/completions body that oui reads itself (or, for Open WebUI's frontend, reads
# and ignores); every other field is a model parameter and goes to the upstream as is (after
# the model's and the defaults').
OUI_FIELDS = (
    "chat_id",
    "parent_id",
    "session_id",
    "files",
    "features",
    "regenerate",
    "continue",
    "id",
    "background_tasks",
    "variables",
    "params",
    "tool_ids",
    "user_message",
    "parent_message",
    "message_ids",
    "model_item",
    "tool_servers",
    "folder_id",
    "filter_ids",
    "skill_ids",
    "terminal_id",
    "chat_variables",
    "new_chat",
    "workspace_context",
    "notebook_path",
    "client_tools",
    "tool_channel",
)
# Keys of Open WebUI's ``params`` that are OpenAI sampling parameters (the rest are its own).
OPENAI_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "reasoning_effort",
)


class WorkspaceContextForm(msgspec.Struct, forbid_unknown_fields=True):
    """The workspace hits a team client server adds to a turn (the user's server searched
    them): Open WebUI sources, each with ``document: [text]`` and ``metadata: [object]``;
    at most 32 sources and 64,000 characters of text (else 413)."""

    sources: list[dict[str, Any]]


class ClientToolForm(msgspec.Struct):
    """A tool a team client server runs itself for this turn (with ``tool_channel``): its
    OpenAI function spec; at most 32, names as OpenAI's, ``parameters`` a JSON Schema of
    an object (else 422)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    requires_approval: bool = False


#: a team client server's random channel id for a turn's client tools
ToolChannelId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


class UserMessageForm(msgspec.Struct):
    """Open WebUI's ``user_message``: the new user message as its frontend built it (other
    keys, such as ``childrenIds`` or ``timestamp``, are read past)."""

    id: MessageId
    content: str | list[dict[str, Any]] = ""
    parentId: Id | msgspec.UnsetType | None = msgspec.UNSET
    role: str = "user"
    files: list[Any] | None = None
    models: list[str] | None = None


class MessageIdEntry(msgspec.Struct):
    """One answer of Open WebUI's ``message_ids`` list: the model and its message's id."""

    model_id: str
    message_id: MessageId
    modelIdx: int | None = None


class ChatCompletionForm(msgspec.Struct):
    """OpenAI's request (``model``, ``messages``, ``stream``, sampling parameters...) and:
    ``chat_id`` + ``parent_id`` persist the turn in that chat (``parent_id``: the message the new
    user message hangs under; absent: the chat's current message; null: the root);
    ``regenerate`` (``parent_id`` = the user message) adds an assistant sibling; ``continue``
    (``parent_id`` = an assistant message) extends it; ``session_id`` answers at once and streams
    over the WebSocket; ``files``/``features`` ask for retrieved context.

    Open WebUI's frontend names the turn's messages itself: ``user_message`` (with its ``id``;
    an id already in the chat as a user message answers it again), ``id`` or ``message_ids``
    (the answer's id; a stored empty, unfinished assistant message is filled in), and
    ``parent_id: null`` without a ``chat_id`` starts a new chat. Named ids match
    ``[\\w-]{1,64}`` (else 422) and are unused in the chat (else 409). ``messages`` may then be
    left out (or hold only system messages): the server reads the branch. Its
    ``background_tasks``, ``model_item``, ``tool_servers``... are accepted; ``params`` gives
    sampling parameters (``temperature``, ``top_p``, ``max_tokens``, ``stop``...)."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    messages: list[Message] = msgspec.field(default_factory=list)
    stream: bool = False
    chat_id: Id | None = None
    parent_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    session_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    files: list[Any] | None = None
    features: dict[str, Any] | None = None
    regenerate: bool = False
    continue_: bool = msgspec.field(default=False, name="continue")
    id: MessageId | None = None
    user_message: UserMessageForm | None = None
    parent_message: UserMessageForm | None = None
    message_ids: list[MessageIdEntry] | dict[str, MessageId] | None = None
    background_tasks: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    folder_id: Id | None = None
    workspace_context: WorkspaceContextForm | None = None
    tool_ids: ToolIds | None = None
    notebook_path: NotebookPath | None = None
    client_tools: list[ClientToolForm] | None = None
    tool_channel: ToolChannelId | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None


class ChatMessageForm(msgspec.Struct):
    """One user turn in a chat, run entirely by the server; ``user_message_id`` and ``id``
    name the user message and the answer (unused ids matching ``[\\w-]{1,64}``), else the
    server makes them. ``content`` is text, or OpenAI content parts (``text`` and
    ``image_url`` parts: images for a vision model)."""

    content: (
        Annotated[str, msgspec.Meta(min_length=1)]
        | Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1)]
    )
    model: str | None = None
    parent_id: Id | None = None
    id: MessageId | None = None
    user_message_id: MessageId | None = None
    files: list[Any] | None = None
    features: dict[str, Any] | None = None
    stream: bool = False
    session_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    params: dict[str, Any] | None = None
    workspace_context: WorkspaceContextForm | None = None
    tool_ids: ToolIds | None = None
    notebook_path: NotebookPath | None = None
    client_tools: list[ClientToolForm] | None = None
    tool_channel: ToolChannelId | None = None


class LiveTaskResponse(msgspec.Struct):
    task_id: str
    chat_id: str
    message_id: str
    user_message_id: str | None
    task_ids: list[str] = msgspec.field(default_factory=list)  # Open WebUI reads these two
    status: bool = True
    #: every answer's id, in the order of ``task_ids`` (an arena turn has two)
    message_ids: list[str] = msgspec.field(default_factory=list)


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
    tool_calls: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    stopped: bool = False


class StopResponse(msgspec.Struct):
    status: bool
    task_ids: list[str]


class TaskListResponse(msgspec.Struct):
    task_ids: list[str]
