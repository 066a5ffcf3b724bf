"""SQL for ratings (``feedback``) and the ``annotation`` they leave on the rated message.

A rating and its message's annotation are written in one transaction; reads are scoped by
the owner id the service hands in (``None``: everyone's, for admins).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.chats import owned_chat
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import ChatMessage, Feedback, User

#: rows the leaderboard reads per round trip
RATING_BATCH = 1000
#: keys of a message's ``extra`` a rating writes (Open WebUI's)
ANNOTATION_KEYS = ("annotation", "feedbackId")


@dataclass(frozen=True)
class RatedMessage:
    """What a rating is checked against: the message, and its siblings' models."""

    role: str
    model: str | None
    sibling_models: frozenset[str]


@dataclass(frozen=True)
class RatingRow:
    """What the leaderboard reads of a rating."""

    id: str
    data: dict[str, Any]
    created_at: float


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def rated_message(self, chat_id: str, user_id: str, message_id: str) -> RatedMessage:
        """The message ``message_id`` of ``user_id``'s chat (else ``NotFound``)."""
        with self.db.reader() as session:
            owned_chat(session, chat_id, user_id)
            row = session.execute(
                select(ChatMessage.role, ChatMessage.model, ChatMessage.parent_id).where(
                    ChatMessage.chat_id == chat_id, ChatMessage.id == message_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"Message {message_id} not found in chat {chat_id}")
            siblings: frozenset[str] = frozenset()
            if row.parent_id is not None:
                models = session.scalars(
                    select(ChatMessage.model).where(
                        ChatMessage.chat_id == chat_id,
                        ChatMessage.parent_id == row.parent_id,
                        ChatMessage.id != message_id,
                        ChatMessage.role == "assistant",
                    )
                )
                siblings = frozenset(m for m in models if m)
        return RatedMessage(row.role, row.model, siblings)

    def save(
        self,
        *,
        user_id: str,
        chat_id: str,
        message_id: str,
        new_id: str,
        type_: str,
        data: dict[str, Any],
        meta: dict[str, Any],
        snapshot: dict[str, Any] | None,
        annotation: dict[str, Any],
        feedback_id: str | None = None,
    ) -> Feedback:
        """Insert the message's rating, or update the one it has (``feedback_id``: that one,
        which must be ``user_id``'s and for this message), and set the message's
        ``annotation`` and ``feedbackId``, in one transaction."""
        try:
            return self._save(
                user_id=user_id,
                chat_id=chat_id,
                message_id=message_id,
                new_id=new_id,
                type_=type_,
                data=data,
                meta=meta,
                snapshot=snapshot,
                annotation=annotation,
                feedback_id=feedback_id,
            )
        except IntegrityError:  # a first rating of this message saved meanwhile elsewhere
            raise Conflict(f"Message {message_id} was rated at the same time; try again") from None

    def _save(
        self,
        *,
        user_id: str,
        chat_id: str,
        message_id: str,
        new_id: str,
        type_: str,
        data: dict[str, Any],
        meta: dict[str, Any],
        snapshot: dict[str, Any] | None,
        annotation: dict[str, Any],
        feedback_id: str | None,
    ) -> Feedback:
        now = time.time()
        with self.db.session() as session:
            owned_chat(session, chat_id, user_id)
            message = session.get(ChatMessage, (chat_id, message_id))
            if message is None:
                raise NotFound(f"Message {message_id} not found in chat {chat_id}")
            row = session.scalar(
                select(Feedback).where(
                    Feedback.chat_id == chat_id, Feedback.message_id == message_id
                )
            )
            if feedback_id is not None and (row is None or row.id != feedback_id):
                raise NotFound(f"Feedback {feedback_id} not found")
            if row is None:
                row = Feedback(
                    id=new_id,
                    user_id=user_id,
                    chat_id=chat_id,
                    message_id=message_id,
                    version=0,
                    created_at=now,
                )
                session.add(row)
            else:
                row.version = (row.version or 0) + 1
            row.type, row.data, row.meta = type_, data, meta
            if snapshot is not None or row.snapshot is None:
                row.snapshot = snapshot
            row.updated_at = now
            message.extra = {
                **(message.extra or {}),
                "annotation": annotation,
                "feedbackId": row.id,
            }
            message.updated_at = now
            session.flush()
            return row

    def get(self, feedback_id: str, owner: str | None) -> Feedback:
        with self.db.reader() as session:
            row = session.get(Feedback, feedback_id)
            if row is None or (owner is not None and row.user_id != owner):
                raise NotFound(f"Feedback {feedback_id} not found")
            return row

    def list(self, owner: str | None) -> list[tuple[Feedback, str | None]]:
        """Ratings newest first, each with its author's name (``owner``: only theirs)."""
        query = (
            select(Feedback, User.name)
            .outerjoin(User, User.id == Feedback.user_id)
            .order_by(Feedback.updated_at.desc(), Feedback.id)
        )
        if owner is not None:
            query = query.where(Feedback.user_id == owner)
        with self.db.reader() as session:
            return [(row, name) for row, name in session.execute(query).all()]

    def delete(self, feedback_id: str, owner: str | None) -> None:
        """Delete a rating and take its annotation off its message (if the chat is there)."""
        with self.db.session() as session:
            row = session.get(Feedback, feedback_id)
            if row is None or (owner is not None and row.user_id != owner):
                raise NotFound(f"Feedback {feedback_id} not found")
            message = session.get(ChatMessage, (row.chat_id, row.message_id))
            if message is not None and (message.extra or {}).get("feedbackId") == row.id:
                message.extra = {
                    k: v for k, v in (message.extra or {}).items() if k not in ANNOTATION_KEYS
                }
            session.delete(row)

    def delete_all(self) -> int:
        """Every rating (admins); messages keep their annotations, as Open WebUI's do."""
        with self.db.session() as session:
            result = session.execute(delete(Feedback))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def ratings(self) -> Iterator[RatingRow]:
        """Every ``rating`` feedback's ``data``, oldest first (ties by id), in batches."""
        after: tuple[float, str] | None = None
        while True:
            query = (
                select(Feedback.id, Feedback.data, Feedback.created_at)
                .where(Feedback.type == "rating")
                .order_by(Feedback.created_at, Feedback.id)
                .limit(RATING_BATCH)
            )
            if after is not None:
                query = query.where(
                    (Feedback.created_at > after[0])
                    | ((Feedback.created_at == after[0]) & (Feedback.id > after[1]))
                )
            with self.db.reader() as session:
                rows = session.execute(query).all()
            for row in rows:
                yield RatingRow(row.id, row.data or {}, row.created_at)
            if len(rows) < RATING_BATCH:
                return
            after = (rows[-1].created_at, rows[-1].id)
