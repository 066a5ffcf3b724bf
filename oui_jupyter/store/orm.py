"""SQLAlchemy 2 models of the whole database: every table Alembic migrates is declared here.

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
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
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
    __table_args__ = (
        Index("ix_chat_message_chat_seq", "chat_id", "seq"),
        # the answers being written, for the sweep of those a dead server left (checkpoints)
        Index(
            "ix_chat_message_unfinished",
            "chat_id",
            postgresql_where=text("done = false AND role = 'assistant'"),
            sqlite_where=text("done = false AND role = 'assistant'"),
        ),
    )

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


#: every column of a message row, as the stores' prepared INSERTs and bulk copies name them
MESSAGE_COLUMN_NAMES = (
    "id",
    "chat_id",
    "parent_id",
    "seq",
    "role",
    "content",
    "model",
    "done",
    "extra",
    "created_at",
    "updated_at",
)


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


class CustomModel(Base):
    """A custom model (Open WebUI's "models" workspace): base model, system prompt, params."""

    __tablename__ = "model"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    base_model_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    params: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    access_control: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Knowledge(Base):
    """A knowledge collection: uploaded file ids and workspace paths in ``data``
    (``{"file_ids": [...], "paths": [...]}``); their chunks live in the retrieval index
    (collection ``file-<id>`` for an upload, ``workspace`` for a path)."""

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
    """An uploaded file (Open WebUI's ``file`` table); the bytes are under the data dir."""

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


class ChatShare(Base):
    """The snapshot of a shared chat (Open WebUI shares a copy): what ``share_id`` readers
    see, taken when the owner shares (again); the chat itself goes on changing."""

    __tablename__ = "chat_share"
    __table_args__ = (Index("ix_chat_share_chat_id", "chat_id", unique=True),)

    share_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    #: the ChatResponse at share time (title, chat with its history, meta...)
    snapshot: Mapped[JSONValue] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Usage(Base):
    """One completion turn: who, which model, how many tokens (the upstream's ``usage``, or
    an estimate when it gave none: ``estimated``). Users' rows may go; their usage stays."""

    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created_at"),
        Index("ix_usage_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)


class Feedback(Base):
    """A rating of an answer (Open WebUI's ``feedback``): ``data`` holds the thumbs
    (``rating``: 1 or -1), the 1-10 ``details.rating``, ``reason`` and ``comment``; ``meta``
    the chat and message it rates. One per message; it outlives its chat (the leaderboard
    keeps counting it, as usage records do)."""

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_user_updated", "user_id", "updated_at"),
        Index("ix_feedback_message", "chat_id", "message_id", unique=True),
        Index("ix_feedback_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    snapshot: Mapped[JSONValue | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Prompt(Base):
    """A prompt of the library (Open WebUI's ``prompt``): ``command`` is ``/slug``, unique on
    the server; ``content`` keeps its ``{{variables}}`` as written."""

    __tablename__ = "prompt"
    __table_args__ = (Index("ix_prompt_timestamp", "timestamp"),)

    command: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    access_control: Mapped[Any | None] = mapped_column(JSON, nullable=True)


class Memory(Base):
    """A fact a user asked to be remembered (Open WebUI's ``memory``); times are epoch
    seconds, as Open WebUI's."""

    __tablename__ = "memory"
    __table_args__ = (Index("ix_memory_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


# -- the team service's retrieval index and uploads (issue #16: replicas keep no state of
# their own). Single-user servers keep them in DuckDB and under the data dir: these tables
# exist there, empty. ``oui_jupyter.store.pg_index`` reads and writes them.


class RagFile(Base):
    """A file or document of a collection (DuckDB's ``files``)."""

    __tablename__ = "rag_file"

    collection: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(2048), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    file_type: Mapped[str] = mapped_column(String(64))
    n_chunks: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    indexed_at: Mapped[float] = mapped_column(Float)


class RagChunk(Base):
    """A chunk of a file (DuckDB's ``chunks``); ``meta`` is JSON text."""

    __tablename__ = "rag_chunk"
    __table_args__ = (Index("ix_rag_chunk_collection_source", "collection", "source"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    collection: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(2048))
    ord: Mapped[int] = mapped_column(Integer)
    file_type: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[str] = mapped_column(Text)


class RagEmbedding(Base):
    """The embedding cache: a chunk text's float32 vector under one model."""

    __tablename__ = "rag_embedding"

    model: Mapped[str] = mapped_column(String(512), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vec: Mapped[bytes] = mapped_column(LargeBinary)


class RagMeta(Base):
    """Key/value of the index (the embedding model); ``number``: the counters (``generation``,
    bumped by every write, and ``next_chunk_id``)."""

    __tablename__ = "rag_meta"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RagCollection(Base):
    """The generation of the last write to each collection: what a replica reloads."""

    __tablename__ = "rag_collection"
    __table_args__ = (Index("ix_rag_collection_generation", "generation"),)

    collection: Mapped[str] = mapped_column(String(512), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class FileBlob(Base):
    """An upload's bytes, in the team service (single-user servers keep them on disk)."""

    __tablename__ = "file_blob"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class NotebookCheckpoint(Base):
    """A notebook as it was before an agent turn (one assistant message) first changed it:
    its exact bytes (``before``), and what the turn left: the bytes after its last write
    (``after``) and the cells it touched (``touched``: cell id -> ``{"index", "cell_type",
    "source"}``, ``null`` for a cell it deleted). ``v1/tools/undo`` restores ``before``."""

    __tablename__ = "notebook_checkpoint"
    __table_args__ = (
        Index("ix_notebook_checkpoint_turn", "chat_id", "message_id", "path", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    before: Mapped[bytes] = mapped_column(LargeBinary)
    after: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    touched: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


# Every table above: what Alembic migrates and compares against.
metadata = Base.metadata
