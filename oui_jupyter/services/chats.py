"""Chats as Open WebUI sees them, stored as one row per message.

``ChatService`` assembles Open WebUI's chat JSON (``history.messages`` tree, ``currentId``,
flat ``messages`` of the current branch) from rows and turns incoming chat JSON into row
inserts and updates; it never deletes a message that a merge-update did not mention.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.heap import release
from oui_jupyter.schemas.chats import (
    ChatResponse,
    ChatTitleIdResponse,
    FolderResponse,
    TagResponse,
)
from oui_jupyter.store.chats import ChatStore, MessageRow, NewMessage
from oui_jupyter.store.folders import FolderStore
from oui_jupyter.store.orm import Chat, ChatMessage, Folder, Tag
from oui_jupyter.store.shares import ShareStore
from oui_jupyter.store.tags import TagStore

if TYPE_CHECKING:
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.users import UserInfo

# Keys of a message that have their own column or are derived; the rest goes to ``extra``.
MESSAGE_CORE_KEYS = {
    "id",
    "parentId",
    "childrenIds",
    "role",
    "content",
    "model",
    "timestamp",
    "done",
}
# Keys of the chat JSON that have their own column or are derived.
CHAT_CORE_KEYS = {"id", "title", "models", "params", "history", "messages", "tags", "timestamp"}
ROLES = {"system", "user", "assistant", "tool"}

# A live generation's partial message, keyed by message id, merged into reads.
LiveOverlay = Callable[[str], dict[str, dict[str, Any]]]


def new_id() -> str:
    return str(uuid.uuid4())


def tag_id_for(name: str) -> str:
    """Open WebUI's tag id: the name, lower-cased, spaces as underscores."""
    return re.sub(r"\s+", "_", name.strip()).lower()


