"""Whole chats written in bulk: imports and clones, in plain SQL and bounded batches.

A 100,000-message chat through the ORM is 100,000 objects in one session; here rows go as
``executemany`` statements of at most ``BATCH_ROWS`` rows on a DBAPI cursor (``Prepared``), and a
clone copies its rows inside the database (``INSERT ... SELECT``, by ``seq`` ranges) without
reading them. Each chat is written in one transaction (all of it or nothing); small chats are
grouped, about ``BATCH_ROWS`` rows to a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from oui_jupyter.errors import NotFound
from oui_jupyter.store.chats import NewMessage
from oui_jupyter.store.db import Database, json_text, table_of
from oui_jupyter.store.orm import MESSAGE_COLUMN_NAMES, Chat, ChatMessage, ChatTag, Tag

BATCH_ROWS = 2000

_CHAT_COLUMNS = (
    "id",
    "user_id",
    "title",
    "current_message_id",
    "models",
    "params",
    "meta",
    "extra",
    "pinned",
    "archived",
    "folder_id",
    "share_id",
    "created_at",
    "updated_at",
)


@dataclass
class NewChat:
    """A whole chat to insert; ``meta["tags"]`` is set from ``tags`` (``(tag_id, name)`` pairs)."""

    id: str
    user_id: str
    title: str
    models: list[Any] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    archived: bool = False
    folder_id: str | None = None
    current_message_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    messages: Sequence[NewMessage] = ()
    tags: list[tuple[str, str]] = field(default_factory=list)


class ChatBulkStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        chat, message, tag = table_of(Chat), table_of(ChatMessage), table_of(Tag)
        self._insert_chat = db.prepare(
            insert(chat).values({c: bindparam(c) for c in _CHAT_COLUMNS})
        )
        self._insert_message = db.prepare(
            insert(message).values({c: bindparam(c) for c in MESSAGE_COLUMN_NAMES})
        )
        dialect_insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._insert_tag = db.prepare(
            dialect_insert(tag)
            .values(
                id=bindparam("id"),
                user_id=bindparam("user_id"),
                name=bindparam("name"),
                meta=bindparam("meta"),
            )
            .on_conflict_do_nothing()
        )
        self._insert_chat_tag = db.prepare(
            insert(table_of(ChatTag)).values(
                chat_id=bindparam("chat_id"),
                tag_id=bindparam("tag_id"),
                user_id=bindparam("user_id"),
            )
        )
        source: BindParameter[str] = bindparam("source_id")
        # The source chat's row, locked against deletion while its messages are copied
        # (PostgreSQL; on SQLite the clone's write transaction already excludes writers).
        self._lock_source = db.prepare(
            select(chat.c.id).where(chat.c.id == source).with_for_update(read=True)
        )
        self._seq_range = db.prepare(
            select(func.min(message.c.seq), func.max(message.c.seq)).where(
                message.c.chat_id == source
            )
        )
        copied = [c for c in MESSAGE_COLUMN_NAMES if c != "chat_id"]
        self._copy_messages = db.prepare(
            insert(message).from_select(
                ["chat_id", *copied],
                select(bindparam("chat_id"), *(message.c[c] for c in copied)).where(
                    message.c.chat_id == source,
                    message.c.seq >= bindparam("low"),
                    message.c.seq < bindparam("high"),
                ),
            )
        )
        self._chat_ids = db.prepare(
            select(chat.c.id)
            .where(chat.c.user_id == bindparam("user_id"))
            .order_by(chat.c.updated_at.desc(), chat.c.id.desc())
        )

    # ----- import -----
    def insert_chats(self, chats: Sequence[NewChat]) -> None:
        """Insert whole chats, about ``BATCH_ROWS`` rows to a transaction, a chat never split."""
        group: list[NewChat] = []
        rows = 0
        for chat in chats:
            group.append(chat)
            rows += 1 + len(chat.messages)
            if rows >= BATCH_ROWS:
                self._insert_group(group)
                group, rows = [], 0
        if group:
            self._insert_group(group)

    def _insert_group(self, group: Sequence[NewChat]) -> None:
        with self.db.cursor() as cursor:
            self._insert_chat.executemany(cursor, [self._chat_values(chat) for chat in group])
            for batch in _batches(self._message_values(group), BATCH_ROWS):
                self._insert_message.executemany(cursor, batch)
            self._insert_tags(cursor, group)

    @staticmethod
    def _chat_values(chat: NewChat) -> dict[str, Any]:
        meta = {**chat.meta, "tags": [tag_id for tag_id, _ in chat.tags]}
        return {
            "id": chat.id,
            "user_id": chat.user_id,
            "title": chat.title,
            "current_message_id": chat.current_message_id,
            "models": json_text(chat.models),
            "params": json_text(chat.params),
            "meta": json_text(meta),
            "extra": json_text(chat.extra),
            "pinned": chat.pinned,
            "archived": chat.archived,
            "folder_id": chat.folder_id,
            "share_id": None,
            "created_at": chat.created_at,
            "updated_at": chat.updated_at,
        }

    @staticmethod
    def _message_values(group: Sequence[NewChat]) -> Iterator[dict[str, Any]]:
        now = time.time()
        for chat in group:
            for seq, m in enumerate(chat.messages, start=1):
                created = m.created_at or now
                yield {
                    "id": m.id,
                    "chat_id": chat.id,
                    "parent_id": m.parent_id,
                    "seq": seq,
                    "role": m.role,
                    "content": m.content,
                    "model": m.model,
                    "done": m.done,
                    "extra": json_text(m.extra),
                    "created_at": created,
                    "updated_at": created,
                }

    def _insert_tags(self, cursor: Any, group: Sequence[NewChat]) -> None:
        tags = {(tag_id, chat.user_id): name for chat in group for tag_id, name in chat.tags}
        if not tags:
            return
        empty = json_text({})
        self._insert_tag.executemany(
            cursor,
            [
                {"id": tag_id, "user_id": user_id, "name": name, "meta": empty}
                for (tag_id, user_id), name in tags.items()
            ],
        )
        self._insert_chat_tag.executemany(
            cursor,
            [
                {"chat_id": chat.id, "tag_id": tag_id, "user_id": chat.user_id}
                for chat in group
                for tag_id, _ in chat.tags
            ],
        )

    # ----- clone -----
    def clone_chat(self, source_id: str, copy: NewChat) -> None:
        """Insert ``copy`` (its own fields and tags) with every message of ``source_id``,
        copied in the database, ``BATCH_ROWS`` rows a statement, in one transaction."""
        try:
            with self.db.cursor() as cursor:
                self._insert_chat.execute(cursor, **self._chat_values(copy))
                if self._lock_source.execute(cursor, source_id=source_id).fetchone() is None:
                    raise NotFound(f"Chat {source_id} not found")
                low, high = self._seq_range.execute(cursor, source_id=source_id).fetchone()
                if low is not None:
                    for start in range(low, high + 1, BATCH_ROWS):
                        self._copy_messages.execute(
                            cursor,
                            source_id=source_id,
                            chat_id=copy.id,
                            low=start,
                            high=start + BATCH_ROWS,
                        )
                self._insert_tags(cursor, [copy])
        except self.db.integrity_error:  # its folder was deleted meanwhile
            raise NotFound(f"Chat {source_id} not found") from None

    # ----- export -----
    def chat_ids(self, user_id: str) -> list[str]:
        """Every chat of the user (archived too), most recently updated first."""
        with self.db.cursor() as cursor:
            return [row[0] for row in self._chat_ids.execute(cursor, user_id=user_id).fetchall()]


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
