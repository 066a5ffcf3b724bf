"""SQL for the completion hot path: a branch read that costs O(branch), not O(chat).

``branch`` walks up ``parent_id`` from a leaf with a recursive CTE on the primary key
``(chat_id, id)`` and stops after ``limit`` messages, so a turn in a 2,000-message chat reads
the same few rows as a turn in a short one.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from oui_jupyter.errors import NotFound
from oui_jupyter.store.chats import NewMessage
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Chat, ChatMessage


class TurnStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def chat_head(self, chat_id: str, user_id: str) -> tuple[Any, bool]:
        """The chat's head row (``id``, ``title``, ``models``, ``current_message_id``), checked
        as yours, and whether it has any message: one plain SELECT, no ORM object."""
        has_message = (
            select(ChatMessage.id).where(ChatMessage.chat_id == Chat.id).limit(1).exists()
        )
        query = select(
            Chat.id, Chat.user_id, Chat.title, Chat.models, Chat.current_message_id,
            has_message.label("has_messages"),
        ).where(Chat.id == chat_id)
        with self.db.reader() as session:
            row = session.execute(query).first()
        if row is None or row.user_id != user_id:
            raise NotFound(f"Chat {chat_id} not found")
        return row, bool(row.has_messages)

    def insert_turn(
        self, chat_id: str, messages: Sequence[NewMessage], current_message_id: str
    ) -> None:
        """Insert a turn's new messages (server-made ids, in a chat ``chat_head`` just checked)
        and make the answer the chat's current message: plain INSERT/UPDATE statements, no
        ORM objects, since this sits between a request and its first token."""
        now = time.time()
        parent = messages[0].parent_id if messages else None
        with self.db.session() as session:
            if parent is not None and session.scalar(
                select(ChatMessage.seq).where(ChatMessage.chat_id == chat_id, ChatMessage.id == parent)
            ) is None:
                raise NotFound(f"Parent message {parent} not found")
            seq = session.scalar(select(func.max(ChatMessage.seq)).where(ChatMessage.chat_id == chat_id)) or 0
            rows = [
                {
                    "id": m.id, "chat_id": chat_id, "parent_id": m.parent_id, "seq": seq + 1 + i,
                    "role": m.role, "content": m.content, "model": m.model, "done": m.done,
                    "extra": m.extra, "created_at": now, "updated_at": now,
                }
                for i, m in enumerate(messages)
            ]
            try:
                if rows:
                    session.execute(insert(ChatMessage), rows)
                session.execute(
                    update(Chat).where(Chat.id == chat_id)
                    .values(current_message_id=current_message_id, updated_at=now)
                )
            except IntegrityError:  # the chat was deleted meanwhile
                raise NotFound(f"Chat {chat_id} not found") from None

    def branch(self, chat_id: str, leaf_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` messages ending at ``leaf_id``, root side first."""
        m = ChatMessage.__table__
        start = (
            select(m.c.id, m.c.parent_id, m.c.role, m.c.content, m.c.extra, literal(1).label("depth"))
            .where(m.c.chat_id == chat_id, m.c.id == leaf_id)
            .cte("branch", recursive=True)
        )
        parent = m.alias("parent")
        walk = start.union_all(
            select(
                parent.c.id, parent.c.parent_id, parent.c.role, parent.c.content, parent.c.extra,
                (start.c.depth + 1).label("depth"),
            ).where(
                parent.c.chat_id == chat_id,
                parent.c.id == start.c.parent_id,
                start.c.depth < limit,
            )
        )
        query = select(walk.c.id, walk.c.parent_id, walk.c.role, walk.c.content, walk.c.extra).order_by(
            walk.c.depth.desc()
        )
        with self.db.reader() as session:
            rows = session.execute(query).all()
        if not rows:
            raise NotFound(f"Message {leaf_id} not found in chat {chat_id}")
        return [
            {"id": r.id, "parentId": r.parent_id, "role": r.role, "content": r.content, "extra": r.extra}
            for r in rows
        ]

    def message(self, chat_id: str, message_id: str) -> ChatMessage | None:
        with self.db.reader() as session:
            return session.get(ChatMessage, (chat_id, message_id))
