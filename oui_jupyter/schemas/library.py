"""Bodies and answers of ``v1/prompts/...``, ``v1/memories/...`` and the user's settings
(Open WebUI's shapes)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

MAX_PROMPT_CHARS = 100_000
MAX_TITLE_CHARS = 255
MAX_MEMORY_CHARS = 10_000
#: a command as stored (``/slug``) or as sent (``slug`` or ``/slug``)
COMMAND_PATTERN = r"^/?[a-z0-9][a-z0-9_-]{0,63}$"

Command = Annotated[str, msgspec.Meta(pattern=COMMAND_PATTERN)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TITLE_CHARS)]
PromptContent = Annotated[str, msgspec.Meta(max_length=MAX_PROMPT_CHARS)]
MemoryContent = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MEMORY_CHARS)]


class PromptForm(msgspec.Struct):
    """Open WebUI's PromptForm. ``command``: 1-64 lowercase letters, digits, ``-`` and ``_``
    (a leading ``/`` is optional); ``content`` keeps its ``{{variables}}``;
    ``access_control``: ``null`` is everyone's, left out (or ``{}``) the author's only."""

    command: Command
    title: Title
    content: PromptContent
    access_control: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET


class PromptResponse(msgspec.Struct):
    command: str
    user_id: str
    title: str
    content: str
    timestamp: int
    access_control: dict[str, Any] | None


class PromptAuthor(msgspec.Struct):
    id: str
    name: str
    email: str | None = None
    role: str = "user"
    profile_image_url: str = ""


class PromptUserResponse(msgspec.Struct):
    command: str
    user_id: str
    title: str
    content: str
    timestamp: int
    access_control: dict[str, Any] | None
    user: PromptAuthor | None = None


class MemoryForm(msgspec.Struct):
    """Open WebUI's AddMemoryForm / MemoryUpdateModel."""

    content: MemoryContent


class MemoryQueryForm(msgspec.Struct):
    """Open WebUI's QueryMemoryForm: the ``k`` memories nearest ``content``."""

    content: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MEMORY_CHARS)]
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = 1


class MemoryResponse(msgspec.Struct):
    id: str
    user_id: str
    content: str
    updated_at: int
    created_at: int


class MemoryQueryResponse(msgspec.Struct):
    """Open WebUI's SearchResult (one query: each list holds one list): ``distances`` are
    relevances from 0 to 1, higher nearer."""

    ids: list[list[str]]
    documents: list[list[str]]
    metadatas: list[list[dict[str, Any]]]
    distances: list[list[float]]
