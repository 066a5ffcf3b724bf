"""SQLAlchemy 2 models of the chat database.

Messages are rows, one per message: ``parent_id`` forms the tree and
``Chat.current_message_id`` marks the branch on show, so appending a message is one
INSERT and one small UPDATE however long the chat is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONValue = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {JSONValue: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(32), default="user")
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    settings: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    last_active_at: Mapped[float] = mapped_column(Float)


class Folder(Base):
    __tablename__ = "folder"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("folder.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255))
    is_expanded: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Chat(Base):
    __tablename__ = "chat"
    __table_args__ = (
        Index("ix_chat_user_list", "user_id", "archived", "updated_at", "id"),
        Index("ix_chat_share_id", "share_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text, default="New Chat")
    current_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    models: Mapped[list[Any]] = mapped_column(JSON, default=list)
    params: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    extra: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    folder_id: Mapped[str | None] = mapped_column(
        ForeignKey("folder.id", ondelete="SET NULL"), nullable=True
    )
    share_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class ChatMessage(Base):
    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_chat_seq", "chat_id", "seq"),)

    # Message ids are the client's (Open WebUI makes them in the browser): unique per chat.
    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chat.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Insertion order inside the chat: the order of childrenIds and of the export.
    seq: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(255), nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=True)
    # Everything else Open WebUI keeps on a message: sources, usage, error, files, info...
    extra: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255))
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)


class ChatTag(Base):
    __tablename__ = "chat_tag"
    __table_args__ = (Index("ix_chat_tag_user_tag", "user_id", "tag_id"),)

    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chat.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))


class ConfigEntry(Base):
    __tablename__ = "config"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)
