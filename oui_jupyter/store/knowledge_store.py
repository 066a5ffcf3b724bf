"""SQL for knowledge collections and uploaded files.

A collection is visible to its owner, and to everyone when ``shared``; only the owner
(or an admin) may change it. A file is visible to its owner, and to readers of a
collection that contains it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from oui_jupyter.errors import Forbidden, NotFound
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import File, Knowledge

KNOWLEDGE_FIELDS = ("name", "description", "data", "meta", "access_control", "shared")


@dataclass(frozen=True)
class Actor:
    id: str
    is_admin: bool = False


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ----- knowledge -----
    def create(
        self,
        user_id: str,
        name: str,
        description: str = "",
        *,
        data: dict | None = None,
        meta: dict | None = None,
        access_control: Any = None,
        shared: bool = False,
    ) -> Knowledge:
        now = time.time()
        row = Knowledge(
            id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            description=description,
            data={"file_ids": [], "paths": [], **(data or {})},
            meta=meta or {},
            access_control=access_control,
            shared=shared,
            created_at=now,
            updated_at=now,
        )
        with self.db.session() as s:
            s.add(row)
        return row

    def _visible(self, s, knowledge_id: str, actor: Actor) -> Knowledge:
        row = s.get(Knowledge, knowledge_id)
        if row is None or not (row.shared or row.user_id == actor.id or actor.is_admin):
            raise NotFound(f"Knowledge {knowledge_id} not found")
        return row

    def _writable(self, s, knowledge_id: str, actor: Actor) -> Knowledge:
        row = self._visible(s, knowledge_id, actor)
        if row.user_id != actor.id and not actor.is_admin:
            raise Forbidden("Only the owner may change this collection")
        return row

    def get(self, knowledge_id: str, actor: Actor) -> Knowledge:
        with self.db.reader() as s:
            return self._visible(s, knowledge_id, actor)

    def find(self, knowledge_id: str) -> Knowledge | None:
        with self.db.reader() as s:
            return s.get(Knowledge, knowledge_id)

    def list(self, actor: Actor) -> list[Knowledge]:
        with self.db.reader() as s:
            q = select(Knowledge).order_by(Knowledge.updated_at.desc())
            if not actor.is_admin:
                q = q.where(or_(Knowledge.user_id == actor.id, Knowledge.shared.is_(True)))
            return list(s.scalars(q))

    def list_all(self) -> list[Knowledge]:
        with self.db.reader() as s:
            return list(s.scalars(select(Knowledge)))

    def update(self, knowledge_id: str, actor: Actor, **changes: Any) -> Knowledge:
        with self.db.session() as s:
            row = self._writable(s, knowledge_id, actor)
            for key, value in changes.items():
                if key in KNOWLEDGE_FIELDS:
                    setattr(row, key, value)
            row.updated_at = time.time()
            return row

    def update_data(
        self,
        knowledge_id: str,
        actor: Actor,
        *,
        add_files=(),
        remove_files=(),
        add_paths=(),
        remove_paths=(),
    ) -> Knowledge:
        """Add/remove file ids and workspace paths, keeping order and uniqueness."""
        with self.db.session() as s:
            row = self._writable(s, knowledge_id, actor)
            data = dict(row.data or {})
            files = [f for f in data.get("file_ids", []) if f not in set(remove_files)]
            paths = [p for p in data.get("paths", []) if p not in set(remove_paths)]
            files += [f for f in add_files if f not in files]
            paths += [p for p in add_paths if p not in paths]
            data["file_ids"], data["paths"] = files, paths
            row.data = data  # a new dict so SQLAlchemy sees the change
            row.updated_at = time.time()
            return row

    def delete(self, knowledge_id: str, actor: Actor) -> Knowledge:
        with self.db.session() as s:
            row = self._writable(s, knowledge_id, actor)
            s.delete(row)
            return row

    def collections_with_file(self, file_id: str) -> list[Knowledge]:
        with self.db.reader() as s:
            return [
                k
                for k in s.scalars(select(Knowledge))
                if file_id in (k.data or {}).get("file_ids", [])
            ]

    # ----- files -----
    def add_file(
        self,
        user_id: str,
        *,
        file_id: str,
        filename: str,
        path: str,
        hash: str,
        size: int,
        content_type: str,
        meta: dict | None = None,
    ) -> File:
        now = time.time()
        row = File(
            id=file_id,
            user_id=user_id,
            filename=filename,
            path=path,
            hash=hash,
            size=size,
            content_type=content_type,
            status="pending",
            error=None,
            data={},
            meta=meta or {},
            created_at=now,
            updated_at=now,
        )
        with self.db.session() as s:
            s.add(row)
        return row

    def get_file(self, file_id: str, actor: Actor | None = None) -> File:
        """The file if ``actor`` may read it (``None``: no check)."""
        with self.db.reader() as s:
            row = s.get(File, file_id)
            if row is None:
                raise NotFound(f"File {file_id} not found")
            if actor is None or row.user_id == actor.id or actor.is_admin:
                return row
        if any(k.shared or k.user_id == actor.id for k in self.collections_with_file(file_id)):
            return row
        raise NotFound(f"File {file_id} not found")

    def list_files(self, actor: Actor) -> list[File]:
        with self.db.reader() as s:
            q = select(File).order_by(File.created_at.desc())
            if not actor.is_admin:
                q = q.where(File.user_id == actor.id)
            return list(s.scalars(q))

    def set_file_status(
        self, file_id: str, status: str, error: str | None = None, data: dict | None = None
    ) -> None:
        with self.db.session() as s:
            row = s.get(File, file_id)
            if row is not None:
                row.status = status
                row.error = error
                if data is not None:
                    row.data = {**(row.data or {}), **data}
                row.updated_at = time.time()

    def delete_file(self, file_id: str, actor: Actor) -> File:
        with self.db.session() as s:
            row = s.get(File, file_id)
            if row is None or (row.user_id != actor.id and not actor.is_admin):
                raise NotFound(f"File {file_id} not found")
            s.delete(row)
            return row
