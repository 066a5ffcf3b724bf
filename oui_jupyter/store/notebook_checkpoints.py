"""SQL for undo checkpoints of agent turns (``notebook_checkpoint``).

One row per (chat, assistant message, notebook path): written when the turn first changes
the notebook, updated after each later change of the same turn, deleted by its undo or with
its chat. Creating one checks the chat is the caller's (the row's foreign key needs the chat).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from oui_jupyter.store.chats import owned_chat
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import NotebookCheckpoint


@dataclass(frozen=True)
class Checkpoint:
    id: str
    chat_id: str
    message_id: str
    user_id: str
    path: str
    before: bytes
    after: bytes | None
    touched: dict[str, Any]


def _row(row: NotebookCheckpoint) -> Checkpoint:
    return Checkpoint(
        row.id,
        row.chat_id,
        row.message_id,
        row.user_id,
        row.path,
        bytes(row.before),
        bytes(row.after) if row.after is not None else None,
        dict(row.touched or {}),
    )


class NotebookCheckpointStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, chat_id: str, message_id: str, path: str) -> Checkpoint | None:
        with self.db.reader() as session:
            row = session.scalars(
                select(NotebookCheckpoint).where(
                    NotebookCheckpoint.chat_id == chat_id,
                    NotebookCheckpoint.message_id == message_id,
                    NotebookCheckpoint.path == path,
                )
            ).one_or_none()
            return _row(row) if row is not None else None

    def create(
        self, *, user_id: str, chat_id: str, message_id: str, path: str, before: bytes
    ) -> Checkpoint:
        """A new checkpoint of ``user_id``'s chat (``NotFound`` when it is not theirs)."""
        now = time.time()
        row = NotebookCheckpoint(
            id=uuid.uuid4().hex,
            chat_id=chat_id,
            message_id=message_id,
            user_id=user_id,
            path=path,
            before=before,
            after=None,
            touched={},
            created_at=now,
            updated_at=now,
        )
        with self.db.session() as session:
            owned_chat(session, chat_id, user_id)
            session.add(row)
            session.flush()
            return _row(row)

    def record_after(self, checkpoint_id: str, after: bytes, touched: dict[str, Any]) -> None:
        with self.db.session() as session:
            session.execute(
                update(NotebookCheckpoint)
                .where(NotebookCheckpoint.id == checkpoint_id)
                .values(after=after, touched=touched, updated_at=time.time())
            )

    def for_turn(self, chat_id: str, message_id: str) -> list[Checkpoint]:
        """The checkpoints of one turn, by path (whose they are, the service decides)."""
        with self.db.reader() as session:
            rows = session.scalars(
                select(NotebookCheckpoint)
                .where(
                    NotebookCheckpoint.chat_id == chat_id,
                    NotebookCheckpoint.message_id == message_id,
                )
                .order_by(NotebookCheckpoint.path)
            ).all()
            return [_row(r) for r in rows]

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self.db.session() as session:
            session.execute(delete(NotebookCheckpoint).where(NotebookCheckpoint.id.in_(ids)))
