"""SQL for chat tags: one ``tag`` row per user and tag id, one ``chat_tag`` row per tagged
chat, and the chat's ``meta["tags"]`` listing its tag ids (where Open WebUI reads them).

A tag that no chat uses any more is deleted. Every query is scoped by ``user_id``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from oui_jupyter.store.chats import CHAT_SUMMARY_COLUMNS, owned_chat
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Chat, ChatTag, Tag


class TagStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def chat_tags(self, chat_id: str, user_id: str) -> list[Tag]:
        with self.db.reader() as session:
            owned_chat(session, chat_id, user_id)
            query = (
                select(Tag)
                .join(ChatTag, (ChatTag.tag_id == Tag.id) & (ChatTag.user_id == Tag.user_id))
                .where(ChatTag.chat_id == chat_id)
                .order_by(Tag.name)
            )
            return list(session.scalars(query))

    def user_tags(self, user_id: str) -> list[Tag]:
        with self.db.reader() as session:
            return list(
                session.scalars(select(Tag).where(Tag.user_id == user_id).order_by(Tag.name))
            )

    def add_tag(self, chat_id: str, user_id: str, tag_id: str, name: str) -> None:
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            if session.get(Tag, (tag_id, user_id)) is None:
                session.add(Tag(id=tag_id, user_id=user_id, name=name, meta={}))
            if session.get(ChatTag, (chat_id, tag_id)) is None:
                session.add(ChatTag(chat_id=chat_id, tag_id=tag_id, user_id=user_id))
            tags = list((chat.meta or {}).get("tags", []))
            if tag_id not in tags:
                chat.meta = {**(chat.meta or {}), "tags": [*tags, tag_id]}

    def remove_tag(self, chat_id: str, user_id: str, tag_id: str) -> None:
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            session.execute(
                delete(ChatTag).where(ChatTag.chat_id == chat_id, ChatTag.tag_id == tag_id)
            )
            tags = [t for t in (chat.meta or {}).get("tags", []) if t != tag_id]
            chat.meta = {**(chat.meta or {}), "tags": tags}
            self._drop_unused_tag(session, user_id, tag_id)

    def clear_tags(self, chat_id: str, user_id: str) -> None:
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            tag_ids = list(
                session.scalars(select(ChatTag.tag_id).where(ChatTag.chat_id == chat_id))
            )
            session.execute(delete(ChatTag).where(ChatTag.chat_id == chat_id))
            chat.meta = {**(chat.meta or {}), "tags": []}
            for tag_id in tag_ids:
                self._drop_unused_tag(session, user_id, tag_id)

    def _drop_unused_tag(self, session: Session, user_id: str, tag_id: str) -> None:
        session.flush()
        used = session.scalar(
            select(func.count())
            .select_from(ChatTag)
            .where(ChatTag.user_id == user_id, ChatTag.tag_id == tag_id)
        )
        if not used:
            session.execute(delete(Tag).where(Tag.user_id == user_id, Tag.id == tag_id))

    def chats_by_tag(self, user_id: str, tag_id: str) -> list[Any]:
        """Summaries (``CHAT_SUMMARY_COLUMNS``) of the chats tagged ``tag_id``, newest first."""
        query = (
            select(*CHAT_SUMMARY_COLUMNS)
            .join(ChatTag, ChatTag.chat_id == Chat.id)
            .where(ChatTag.user_id == user_id, ChatTag.tag_id == tag_id)
            .order_by(Chat.updated_at.desc())
        )
        with self.db.reader() as session:
            return list(session.execute(query).all())
