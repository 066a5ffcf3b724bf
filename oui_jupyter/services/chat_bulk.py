"""Whole-chat work whose cost grows with the chats: import, clone, export of all chats.

Every method here is blocking and meant to run off the event loop (handlers call them in a
worker thread). An import is bounded before any work starts (``ImportLimits``: 413 past
them), then parsed and validated entirely, then written in bulk (``ChatBulkStore``), and
answered from what was written, without reading it back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oui_jupyter import json_pieces
from oui_jupyter.errors import InvalidInput, NotFound, PayloadTooLarge
from oui_jupyter.heap import release
from oui_jupyter.schemas.chats import ChatResponse
from oui_jupyter.services.chats import (
    CHAT_CORE_KEYS,
    ChatService,
    _seconds,
    new_id,
    parse_history,
    tag_id_for,
)
from oui_jupyter.services.users import UserInfo
from oui_jupyter.store.chat_bulk import ChatBulkStore, NewChat
from oui_jupyter.store.chats import MessageRow
from oui_jupyter.store.orm import Chat


@dataclass(frozen=True)
class ImportLimits:
    """What one import request may hold (``c.OuiJupyter.max_import_chats`` / ``..._messages``)."""

    max_chats: int = 20_000
    max_messages: int = 200_000


def import_items(body: Any) -> list[Any]:
    """The chats of an import body: one chat, a list of chats, or ``{"chats": [...]}``."""
    if isinstance(body, dict) and isinstance(body.get("chats"), list):
        items = body["chats"]
    elif isinstance(body, dict):
        items = [body]
    elif isinstance(body, list):
        items = body
    else:
        raise InvalidInput("Expected a chat object or a list of chats")
    if not items:
        raise InvalidInput("Nothing to import")
    return items


def _chat_of(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput("each imported chat must be an object")
    chat = item.get("chat", item)
    if not isinstance(chat, dict):
        raise InvalidInput("an imported chat's `chat` must be an object")
    return chat


def message_count(chat: dict[str, Any]) -> int:
    """How many messages ``parse_history`` will read from ``chat`` (without reading them)."""
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        return len(history["messages"])
    messages = chat.get("messages")
    return len(messages) if isinstance(messages, list) else 0


def check_limits(items: Sequence[Any], limits: ImportLimits) -> None:
    """413 for an import over the limits, before anything is parsed."""
    if len(items) > limits.max_chats:
        raise PayloadTooLarge(
            f"This import holds {len(items)} chats; the limit is {limits.max_chats} a request "
            "(c.OuiJupyter.max_import_chats): import them in several parts",
            reason="import_too_many_chats",
        )
    total = sum(message_count(_chat_of(item)) for item in items)
    if total > limits.max_messages:
        raise PayloadTooLarge(
            f"This import holds {total} messages; the limit is {limits.max_messages} a request "
            "(c.OuiJupyter.max_import_messages): import the chats in several parts",
            reason="import_too_many_messages",
        )


class ChatBulkService:
    def __init__(
        self, chats: ChatService, store: ChatBulkStore, limits: ImportLimits | None = None
    ) -> None:
        self.chats = chats
        self.store = store
        self.limits = limits or ImportLimits()

    # ----- import -----
    def import_chats(self, user: UserInfo, body: Any) -> list[ChatResponse]:
        """Chats in Open WebUI's export shape (``{chat: {...}, meta, pinned, ...}``): all of
        them are checked before the first is written."""
        items = import_items(body)
        check_limits(items, self.limits)
        new = [self._new_chat(user, item) for item in items]
        self.store.insert_chats(new)
        answer = [self._response(chat) for chat in new]
        for chat in new:
            messages, chat.messages = chat.messages, ()
            release(messages)
        release(new)
        return answer

    def _new_chat(self, user: UserInfo, item: dict[str, Any]) -> NewChat:
        chat = _chat_of(item)
        messages, current_id = parse_history(chat)
        now = time.time()
        meta: dict[str, Any] = item["meta"] if isinstance(item.get("meta"), dict) else {}
        meta_tags: list[Any] = meta["tags"] if isinstance(meta.get("tags"), list) else []
        names = ChatService._tags(chat) + [t for t in meta_tags if isinstance(t, str)]
        tags: dict[str, str] = {}
        for name in names:
            tags.setdefault(tag_id_for(name), name)
        tags.pop("", None)
        for message in messages:
            if not message.created_at:
                message.created_at = now  # what the store would write
        return NewChat(
            id=new_id(),
            user_id=user.id,
            title=ChatService._title(chat)
            if chat.get("title")
            else str(item.get("title") or "New Chat"),
            models=ChatService._list(chat, "models"),
            params=ChatService._dict(chat, "params"),
            meta={k: v for k, v in meta.items() if k != "tags"},
            extra={k: v for k, v in chat.items() if k not in CHAT_CORE_KEYS},
            pinned=bool(item.get("pinned", False)),
            archived=bool(item.get("archived", False)),
            current_message_id=current_id or (messages[-1].id if messages else None),
            created_at=_seconds(item.get("created_at"), now) or now,
            updated_at=_seconds(item.get("updated_at"), now) or now,
            messages=messages,
            tags=list(tags.items()),
        )

    def _response(self, new: NewChat) -> ChatResponse:
        """The ChatResponse of a chat just inserted, built from what was inserted."""
        chat = Chat(
            id=new.id,
            user_id=new.user_id,
            title=new.title,
            current_message_id=new.current_message_id,
            models=new.models,
            params=new.params,
            meta={**new.meta, "tags": [t for t, _ in new.tags]},
            extra=new.extra,
            pinned=new.pinned,
            archived=new.archived,
            folder_id=new.folder_id,
            share_id=None,
            created_at=new.created_at,
            updated_at=new.updated_at,
        )
        rows = [
            MessageRow(
                m.id, m.parent_id, m.role, m.content, m.model, m.done, m.extra, m.created_at or 0.0
            )
            for m in new.messages
        ]
        response = self.chats.response(chat, rows)
        release(rows)
        return response

    # ----- clone -----
    def clone(self, user: UserInfo, chat_id: str, title: str | None = None) -> ChatResponse:
        """A copy of the chat with all its messages (copied in the database) and tags."""
        source = self.chats.store.get_chat(chat_id, user.id)
        now = time.time()
        tag_ids = [t for t in (source.meta or {}).get("tags", []) if isinstance(t, str)]
        copy = NewChat(
            id=new_id(),
            user_id=user.id,
            title=title or f"Clone of {source.title}",
            models=source.models or [],
            params=source.params or {},
            meta={k: v for k, v in (source.meta or {}).items() if k != "tags"},
            extra=source.extra or {},
            folder_id=source.folder_id,
            current_message_id=source.current_message_id,
            created_at=now,
            updated_at=now,
            tags=[(t, t) for t in dict.fromkeys(tag_ids)],
        )
        self.store.clone_chat(chat_id, copy)
        return self.chats.get(user, copy.id)

    def clone_shared(self, user: UserInfo, share_id: str) -> ChatResponse:
        """A chat of ``user``'s own with the messages of a shared snapshot (anyone may clone
        what they may read; the shared chat and its owner are untouched)."""
        shared = self.chats.shared(share_id)
        if shared is None:
            raise NotFound(f"Shared chat {share_id} not found")
        item = {
            "chat": {
                **shared.chat,
                "title": f"Clone of {shared.title}",
                "originalChatId": shared.id,
            },
            "meta": shared.meta,
        }
        new = self._new_chat(user, item)
        new.created_at = new.updated_at = time.time()
        self.store.insert_chats([new])
        return self._response(new)

    # ----- export -----
    def chat_ids(self, user: UserInfo) -> list[str]:
        return self.store.chat_ids(user.id)

    def export_piece(self, user: UserInfo, chat_ids: Sequence[str]) -> bytes:
        """The chats as JSON array elements joined by commas (a chat deleted meanwhile is left
        out); b"" when none is left."""
        pieces = []
        for chat_id in chat_ids:
            try:
                chat = self.chats.get(user, chat_id)
            except NotFound:
                continue
            pieces.append(json_pieces.encode(chat))
            release(chat)
        return b",".join(pieces)
