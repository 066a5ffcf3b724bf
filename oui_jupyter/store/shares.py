"""SQL for shared-chat snapshots (``chat_share``): one per shared chat, keyed by share id."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select

from oui_jupyter.store.chats import owned_chat
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import ChatShare


class ShareStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, chat_id: str, user_id: str, share_id: str, snapshot: dict[str, Any]) -> None:
        """Keep ``snapshot`` as what ``share_id`` shows and give the chat that share id, in
        one transaction (``NotFound`` unless the chat is ``user_id``'s)."""
        now = time.time()
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            row = session.scalar(select(ChatShare).where(ChatShare.chat_id == chat_id))
            if row is None or row.share_id != share_id:
                if row is not None:
                    session.delete(row)
                    session.flush()
                session.add(
                    ChatShare(
                        share_id=share_id,
                        chat_id=chat_id,
                        user_id=user_id,
                        snapshot=snapshot,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.snapshot = snapshot
                row.updated_at = now
            chat.share_id = share_id

    def get(self, share_id: str) -> ChatShare | None:
        with self.db.reader() as session:
            return session.get(ChatShare, share_id)

    def remove(self, chat_id: str, user_id: str) -> None:
        """Stop sharing: the snapshot goes, the chat loses its share id."""
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            session.execute(delete(ChatShare).where(ChatShare.chat_id == chat_id))
            chat.share_id = None
