"""Bodies of the chat routes, in Open WebUI's shapes."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

Title = Annotated[str, msgspec.Meta(max_length=1000)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
TagName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"\S")]
Page = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


_ROLE = {"enum": ["system", "user", "assistant", "tool"]}
_MESSAGE_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_MESSAGE_FIELDS = {"role": _ROLE, "content": _NULLABLE_STRING, "parentId": _NULLABLE_STRING}
_MESSAGE = {"type": "object", "properties": {"id": _MESSAGE_ID, **_MESSAGE_FIELDS}}
# A tree in ``history.messages`` (an object) is read; else a flat ``messages`` list is.
_HAS_TREE = {
    "required": ["history"],
    "properties": {
        "history": {
            "type": "object",
            "required": ["messages"],
            "properties": {"messages": {"type": "object"}},
        }
    },
}
# What ``services.chats`` checks in a chat JSON (other keys are kept as they come).
CHAT_JSON_SCHEMA: dict[str, Any] = {
    "properties": {
        "title": {"type": "string"},
        "models": {"type": "array"},
        "params": {"type": "object"},
        "tags": {"type": "array"},
        "history": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        # applies when it is an object (the tree); anything else is ignored
                        "messages": {
                            "additionalProperties": {**_MESSAGE, "required": ["id", "role"]}
                        },
                    },
                    "if": {
                        "required": ["messages"],
                        "properties": {"messages": {"type": "object"}},
                    },
                    "then": {"properties": {"currentId": _NULLABLE_STRING}},
                },
                {"type": "null"},
            ]
        },
    },
    # Without a tree, a ``messages`` list is the chat (chained in order); with one, it is ignored.
    "if": _HAS_TREE,
    "else": {"properties": {"messages": {"items": {**_MESSAGE, "required": ["role"]}}}},
}
ChatJSON = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema=CHAT_JSON_SCHEMA)]


class ChatForm(msgspec.Struct):
    """``chat`` is Open WebUI's chat JSON: title, models, params, history, messages..."""

    chat: ChatJSON
    folder_id: str | None = None


class ChatSaveForm(msgspec.Struct):
    """``ChatForm`` as merge-update reads it: the chat's keys decoded one by one, so the flat
    ``messages`` list that Open WebUI sends beside ``history`` (the same messages again) is
    never decoded when the tree is there."""

    scans_raw: ClassVar[bool] = True  # see json_pieces.decode

    chat: dict[str, msgspec.Raw]
    folder_id: str | None = None

    def decoded(self) -> dict[str, Any]:
        from oui_jupyter.json_pieces import decode_value as decode

        chat = {k: decode(v) for k, v in self.chat.items() if k != "messages"}
        history = chat.get("history")
        if "messages" in self.chat and not (
            isinstance(history, dict) and isinstance(history.get("messages"), dict)
        ):
            chat["messages"] = decode(self.chat["messages"])
        return chat


class ChatResponse(msgspec.Struct):
    id: str
    user_id: str
    title: str
    chat: dict[str, Any]
    created_at: int
    updated_at: int
    share_id: str | None
    archived: bool
    pinned: bool
    meta: dict[str, Any]
    folder_id: str | None


class ChatTitleIdResponse(msgspec.Struct):
    id: str
    title: str
    updated_at: int
    created_at: int
    pinned: bool
    archived: bool
    folder_id: str | None
    tags: list[str]


class ListChatsQuery(msgspec.Struct):
    page: Page | None = None
    include_pinned: bool = True


class SearchChatsQuery(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(max_length=1000)]
    page: Page = 1


class ExportQuery(msgspec.Struct):
    format: Literal["json", "markdown", "ipynb"] = "json"


class ImportForm(msgspec.Struct):
    """One chat or a list of them, as Open WebUI exports them."""

    chats: list[dict[str, Any]]


class TagForm(msgspec.Struct):
    name: TagName


class TagResponse(msgspec.Struct):
    id: str
    name: str
    user_id: str


class MessageContentForm(msgspec.Struct):
    """Open WebUI's ``MessageForm``: one message's new text."""

    content: str


class TitleForm(msgspec.Struct):
    title: Title


class FolderIdForm(msgspec.Struct):
    folder_id: str | None = None


class FolderForm(msgspec.Struct):
    name: Name
    parent_id: str | None = None


class FolderUpdateForm(msgspec.Struct):
    name: Name | None = None
    is_expanded: bool | None = None
    parent_id: str | None = None


class FolderResponse(msgspec.Struct):
    id: str
    user_id: str
    parent_id: str | None
    name: str
    is_expanded: bool
    meta: dict[str, Any]
    created_at: int
    updated_at: int


class DeletedResponse(msgspec.Struct):
    deleted: bool
