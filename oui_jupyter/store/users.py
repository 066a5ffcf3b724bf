"""SQL for users (rows made on first sight of a Jupyter identity) and config entries."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import ConfigEntry, User


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(
        self, user_id: str, *, name: str, display_name: str, role: str, groups: list[str]
    ) -> User:
        """Create the user on first sight; refresh what Jupyter says about them. Two first
        requests of one user may race to create the row: the loser updates it instead."""
        try:
            return self._upsert(user_id, name, display_name, role, groups)
        except IntegrityError:
            return self._upsert(user_id, name, display_name, role, groups)

    def _upsert(
        self, user_id: str, name: str, display_name: str, role: str, groups: list[str]
    ) -> User:
        now = time.time()
        with self.db.session() as session:
            user = session.get(User, user_id)
            if user is None:
                user = User(
                    id=user_id,
                    name=name,
                    display_name=display_name,
                    role=role,
                    groups=groups,
                    settings={},
                    created_at=now,
                    last_active_at=now,
                )
                session.add(user)
            else:
                user.name = name
                user.display_name = display_name
                user.role = role
                user.groups = groups
                user.last_active_at = now
        return user

    def get(self, user_id: str) -> User | None:
        with self.db.reader() as session:
            return session.get(User, user_id)

    def list(self) -> list[User]:
        with self.db.reader() as session:
            return list(session.scalars(select(User).order_by(User.created_at)))

    def settings(self, user_id: str) -> dict[str, Any]:
        """The user's own settings (Open WebUI's ``user.settings``: ``ui`` and more)."""
        with self.db.reader() as session:
            value = session.scalar(select(User.settings).where(User.id == user_id))
        return value if isinstance(value, dict) else {}

    def set_settings(self, user_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        with self.db.session() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.settings = settings
        return settings


class ConfigStore:
    """Admin settings kept in the database as JSON values under string keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        with self.db.reader() as session:
            entry = session.get(ConfigEntry, key)
            return default if entry is None else entry.value

    def set(self, key: str, value: Any) -> None:
        with self.db.session() as session:
            entry = session.get(ConfigEntry, key)
            if entry is None:
                session.add(ConfigEntry(key=key, value=value, updated_at=time.time()))
            else:
                entry.value = value
                entry.updated_at = time.time()
