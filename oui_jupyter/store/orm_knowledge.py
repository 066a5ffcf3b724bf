"""Knowledge collections and uploaded files (Open WebUI's ``knowledge`` and ``file`` tables).

A knowledge collection lists uploaded file ids and workspace paths in ``data``
(``{"file_ids": [...], "paths": [...]}``); their chunks live in the retrieval index
(collection ``file-<id>`` for an upload, ``workspace`` for a path).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oui_jupyter.store.orm import Base, JSONValue


class Knowledge(Base):
    __tablename__ = "knowledge"
    __table_args__ = (Index("ix_knowledge_user_updated", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    access_control: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class File(Base):
    __tablename__ = "file"
    __table_args__ = (Index("ix_file_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(1024))
    path: Mapped[str] = mapped_column(Text)  # where the bytes are, under the data dir
    hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|completed|failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
