"""SQL for chat folders: a tree per user (``parent_id``), names unique among siblings.

Every query is scoped by ``user_id``: a folder that is not yours does not exist.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import Folder


def owned_folder(session: Session, folder_id: str, user_id: str) -> Folder:
    """``user_id``'s folder ``folder_id`` in ``session``, or ``NotFound``."""
    folder = session.get(Folder, folder_id)
    if folder is None or folder.user_id != user_id:
        raise NotFound(f"Folder {folder_id} not found")
    return folder


class FolderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list_folders(self, user_id: str) -> list[Folder]:
        with self.db.reader() as session:
            query = select(Folder).where(Folder.user_id == user_id).order_by(Folder.created_at)
            return list(session.scalars(query))

    def get_folder(self, folder_id: str, user_id: str) -> Folder:
        with self.db.reader() as session:
            return owned_folder(session, folder_id, user_id)

    def create_folder(
        self, folder_id: str, user_id: str, name: str, parent_id: str | None = None
    ) -> Folder:
        now = time.time()
        with self.db.session() as session:
            if parent_id is not None:
                owned_folder(session, parent_id, user_id)
            clash = session.scalar(
                select(Folder.id).where(
                    Folder.user_id == user_id,
                    Folder.parent_id.is_(None)
                    if parent_id is None
                    else Folder.parent_id == parent_id,
                    func.lower(Folder.name) == name.lower(),
                )
            )
            if clash:
                raise Conflict(f"A folder named {name!r} already exists here")
            folder = Folder(
                id=folder_id,
                user_id=user_id,
                parent_id=parent_id,
                name=name,
                is_expanded=False,
                meta={},
                created_at=now,
                updated_at=now,
            )
            session.add(folder)
        return folder

    def update_folder(self, folder_id: str, user_id: str, **fields: Any) -> Folder:
        with self.db.session() as session:
            folder = owned_folder(session, folder_id, user_id)
            if fields.get("parent_id") is not None:
                parent: Folder | None = owned_folder(session, fields["parent_id"], user_id)
                while parent is not None:
                    if parent.id == folder_id:
                        raise Conflict("A folder cannot move inside itself")
                    parent = session.get(Folder, parent.parent_id) if parent.parent_id else None
            for name, value in fields.items():
                setattr(folder, name, value)
            folder.updated_at = time.time()
        return folder

    def delete_folder(self, folder_id: str, user_id: str) -> None:
        with self.db.session() as session:
            folder = owned_folder(session, folder_id, user_id)
            session.delete(folder)
