"""SQL for knowledge collections and uploaded files.

Who may read or change them is decided by the services (``services/authz.py``); this
store takes filters already decided (an owner id, or ``None`` for everything).
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, func, or_, select

from oui_jupyter.errors import NotFound
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import File, Knowledge

KNOWLEDGE_FIELDS = ("name", "description", "data", "meta", "access_control", "shared")


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

    @staticmethod
    def _row(s: Any, knowledge_id: str) -> Knowledge:
        row = s.get(Knowledge, knowledge_id)
        if row is None:
            raise NotFound(f"Knowledge {knowledge_id} not found")
        return row

    def find(self, knowledge_id: str) -> Knowledge | None:
        with self.db.reader() as s:
            return s.get(Knowledge, knowledge_id)

    def list(self, visible_to: str | None) -> builtins.list[Knowledge]:
        """Collections of ``visible_to``, the shared ones and those whose ``access_control``
        names anyone (the service keeps those it grants); ``None``: every collection."""
        with self.db.reader() as s:
            q = select(Knowledge).order_by(Knowledge.updated_at.desc())
            if visible_to is not None:
                # SQL NULL, JSON null and {} grant no one: the other rules are candidates.
                rules = func.coalesce(cast(Knowledge.access_control, String), "null")
                q = q.where(
                    or_(
                        Knowledge.user_id == visible_to,
                        Knowledge.shared.is_(True),
                        rules.not_in(["null", "{}"]),
                    )
                )
            return list(s.scalars(q))

    def list_all(self) -> builtins.list[Knowledge]:
        with self.db.reader() as s:
            return list(s.scalars(select(Knowledge)))

    def update(self, knowledge_id: str, **changes: Any) -> Knowledge:
        with self.db.session() as s:
            row = self._row(s, knowledge_id)
            for key, value in changes.items():
                if key in KNOWLEDGE_FIELDS:
                    setattr(row, key, value)
            row.updated_at = time.time()
            return row

    def update_data(
        self,
        knowledge_id: str,
        *,
        add_files: Iterable[str] = (),
        remove_files: Iterable[str] = (),
        add_paths: Iterable[str] = (),
        remove_paths: Iterable[str] = (),
    ) -> Knowledge:
        """Add/remove file ids and workspace paths, keeping order and uniqueness."""
        with self.db.session() as s:
            row = self._row(s, knowledge_id)
            data = dict(row.data or {})
            files = [f for f in data.get("file_ids", []) if f not in set(remove_files)]
            paths = [p for p in data.get("paths", []) if p not in set(remove_paths)]
            files += [f for f in add_files if f not in files]
            paths += [p for p in add_paths if p not in paths]
            data["file_ids"], data["paths"] = files, paths
            row.data = data  # a new dict so SQLAlchemy sees the change
            row.updated_at = time.time()
            return row

    def delete(self, knowledge_id: str) -> Knowledge:
        with self.db.session() as s:
            row = self._row(s, knowledge_id)
            s.delete(row)
            return row

    def collections_with_file(self, file_id: str) -> builtins.list[Knowledge]:
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
        status: str = "pending",
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
            status=status,
            error=None,
            data={},
            meta=meta or {},
            created_at=now,
            updated_at=now,
        )
        with self.db.session() as s:
            s.add(row)
        return row

    def get_file(self, file_id: str) -> File:
        with self.db.reader() as s:
            row = s.get(File, file_id)
            if row is None:
                raise NotFound(f"File {file_id} not found")
            return row

    def list_files(self, owner: str | None) -> builtins.list[File]:
        """Uploads of ``owner`` (``None``: every upload), newest first."""
        with self.db.reader() as s:
            q = select(File).order_by(File.created_at.desc())
            if owner is not None:
                q = q.where(File.user_id == owner)
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

    def delete_file(self, file_id: str) -> File:
        with self.db.session() as s:
            row = s.get(File, file_id)
            if row is None:
                raise NotFound(f"File {file_id} not found")
            s.delete(row)
            return row
