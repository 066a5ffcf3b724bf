"""SQL for the prompt library: one row per ``/command``. The service decides who may see
or change a prompt (``services/authz.py``); this module only reads and writes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Prompt, User

#: the most prompts one listing reads (newest first)
MAX_LISTED = 5000


class PromptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, limit: int = MAX_LISTED) -> list[tuple[Prompt, User | None]]:
        """Every prompt, newest first, with its author's row."""
        query = (
            select(Prompt, User)
            .outerjoin(User, User.id == Prompt.user_id)
            .order_by(Prompt.timestamp.desc(), Prompt.command)
            .limit(limit)
        )
        with self.db.reader() as session:
            return [(p, u) for p, u in session.execute(query).all()]

    def get(self, command: str) -> Prompt:
        with self.db.reader() as session:
            row = session.get(Prompt, command)
        if row is None:
            raise NotFound(f"Prompt {command} not found")
        return row

    def create(
        self,
        command: str,
        user_id: str,
        *,
        title: str,
        content: str,
        access_control: dict[str, Any] | None,
    ) -> Prompt:
        row = Prompt(
            command=command,
            user_id=user_id,
            title=title,
            content=content,
            access_control=access_control,
            timestamp=int(time.time()),
        )
        try:
            with self.db.session() as session:
                if session.get(Prompt, command) is not None:
                    raise Conflict(f"The command {command} is taken; choose another")
                session.add(row)
        except IntegrityError:  # created at the same time elsewhere
            raise Conflict(f"The command {command} is taken; choose another") from None
        return row

    def update(self, command: str, **fields: Any) -> Prompt:
        with self.db.session() as session:
            row = session.get(Prompt, command)
            if row is None:
                raise NotFound(f"Prompt {command} not found")
            for name in ("title", "content", "access_control"):
                if name in fields:
                    setattr(row, name, fields[name])
            row.timestamp = int(time.time())
        return row

    def delete(self, command: str) -> None:
        with self.db.session() as session:
            row = session.get(Prompt, command)
            if row is None:
                raise NotFound(f"Prompt {command} not found")
            session.delete(row)
