"""Uploads' bytes in the database (``file_blob``): the team service's replicas share them and a
restarted one keeps them. Single-user servers keep them on disk (``services.retrieval.files``).
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from .db import Database, table_of
from .orm import FileBlob

BLOBS = table_of(FileBlob)
#: how ``File.path`` names bytes kept here
PREFIX = "db:file_blob/"


class DbBlobs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, file_id: str, name: str, data: bytes) -> str:
        with self.db.engine.begin() as conn:
            conn.execute(insert(BLOBS).values(id=file_id, data=data))
        return PREFIX + file_id

    def get(self, path: str) -> bytes:
        """The bytes; ``KeyError`` when they are gone (or ``path`` is not one of ours)."""
        if not path.startswith(PREFIX):
            raise KeyError(path)
        with self.db.engine.connect() as conn:
            data = conn.execute(
                select(BLOBS.c.data).where(BLOBS.c.id == path[len(PREFIX) :])
            ).scalar()
        if data is None:
            raise KeyError(path)
        return bytes(data)

    def remove(self, path: str) -> None:
        if path.startswith(PREFIX):
            with self.db.engine.begin() as conn:
                conn.execute(delete(BLOBS).where(BLOBS.c.id == path[len(PREFIX) :]))
