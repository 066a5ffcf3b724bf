"""SQL for users' memories: every read and write is scoped by the owner's id."""

from __future__ import annotations

import time

from sqlalchemy import delete, func, select

from oui_jupyter.errors import NotFound, PayloadTooLarge
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Memory


class MemoryStore:
    def __init__(self, db: Database, max_per_user: int = 1000) -> None:
        self.db = db
        self.max_per_user = max_per_user

    def list(self, user_id: str) -> list[Memory]:
        """The user's memories, oldest first (Open WebUI's order)."""
        query = (
            select(Memory)
            .where(Memory.user_id == user_id)
            .order_by(Memory.created_at, Memory.id)
            .limit(self.max_per_user)
        )
        with self.db.reader() as session:
            return list(session.scalars(query))

    def add(self, memory_id: str, user_id: str, content: str) -> Memory:
        now = int(time.time())
        with self.db.session() as session:
            count = session.scalar(
                select(func.count()).select_from(Memory).where(Memory.user_id == user_id)
            )
            if (count or 0) >= self.max_per_user:
                raise PayloadTooLarge(
                    f"You have {count} memories, the most kept; delete some first",
                    reason="memories_full",
                )
            row = Memory(
                id=memory_id, user_id=user_id, content=content, created_at=now, updated_at=now
            )
            session.add(row)
        return row

    def update(self, memory_id: str, user_id: str, content: str) -> Memory:
        with self.db.session() as session:
            row = session.get(Memory, memory_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"Memory {memory_id} not found")
            row.content = content
            row.updated_at = int(time.time())
        return row

    def delete(self, memory_id: str, user_id: str) -> None:
        with self.db.session() as session:
            row = session.get(Memory, memory_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"Memory {memory_id} not found")
            session.delete(row)

    def delete_all(self, user_id: str) -> int:
        with self.db.session() as session:
            result = session.execute(delete(Memory).where(Memory.user_id == user_id))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
