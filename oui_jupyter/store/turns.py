"""SQL for the completion hot path: the few statements between a request and its first token.

Every statement here is built and compiled once (``Database.prepare``) and run on a DBAPI
cursor: a turn's head read, parent check and inserts cost ~0.1 ms on SQLite instead of ~1.5 ms
through SQLAlchemy's per-call machinery. ``branch`` walks up ``parent_id`` from a leaf with a
recursive CTE on the primary key ``(chat_id, id)`` and stops after ``limit`` messages, so a
turn in a 2,000-message chat reads the same few rows as a turn in a short one.

While an answer streams, ``checkpoint_message`` saves its text so far: one UPDATE of its row by
primary key, and only while the row is ``done = false``, so the final write (which sets
``done``) always wins over a checkpoint that lands after it. ``interrupt_stale`` marks the
answers a dead server left unfinished.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    bindparam,
    false,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.chats import NewMessage
from oui_jupyter.store.db import Database, json_text, json_value, table_of
from oui_jupyter.store.orm import MESSAGE_COLUMN_NAMES, Chat, ChatMessage


@dataclass(frozen=True)
class ChatHead:
    """What a turn needs of its chat: no messages, no ORM object."""

    id: str
    title: str
    models: list[Any]
    current_message_id: str | None
    has_messages: bool


class NamedMessage(NamedTuple):
    """A stored message that a request names by id: enough to tell whether it may reuse it."""

    id: str
    parent_id: str | None
    role: str
    content: str
    done: bool


@dataclass(frozen=True)
class UnfinishedAnswer:
    """An assistant message stored ``done = false`` (being written, or left by a dead server)."""

    user_id: str
    chat_id: str
    id: str
    content: str
    updated_at: float


class TurnStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        chat, message = table_of(Chat), table_of(ChatMessage)
        chat_id: BindParameter[str] = bindparam("chat_id")
        has_message = select(message.c.id).where(message.c.chat_id == chat.c.id).limit(1).exists()
        self._head = db.prepare(
            select(
                chat.c.user_id, chat.c.title, chat.c.models, chat.c.current_message_id, has_message
            ).where(chat.c.id == chat_id)
        )
        self._parent_exists = db.prepare(
            select(message.c.seq).where(
                message.c.chat_id == chat_id, message.c.id == bindparam("parent_id")
            )
        )
        self._max_seq = db.prepare(
            select(func.max(message.c.seq)).where(message.c.chat_id == chat_id)
        )
        self._insert = db.prepare(
            insert(message).values({name: bindparam(name) for name in MESSAGE_COLUMN_NAMES})
        )
        self._touch = db.prepare(
            update(chat)
            .where(chat.c.id == chat_id)
            .values(current_message_id=bindparam("current_message_id"), updated_at=bindparam("now"))
        )
        self._touch_time = db.prepare(
            update(chat).where(chat.c.id == chat_id).values(updated_at=bindparam("now"))
        )
        self._message_extra = db.prepare(
            select(message.c.extra).where(
                message.c.chat_id == chat_id, message.c.id == bindparam("id")
            )
        )
        self._set_extra = db.prepare(
            update(message)
            .where(message.c.chat_id == chat_id, message.c.id == bindparam("id"))
            .values(extra=bindparam("extra"), updated_at=bindparam("now"))
        )
        self._finish = db.prepare(
            update(message)
            .where(message.c.chat_id == chat_id, message.c.id == bindparam("id"))
            .values(
                content=bindparam("content"),
                done=True,
                extra=bindparam("extra"),
                updated_at=bindparam("now"),
            )
        )
        self._checkpoint = db.prepare(
            update(message)
            .where(
                message.c.chat_id == chat_id,
                message.c.id == bindparam("id"),
                message.c.done == false(),
            )
            .values(content=bindparam("content"), updated_at=bindparam("now"))
        )
        self._stamp = db.prepare(
            update(message)
            .where(
                message.c.chat_id == chat_id,
                message.c.id == bindparam("id"),
                message.c.done == false(),
            )
            .values(updated_at=bindparam("now"))
        )
        self._reopen = db.prepare(
            update(message)
            .where(message.c.chat_id == chat_id, message.c.id == bindparam("id"))
            .values(done=False, updated_at=bindparam("now"))
        )
        self._interrupt = db.prepare(
            update(message)
            .where(
                message.c.chat_id == chat_id,
                message.c.id == bindparam("id"),
                message.c.done == false(),
                message.c.updated_at < bindparam("cutoff"),
            )
            .values(done=True, extra=bindparam("extra"))
        )
        self._branch = db.prepare(_branch_query())
        self._named = db.prepare(
            select(
                message.c.id, message.c.parent_id, message.c.role, message.c.content, message.c.done
            ).where(
                message.c.chat_id == chat_id, message.c.id.in_([bindparam("a"), bindparam("b")])
            )
        )

    def chat_head(self, chat_id: str, user_id: str) -> ChatHead:
        """The chat's head, checked as yours, and whether it has any message (one SELECT)."""
        with self.db.cursor() as cursor:
            row = self._head.execute(cursor, chat_id=chat_id).fetchone()
        if row is None or row[0] != user_id:
            raise NotFound(f"Chat {chat_id} not found")
        return ChatHead(chat_id, row[1], json_value(row[2]) or [], row[3], bool(row[4]))

    def named_messages(self, chat_id: str, ids: Sequence[str]) -> dict[str, NamedMessage]:
        """The stored messages of ``chat_id`` among ``ids`` (at most two: a turn's own)."""
        a, b = (ids[0], ids[-1]) if ids else ("", "")
        with self.db.cursor() as cursor:
            rows = self._named.execute(cursor, chat_id=chat_id, a=a, b=b).fetchall()
        return {r[0]: NamedMessage(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}

    def insert_turn(
        self, chat_id: str, messages: Sequence[NewMessage], current_message_id: str
    ) -> None:
        """Insert a turn's new messages (ids checked unused by the caller, in a chat
        ``chat_head`` just checked) and make the answer the chat's current message, in one
        transaction. An id taken meanwhile is a ``Conflict``; a chat deleted meanwhile, ``NotFound``."""
        now = time.time()
        parent = messages[0].parent_id if messages else None
        try:
            with self.db.cursor() as cursor:
                if (
                    parent is not None
                    and self._parent_exists.execute(
                        cursor, chat_id=chat_id, parent_id=parent
                    ).fetchone()
                    is None
                ):
                    raise NotFound(f"Parent message {parent} not found")
                seq = self._max_seq.execute(cursor, chat_id=chat_id).fetchone()[0] or 0
                if messages:
                    self._insert.executemany(
                        cursor,
                        [
                            {
                                "id": m.id,
                                "chat_id": chat_id,
                                "parent_id": m.parent_id,
                                "seq": seq + 1 + i,
                                "role": m.role,
                                "content": m.content,
                                "model": m.model,
                                "done": m.done,
                                "extra": json_text(m.extra),
                                "created_at": now,
                                "updated_at": now,
                            }
                            for i, m in enumerate(messages)
                        ],
                    )
                self._touch.execute(
                    cursor, chat_id=chat_id, current_message_id=current_message_id, now=now
                )
        except self.db.integrity_error:
            with self.db.cursor() as cursor:
                if self._head.execute(cursor, chat_id=chat_id).fetchone() is None:
                    raise NotFound(f"Chat {chat_id} not found") from None
            ids = ", ".join(m.id for m in messages)
            raise Conflict(
                f"A message id of this turn ({ids}) is already used in chat {chat_id}"
            ) from None

    def finish_message(
        self, chat_id: str, message_id: str, content: str, extra: dict[str, Any]
    ) -> None:
        """Save an answer's text as done, merging ``extra`` into the message's stored extra."""
        now = time.time()
        with self.db.cursor() as cursor:
            row = self._message_extra.execute(cursor, chat_id=chat_id, id=message_id).fetchone()
            if row is None:
                raise NotFound(f"Message {message_id} not found")
            merged = {**(json_value(row[0]) or {}), **extra}
            merged.pop("interrupted", None)  # continued, or marked by a server that judged it dead
            self._finish.execute(
                cursor,
                chat_id=chat_id,
                id=message_id,
                content=content,
                extra=json_text(merged),
                now=now,
            )
            self._touch_time.execute(cursor, chat_id=chat_id, now=now)

    def set_tool_calls(
        self, chat_id: str, message_id: str, tool_calls: list[dict[str, Any]]
    ) -> None:
        """Save an answer's tool call records (``extra.tool_calls``) while it is written: one
        SELECT and one UPDATE of its row, whatever the chat's length."""
        with self.db.cursor() as cursor:
            row = self._message_extra.execute(cursor, chat_id=chat_id, id=message_id).fetchone()
            if row is None:
                return
            merged = {**(json_value(row[0]) or {}), "tool_calls": tool_calls}
            self._set_extra.execute(
                cursor, chat_id=chat_id, id=message_id, extra=json_text(merged), now=time.time()
            )

    def checkpoint_message(self, chat_id: str, message_id: str, content: str | None) -> bool:
        """Save the text so far of an answer being written (``None``: only stamp the row as
        still being written): one UPDATE of its row, none of the chat. False when the row is
        gone or already ``done`` (the final write came first)."""
        now = time.time()
        with self.db.cursor() as cursor:
            if content is None:
                return (
                    self._stamp.execute(cursor, chat_id=chat_id, id=message_id, now=now).rowcount
                    == 1
                )
            return (
                self._checkpoint.execute(
                    cursor, chat_id=chat_id, id=message_id, content=content, now=now
                ).rowcount
                == 1
            )

    def reopen_message(self, chat_id: str, message_id: str) -> None:
        """Mark an answer that a ``continue`` turn extends as being written again."""
        with self.db.cursor() as cursor:
            self._reopen.execute(cursor, chat_id=chat_id, id=message_id, now=time.time())

    def unfinished_answers(
        self, keys: Sequence[tuple[str, str]] | None = None
    ) -> list[UnfinishedAnswer]:
        """Assistant messages stored ``done = false``: all of them, or those of ``keys``
        ``(chat_id, message_id)``. A scan of the message table: run it off the event loop."""
        message, chat = table_of(ChatMessage), table_of(Chat)
        query = (
            select(
                chat.c.user_id,
                message.c.chat_id,
                message.c.id,
                message.c.content,
                message.c.updated_at,
            )
            .join(chat, chat.c.id == message.c.chat_id)
            .where(message.c.done == false(), message.c.role == "assistant")
        )
        if keys is not None:
            if not keys:
                return []
            query = query.where(tuple_(message.c.chat_id, message.c.id).in_(list(keys)))
        with self.db.engine.connect() as connection:
            return [UnfinishedAnswer(*row) for row in connection.execute(query)]

    def interrupt(
        self, answers: Sequence[UnfinishedAnswer], cutoff: float
    ) -> list[UnfinishedAnswer]:
        """Mark these answers interrupted (``done: true``, ``interrupted: true`` in the message)
        where they are still unfinished and their row was last written before ``cutoff``: a
        checkpoint that lands meanwhile keeps its answer running. Returns those marked."""
        marked = []
        with self.db.cursor() as cursor:
            for answer in answers:
                row = self._message_extra.execute(
                    cursor, chat_id=answer.chat_id, id=answer.id
                ).fetchone()
                if row is None:
                    continue
                extra = {**(json_value(row[0]) or {}), "interrupted": True}
                if (
                    self._interrupt.execute(
                        cursor,
                        chat_id=answer.chat_id,
                        id=answer.id,
                        extra=json_text(extra),
                        cutoff=cutoff,
                    ).rowcount
                    == 1
                ):
                    marked.append(answer)
        return marked

    def branch(self, chat_id: str, leaf_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` messages ending at ``leaf_id``, root side first."""
        with self.db.cursor() as cursor:
            rows = self._branch.execute(
                cursor, chat_id=chat_id, leaf_id=leaf_id, limit=limit
            ).fetchall()
        if not rows:
            raise NotFound(f"Message {leaf_id} not found in chat {chat_id}")
        return [
            {"id": r[0], "parentId": r[1], "role": r[2], "content": r[3], "extra": json_value(r[4])}
            for r in rows
        ]

    def message(self, chat_id: str, message_id: str) -> ChatMessage | None:
        with self.db.reader() as session:
            return session.get(ChatMessage, (chat_id, message_id))


def _branch_query() -> Any:
    m = table_of(ChatMessage)
    chat_id: BindParameter[str] = bindparam("chat_id")
    limit: BindParameter[int] = bindparam("limit")
    start = (
        select(m.c.id, m.c.parent_id, m.c.role, m.c.content, m.c.extra, literal(1).label("depth"))
        .where(m.c.chat_id == chat_id, m.c.id == bindparam("leaf_id"))
        .cte("branch", recursive=True)
    )
    parent = m.alias("parent")
    walk = start.union_all(
        select(
            parent.c.id,
            parent.c.parent_id,
            parent.c.role,
            parent.c.content,
            parent.c.extra,
            (start.c.depth + 1).label("depth"),
        ).where(
            parent.c.chat_id == chat_id, parent.c.id == start.c.parent_id, start.c.depth < limit
        )
    )
    return select(walk.c.id, walk.c.parent_id, walk.c.role, walk.c.content, walk.c.extra).order_by(
        walk.c.depth.desc()
    )