def _seconds(value: Any, default: float) -> float:
    """A timestamp in seconds, whether it came in seconds or milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value / 1000 if value > 1e11 else float(value)


def message_json(row: MessageRow, children: list[str]) -> dict[str, Any]:
    data = {
        **row.extra,
        "id": row.id,
        "parentId": row.parent_id,
        "childrenIds": children,
        "role": row.role,
        "content": row.content,
        "timestamp": int(row.created_at),
        "done": row.done,
    }
    if row.model:
        data["model"] = row.model
    return data


def branch_of(messages: dict[str, dict[str, Any]], leaf_id: str | None) -> list[dict[str, Any]]:
    """The messages from the root down to ``leaf_id``."""
    branch: list[dict[str, Any]] = []
    seen: set[str] = set()
    current = leaf_id
    while current is not None and current in messages and current not in seen:
        seen.add(current)
        message = messages[current]
        branch.append(message)
        current = message.get("parentId")
    branch.reverse()
    return branch


def parse_message(raw: Any, default_time: float) -> NewMessage:
    if not isinstance(raw, dict):
        raise InvalidInput("each message must be an object")
    get = raw.get
    message_id = get("id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 64:
        raise InvalidInput("each message needs a string id of at most 64 characters")
    role = get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInput(f"message {message_id}: role must be one of {sorted(ROLES)}")
    content = get("content")
    if content is None:
        content = ""
    elif not isinstance(content, str):
        raise InvalidInput(f"message {message_id}: content must be a string")
    parent_id = get("parentId")
    if parent_id is not None and not isinstance(parent_id, str):
        raise InvalidInput(f"message {message_id}: parentId must be a string or null")
    model = get("model")
    return NewMessage(
        message_id,
        role,
        content,
        parent_id,
        model if isinstance(model, str) else None,
        bool(get("done", True)),
        {k: v for k, v in raw.items() if k not in MESSAGE_CORE_KEYS},
        _seconds(get("timestamp"), default_time),
    )


def place_parents_first(parsed: Sequence[NewMessage], now: float) -> list[NewMessage]:
    """``parsed`` with every message after its parent (oldest first where the tree allows).

    Iterative: a chain of any length costs O(n) and no stack; a parent cycle is a 422.
    A parent that is not in ``parsed`` counts as a root here (it may be stored already).
    """
    by_id = {m.id: m for m in parsed}
    ordered: list[NewMessage] = []
    placed: set[str] = set()
    for message in sorted(parsed, key=lambda m: m.created_at or now):
        if message.id in placed:
            continue
        parent = message.parent_id
        if parent is None or parent in placed or parent not in by_id:  # the usual case
            placed.add(message.id)
            ordered.append(message)
            continue
        path: list[NewMessage] = []  # unplaced ancestors, child first
        on_path: set[str] = set()
        current: NewMessage | None = message
        while current is not None and current.id not in placed:
            if current.id in on_path:
                raise InvalidInput(f"chat.history has a cycle (through message {current.id})")
            on_path.add(current.id)
            path.append(current)
            current = by_id.get(current.parent_id) if current.parent_id is not None else None
        for ancestor in reversed(path):
            placed.add(ancestor.id)
            ordered.append(ancestor)
    return ordered


def parse_history(chat: dict[str, Any]) -> tuple[list[NewMessage], str | None]:
    """Messages of an incoming chat JSON, parents before children, and its currentId."""
    now = time.time()
    history = chat.get("history")
    if history is not None and not isinstance(history, dict):
        raise InvalidInput("chat.history must be an object")
    raw_messages: Iterable[Any]
    current_id = None
    if history and isinstance(history.get("messages"), dict):
        raw_messages = history["messages"].values()
        current_id = history.get("currentId")
    elif isinstance(chat.get("messages"), list):
        # A flat list with no tree: chain the messages in order.
        raw_messages = []
        previous = None
        for raw in chat["messages"]:
            if isinstance(raw, dict):
                raw = {"parentId": previous, **raw}
                raw.setdefault("id", new_id())
                previous = raw["id"]
            raw_messages.append(raw)
        current_id = previous
    else:
        return [], None
    parsed = [parse_message(raw, now) for raw in raw_messages]
    ordered = place_parents_first(parsed, now)
    if current_id is not None and not isinstance(current_id, str):
        raise InvalidInput("chat.history.currentId must be a string")
    return ordered, current_id


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        tag_store: TagStore,
        folder_store: FolderStore,
        *,
        overlays: Sequence[LiveOverlay] = (),
        hub: EventHub | None = None,
        shares: ShareStore | None = None,
    ) -> None:
        """``overlays``: the live generations' partial messages, merged into reads;
        ``hub``: where a per-message edit is told to the user's sockets; ``shares``: the
        shared snapshots (default: in the chats' database)."""
        self.store = store
        self.shares = shares if shares is not None else ShareStore(store.db)
        self.tag_store = tag_store
        self.folder_store = folder_store
        self.overlays: list[LiveOverlay] = list(overlays)
        self.hub = hub

    # ----- reading -----
    def summary(self, row: Any) -> ChatTitleIdResponse:
        return ChatTitleIdResponse(
            id=row.id,
            title=row.title,
            updated_at=int(row.updated_at),
            created_at=int(row.created_at),
            pinned=row.pinned,
            archived=row.archived,
            folder_id=row.folder_id,
            tags=list((row.meta or {}).get("tags", [])),
        )

    def list_chats(
        self, user: UserInfo, page: int | None, **filters: Any
    ) -> list[ChatTitleIdResponse]:
        return [self.summary(r) for r in self.store.list_chats(user.id, page=page, **filters)]

    def search(self, user: UserInfo, text: str, page: int = 1) -> list[ChatTitleIdResponse]:
        text = text.strip()
        if not text:
            return self.list_chats(user, page)
        return [self.summary(r) for r in self.store.search_chats(user.id, text, page=page)]

    def history(self, chat: Chat, rows: Sequence[MessageRow]) -> dict[str, Any]:
        children: dict[str | None, list[str]] = defaultdict(list)
        for row in rows:
            children[row.parent_id].append(row.id)
        messages = {row.id: message_json(row, children[row.id]) for row in rows}
        for overlay in self.overlays:
            for message_id, partial in overlay(chat.id).items():
                if message_id in messages:
                    messages[message_id].update(partial)
        current = chat.current_message_id
        if current not in messages:
            current = rows[-1].id if rows else None
        return {"messages": messages, "currentId": current}

    def chat_json(self, chat: Chat, rows: Sequence[MessageRow] | None) -> dict[str, Any]:
        """Open WebUI's chat JSON; with ``rows=None`` only the chat's own fields (no tree)."""
        out = {
            **(chat.extra or {}),
            "id": chat.id,
            "title": chat.title,
            "models": chat.models or [],
            "params": chat.params or {},
            "tags": list((chat.meta or {}).get("tags", [])),
            "timestamp": int(chat.created_at * 1000),
        }
        if rows is not None:
            history = self.history(chat, rows)
            out["history"] = history
            out["messages"] = branch_of(history["messages"], history["currentId"])
        return out

    def response(
        self, chat: Chat, rows: Sequence[MessageRow] | None = None, *, with_messages: bool = True
    ) -> ChatResponse:
        if rows is None and with_messages:
            rows = self.store.messages(chat.id)
        return ChatResponse(
            id=chat.id,
            user_id=chat.user_id,
            title=chat.title,
            chat=self.chat_json(chat, rows),
            created_at=int(chat.created_at),
            updated_at=int(chat.updated_at),
            share_id=chat.share_id,
            archived=chat.archived,
            pinned=chat.pinned,
            meta=chat.meta or {},
            folder_id=chat.folder_id,
        )

    def get(self, user: UserInfo, chat_id: str) -> ChatResponse:
        chat, rows = self.store.chat_with_messages(chat_id, user.id)
        response = self.response(chat, rows)
        release(rows)  # a piece at a time: a long chat's rows are 100,000s of objects
        return response

    def branch(
        self, user: UserInfo, chat_id: str, leaf_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages from the root to ``leaf_id`` (default: the chat's current message)."""
        chat, rows = self.store.chat_with_messages(chat_id, user.id)
        history = self.history(chat, rows)
        leaf = history["currentId"] if leaf_id is None else leaf_id
        if leaf is not None and leaf not in history["messages"]:
            raise NotFound(f"Message {leaf} not found in chat {chat_id}")
        return branch_of(history["messages"], leaf)

    # ----- writing -----
    def create(
        self, user: UserInfo, chat: dict[str, Any], folder_id: str | None = None
    ) -> ChatResponse:
        messages, current_id = parse_history(chat)
        row = self.store.create_chat(
            chat_id=new_id(),
            user_id=user.id,
            title=self._title(chat),
            models=self._list(chat, "models"),
            params=self._dict(chat, "params"),
            extra={k: v for k, v in chat.items() if k not in CHAT_CORE_KEYS},
            folder_id=folder_id,
            messages=messages,
            current_message_id=current_id or (messages[-1].id if messages else None),
        )
        for name in self._tags(chat):
            self.tag_store.add_tag(row.id, user.id, tag_id_for(name), name)
        return self.get(user, row.id)

    def merge_update(
        self, user: UserInfo, chat_id: str, chat: dict[str, Any], *, minimal: bool = False
    ) -> ChatResponse:
        """Apply a client's chat JSON without losing anything another client added.
        Only what differs from the stored rows is written (Open WebUI's frontend posts the
        whole chat to save one new message). ``minimal``: answer without the message tree (its
        size grows with the chat; the write does not); else the tree is built from the rows
        the merge read, not read again."""
        messages, current_id = parse_history(chat)
        fields: dict[str, Any] = {}
        if "title" in chat:
            fields["title"] = self._title(chat)
        if "models" in chat:
            fields["models"] = self._list(chat, "models")
        if "params" in chat:
            fields["params"] = self._dict(chat, "params")
        extra = {k: v for k, v in chat.items() if k not in CHAT_CORE_KEYS}
        row, rows = self.store.merge_messages(
            chat_id,
            user.id,
            messages,
            current_message_id=current_id,
            chat_fields=fields,
            extra=extra,
            with_rows=not minimal,
        )
        return self.response(row, rows=rows, with_messages=not minimal)

    def set_message_content(
        self, user: UserInfo, chat_id: str, message_id: str, content: str, *, minimal: bool = False
    ) -> ChatResponse:
        """Open WebUI's ``POST chats/{id}/messages/{message_id}``: one message's text (one row
        written), told to the user's sockets as ``chat:message``; the answer is the chat
        (``minimal``: without its message tree)."""
        if any(message_id in overlay(chat_id) for overlay in self.overlays):
            raise Conflict(f"Message {message_id} is being written by a generation")
        chat = self.store.set_message_content(chat_id, user.id, message_id, content)
        if self.hub is not None:
            data = {"chat_id": chat_id, "message_id": message_id, "content": content}
            self.hub.emit(user.id, "chat:message", data, chat_id=chat_id, message_id=message_id)
        if minimal:
            return self.response(chat, rows=None, with_messages=False)
        return self.get(user, chat_id)

    def append_messages(
        self,
        user: UserInfo,
        chat_id: str,
        messages: Sequence[NewMessage],
        *,
        current_message_id: str | None = None,
    ) -> list[ChatMessage]:
        """Add messages to a chat's tree: one INSERT each, whatever the chat's length."""
        return self.store.append_messages(
            chat_id, user.id, messages, current_message_id=current_message_id
        )

    def delete(self, user: UserInfo, chat_id: str) -> None:
        self.store.delete_chat(chat_id, user.id)

    def delete_all(self, user: UserInfo) -> int:
        return self.store.delete_all_chats(user.id)

    def set_title(self, user: UserInfo, chat_id: str, title: str) -> ChatResponse:
        self.store.update_chat(chat_id, user.id, title=title.strip() or "New Chat")
        return self.get(user, chat_id)

    def toggle(self, user: UserInfo, chat_id: str, field: str) -> ChatResponse:
        chat = self.store.get_chat(chat_id, user.id)
        self.store.update_chat(chat_id, user.id, **{field: not getattr(chat, field)})
        return self.get(user, chat_id)

    def move_to_folder(self, user: UserInfo, chat_id: str, folder_id: str | None) -> ChatResponse:
        self.store.update_chat(chat_id, user.id, folder_id=folder_id)
        return self.get(user, chat_id)

    def share(self, user: UserInfo, chat_id: str) -> ChatResponse:
        """Share a snapshot of the chat as it is now (Open WebUI's share): sharing again
        takes a new snapshot under the same share id."""
        response = self.get(user, chat_id)
        response.share_id = response.share_id or new_id()
        self.shares.put(chat_id, user.id, response.share_id, msgspec.to_builtins(response))
        return response

    def shared(self, share_id: str) -> ChatResponse | None:
        """The snapshot a share id shows (any user may read it); a chat shared before
        snapshots existed shows as it is."""
        row = self.shares.get(share_id)
        if row is not None:
            return msgspec.convert(row.snapshot, ChatResponse)
        chat = self.store.chat_by_share_id(share_id)
        return None if chat is None else self.response(chat)

    def unshare(self, user: UserInfo, chat_id: str) -> None:
        self.shares.remove(chat_id, user.id)

    # ----- tags -----
    def tags(self, user: UserInfo, chat_id: str) -> list[TagResponse]:
        return [self._tag(t) for t in self.tag_store.chat_tags(chat_id, user.id)]

    def all_tags(self, user: UserInfo) -> list[TagResponse]:
        return [self._tag(t) for t in self.tag_store.user_tags(user.id)]

    def add_tag(self, user: UserInfo, chat_id: str, name: str) -> list[TagResponse]:
        tag_id = tag_id_for(name)
        if not tag_id:
            raise InvalidInput("a tag needs a name")
        self.tag_store.add_tag(chat_id, user.id, tag_id, name.strip())
        return self.tags(user, chat_id)

    def remove_tag(self, user: UserInfo, chat_id: str, name: str) -> list[TagResponse]:
        self.tag_store.remove_tag(chat_id, user.id, tag_id_for(name))
        return self.tags(user, chat_id)

    def clear_tags(self, user: UserInfo, chat_id: str) -> None:
        self.tag_store.clear_tags(chat_id, user.id)

    def chats_by_tag(self, user: UserInfo, name: str) -> list[ChatTitleIdResponse]:
        return [self.summary(r) for r in self.tag_store.chats_by_tag(user.id, tag_id_for(name))]

    # ----- folders -----
    def folders(self, user: UserInfo) -> list[FolderResponse]:
        return [self._folder(f) for f in self.folder_store.list_folders(user.id)]

    def folder(self, user: UserInfo, folder_id: str) -> FolderResponse:
        return self._folder(self.folder_store.get_folder(folder_id, user.id))

    def create_folder(self, user: UserInfo, name: str, parent_id: str | None) -> FolderResponse:
        return self._folder(
            self.folder_store.create_folder(new_id(), user.id, name.strip(), parent_id)
        )

    def update_folder(self, user: UserInfo, folder_id: str, **fields: Any) -> FolderResponse:
        return self._folder(self.folder_store.update_folder(folder_id, user.id, **fields))

    def delete_folder(self, user: UserInfo, folder_id: str) -> None:
        self.folder_store.delete_folder(folder_id, user.id)

    # ----- helpers -----
    @staticmethod
    def _tag(tag: Tag) -> TagResponse:
        return TagResponse(id=tag.id, name=tag.name, user_id=tag.user_id)

    @staticmethod
    def _folder(folder: Folder) -> FolderResponse:
        return FolderResponse(
            id=folder.id,
            user_id=folder.user_id,
            parent_id=folder.parent_id,
            name=folder.name,
            is_expanded=folder.is_expanded,
            meta=folder.meta or {},
            created_at=int(folder.created_at),
            updated_at=int(folder.updated_at),
        )

    @staticmethod
    def _title(chat: dict[str, Any]) -> str:
        title = chat.get("title", "New Chat")
        if not isinstance(title, str):
            raise InvalidInput("chat.title must be a string")
        return title.strip()[:1000] or "New Chat"

    @staticmethod
    def _list(chat: dict[str, Any], key: str) -> list[Any]:
        value = chat.get(key) or []
        if not isinstance(value, list):
            raise InvalidInput(f"chat.{key} must be a list")
        return value

    @staticmethod
    def _dict(chat: dict[str, Any], key: str) -> dict[str, Any]:
        value = chat.get(key) or {}
        if not isinstance(value, dict):
            raise InvalidInput(f"chat.{key} must be an object")
        return value

    @staticmethod
    def _tags(chat: dict[str, Any]) -> list[str]:
        tags = chat.get("tags") or []
        if not isinstance(tags, list):
            raise InvalidInput("chat.tags must be a list")
        return [t for t in tags if isinstance(t, str) and t.strip()]
