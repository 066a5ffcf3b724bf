"""SQL for chats and their messages (tags: ``store.tags``; folders: ``store.folders``).

Every query is scoped by ``user_id``: a chat that is not yours does not exist.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.db import Database, json_text, json_value
from oui_jupyter.store.folders import owned_folder
from oui_jupyter.store.orm import MESSAGE_COLUMN_NAMES, Chat, ChatMessage, ChatTag

PAGE_SIZE = 60
# A merge naming more messages than this reads the chat's rows in one scan, not by id.
MERGE_READ_ALL = 200
# What a merge compares, in this order (``extra`` as stored: JSON text on SQLite).
_MERGE_COLUMNS = (
    "id",
    "parent_id",
    "role",
    "content",
    "model",
    "done",
    "extra",
    "created_at",
    "seq",
)
CHAT_FIELDS = ("title", "models", "params", "meta", "extra", "folder_id", "pinned", "archived")
# A chat as chat lists show it: no message bodies.
CHAT_SUMMARY_COLUMNS = (
    Chat.id,
    Chat.title,
    Chat.updated_at,
    Chat.created_at,
    Chat.pinned,
    Chat.archived,
    Chat.folder_id,
    Chat.meta,
)


@dataclass
class NewMessage:
    """A message to insert: the store gives it ``seq`` and timestamps."""

    id: str
    role: str
    content: str = ""
    parent_id: str | None = None
    model: str | None = None
    done: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None


def _same_json(stored: Any, text: str, value: Any) -> bool:
    """Whether a stored JSON column (text on SQLite, decoded by psycopg) holds ``value``."""
    if isinstance(stored, (str, bytes)):
        return stored == text or json_value(stored) == value
    return stored == value


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def owned_chat(session: Session, chat_id: str, user_id: str) -> Chat:
    """``user_id``'s chat ``chat_id`` in ``session``, or ``NotFound``."""
    chat = session.get(Chat, chat_id)
    if chat is None or chat.user_id != user_id:
        raise NotFound(f"Chat {chat_id} not found")
    return chat


class MessageRow(NamedTuple):
    """A stored message, as chat JSON is built from it: a plain tuple read on a DBAPI cursor
    (a 2,000-message chat reads in ~2 ms; through SQLAlchemy's result rows, ~5 ms)."""

    id: str
    parent_id: str | None
    role: str
    content: str
    model: str | None
    done: bool
    extra: dict[str, Any]
    created_at: float


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._messages_of = db.prepare(
            select(*self.MESSAGE_COLUMNS)
            .where(ChatMessage.chat_id == bindparam("chat_id"))
            .order_by(ChatMessage.seq)
        )
        table = cast(Table, ChatMessage.__table__)  # declared as a FromClause
        self._merge_rows = db.prepare(
            select(*(table.c[name] for name in _MERGE_COLUMNS))
            .where(table.c.chat_id == bindparam("chat_id"))
            .order_by(table.c.seq)
        )
        self._update_message = db.prepare(
            update(table)
            .where(table.c.chat_id == bindparam("chat_id"), table.c.id == bindparam("id"))
            .values(
                {
                    name: bindparam(name)
                    for name in ("parent_id", "role", "content", "model", "done", "extra")
                }
                | {"updated_at": bindparam("now")}
            )
        )
        self._insert_message = db.prepare(
            insert(table).values({name: bindparam(name) for name in MESSAGE_COLUMN_NAMES})
        )

    # ----- chats -----
    def get_chat(self, chat_id: str, user_id: str) -> Chat:
        with self.db.reader() as session:
            return owned_chat(session, chat_id, user_id)

    def list_chats(
        self,
        user_id: str,
        *,
        page: int | None = 1,
        archived: bool = False,
        pinned: bool | None = None,
        folder_id: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[Any]:
        """Chat summaries, newest first, without message bodies."""
        query = (
            select(*CHAT_SUMMARY_COLUMNS)
            .where(Chat.user_id == user_id, Chat.archived == archived)
            .order_by(Chat.updated_at.desc(), Chat.id.desc())
        )
        if pinned is not None:
            query = query.where(Chat.pinned == pinned)
        if folder_id is not None:
            query = query.where(Chat.folder_id == folder_id)
        if page is not None:
            query = query.limit(limit).offset((max(page, 1) - 1) * limit)
        with self.db.reader() as session:
            return list(session.execute(query).all())

    def search_chats(self, user_id: str, text: str, *, page: int = 1) -> list[Any]:
        """Chats whose title or any message contains ``text`` (case-insensitive)."""
        pattern = _like(text)
        in_messages = (
            select(ChatMessage.chat_id)
            .where(ChatMessage.chat_id == Chat.id, ChatMessage.content.ilike(pattern, escape="\\"))
            .exists()
        )
        query = (
            select(*CHAT_SUMMARY_COLUMNS)
            .where(Chat.user_id == user_id)
            .where(or_(Chat.title.ilike(pattern, escape="\\"), in_messages))
            .order_by(Chat.updated_at.desc(), Chat.id.desc())
            .limit(PAGE_SIZE)
            .offset((max(page, 1) - 1) * PAGE_SIZE)
        )
        with self.db.reader() as session:
            return list(session.execute(query).all())

    def create_chat(
        self,
        *,
        chat_id: str,
        user_id: str,
        title: str,
        models: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        folder_id: str | None = None,
        pinned: bool = False,
        archived: bool = False,
        messages: Sequence[NewMessage] = (),
        current_message_id: str | None = None,
        created_at: float | None = None,
        updated_at: float | None = None,
    ) -> Chat:
        now = time.time()
        with self.db.session() as session:
            if folder_id is not None:
                owned_folder(session, folder_id, user_id)
            chat = Chat(
                id=chat_id,
                user_id=user_id,
                title=title,
                models=models or [],
                params=params or {},
                meta=meta or {},
                extra=extra or {},
                folder_id=folder_id,
                pinned=pinned,
                archived=archived,
                current_message_id=current_message_id,
                created_at=created_at or now,
                updated_at=updated_at or created_at or now,
            )
            session.add(chat)
            session.flush()
            self._insert_messages(session, chat_id, messages, first_seq=1)
        return chat

    def update_chat(self, chat_id: str, user_id: str, **fields: Any) -> Chat:
        unknown = set(fields) - set(CHAT_FIELDS) - {"current_message_id"}
        if unknown:
            raise ValueError(f"not chat fields: {sorted(unknown)}")
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            if fields.get("folder_id") is not None:
                owned_folder(session, fields["folder_id"], user_id)
            for name, value in fields.items():
                setattr(chat, name, value)
            chat.updated_at = time.time()
        return chat

    def delete_chat(self, chat_id: str, user_id: str) -> None:
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            session.execute(delete(ChatMessage).where(ChatMessage.chat_id == chat_id))
            session.execute(delete(ChatTag).where(ChatTag.chat_id == chat_id))
            session.delete(chat)

    def delete_all_chats(self, user_id: str) -> int:
        with self.db.session() as session:
            ids = list(session.scalars(select(Chat.id).where(Chat.user_id == user_id)))
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                session.execute(delete(ChatMessage).where(ChatMessage.chat_id.in_(part)))
                session.execute(delete(ChatTag).where(ChatTag.chat_id.in_(part)))
                session.execute(delete(Chat).where(Chat.id.in_(part)))
            return len(ids)

    def set_share_id(self, chat_id: str, user_id: str, share_id: str | None) -> Chat:
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            chat.share_id = share_id
        return chat

    def chat_by_share_id(self, share_id: str) -> Chat | None:
        with self.db.reader() as session:
            return session.scalar(select(Chat).where(Chat.share_id == share_id))

    # ----- messages -----
    MESSAGE_COLUMNS = (
        ChatMessage.id,
        ChatMessage.parent_id,
        ChatMessage.role,
        ChatMessage.content,
        ChatMessage.model,
        ChatMessage.done,
        ChatMessage.extra,
        ChatMessage.created_at,
    )

    def messages(self, chat_id: str) -> list[MessageRow]:
        """All messages of a chat in insertion order (callers have checked ownership)."""
        with self.db.cursor() as cursor:
            rows = self._messages_of.execute(cursor, chat_id=chat_id).fetchall()
        return [
            MessageRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), json_value(r[6]) or {}, r[7])
            for r in rows
        ]

    def chat_with_messages(self, chat_id: str, user_id: str) -> tuple[Chat, list[MessageRow]]:
        return self.get_chat(chat_id, user_id), self.messages(chat_id)

    def set_message_content(
        self, chat_id: str, user_id: str, message_id: str, content: str
    ) -> Chat:
        """One message's text: one UPDATE of its row (and the chat's ``updated_at``)."""
        now = time.time()
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            result = session.execute(
                update(ChatMessage)
                .where(ChatMessage.chat_id == chat_id, ChatMessage.id == message_id)
                .values(content=content, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"Message {message_id} not found in chat {chat_id}")
            chat.updated_at = now
        return chat

    def _next_seq(self, session: Session, chat_id: str) -> int:
        last = session.scalar(
            select(func.max(ChatMessage.seq)).where(ChatMessage.chat_id == chat_id)
        )
        return (last or 0) + 1

    def _insert_messages(
        self, session: Session, chat_id: str, messages: Iterable[NewMessage], first_seq: int
    ) -> list[ChatMessage]:
        now = time.time()
        rows = []
        for offset, message in enumerate(messages):
            created = message.created_at or now
            rows.append(
                ChatMessage(
                    id=message.id,
                    chat_id=chat_id,
                    parent_id=message.parent_id,
                    seq=first_seq + offset,
                    role=message.role,
                    content=message.content,
                    model=message.model,
                    done=message.done,
                    extra=message.extra,
                    created_at=created,
                    updated_at=created,
                )
            )
        session.add_all(rows)
        return rows

    def append_messages(
        self,
        chat_id: str,
        user_id: str,
        messages: Sequence[NewMessage],
        *,
        current_message_id: str | None = None,
        chat_fields: dict[str, Any] | None = None,
    ) -> list[ChatMessage]:
        """Insert messages (one INSERT each) and move the chat's current branch."""
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            ids = [m.id for m in messages]
            existing = session.scalars(
                select(ChatMessage.id).where(
                    ChatMessage.chat_id == chat_id, ChatMessage.id.in_(ids)
                )
            ).all()
            if existing:
                raise Conflict(f"Message {existing[0]} already exists in chat {chat_id}")
            known = set(ids)
            for message in messages:
                if message.parent_id is None or message.parent_id in known:
                    continue
                if session.get(ChatMessage, (chat_id, message.parent_id)) is None:
                    raise NotFound(f"Parent message {message.parent_id} not found")
            rows = self._insert_messages(
                session, chat_id, messages, first_seq=self._next_seq(session, chat_id)
            )
            if current_message_id is not None:
                chat.current_message_id = current_message_id
            for name, value in (chat_fields or {}).items():
                setattr(chat, name, value)
            chat.updated_at = time.time()
        return rows

    def merge_messages(
        self,
        chat_id: str,
        user_id: str,
        messages: Sequence[NewMessage],
        *,
        current_message_id: str | None,
        chat_fields: dict[str, Any],
        extra: dict[str, Any] | None = None,
        with_rows: bool = False,
    ) -> tuple[Chat, list[MessageRow] | None]:
        """Insert unknown messages, update changed ones (not an assistant message that either
        side has unfinished), never delete any; ``extra`` is merged into the chat's. Writes only what differs from the stored rows (compared field by field,
        ``extra`` as its JSON text): saving a whole chat with one new message is one INSERT.
        ``with_rows``: also return every message of the chat after the merge (read once, here,
        for the answer)."""
        now = time.time()
        with self.db.session() as session:
            chat = owned_chat(session, chat_id, user_id)
            cursor = session.connection().connection.cursor()
            if with_rows or len(messages) > MERGE_READ_ALL:
                stored = self._merge_rows.execute(cursor, chat_id=chat_id).fetchall()
            else:
                stored = self._named_rows(session, chat_id, [m.id for m in messages])
            by_id = {row[0]: i for i, row in enumerate(stored)}
            rows = [list(row) for row in stored] if with_rows else []
            sent: dict[int, dict[str, Any]] = {}  # row index -> the extra the client sent
            fresh: list[NewMessage] = []
            changed: list[dict[str, Any]] = []
            for message in messages:
                at = by_id.get(message.id)
                if at is None:
                    fresh.append(message)
                    continue
                row = stored[at]
                if row[2] == "assistant" and not (row[5] and message.done):
                    # An unfinished answer is the server's to write, and a client's unfinished
                    # copy (a placeholder, a partial text) never replaces a stored answer.
                    continue
                extra_text = json_text(message.extra)
                if (
                    row[3] == message.content
                    and row[1] == message.parent_id
                    and row[2] == message.role
                    and row[4] == message.model
                    and bool(row[5]) == message.done
                    and _same_json(row[6], extra_text, message.extra)
                ):
                    sent[at] = message.extra
                    continue
                changed.append(
                    {
                        "chat_id": chat_id,
                        "id": message.id,
                        "parent_id": message.parent_id,
                        "role": message.role,
                        "content": message.content,
                        "model": message.model,
                        "done": message.done,
                        "extra": extra_text,
                        "now": now,
                    }
                )
                if with_rows:
                    rows[at][1:6] = [
                        message.parent_id,
                        message.role,
                        message.content,
                        message.model,
                        message.done,
                    ]
                    sent[at] = message.extra
            if changed:
                self._update_message.executemany(cursor, changed)
            if fresh:
                last = (
                    max((row[8] for row in stored), default=0)
                    if with_rows or len(messages) > MERGE_READ_ALL
                    else self._next_seq(session, chat_id) - 1
                )
                self._insert_message.executemany(
                    cursor,
                    [
                        {
                            "id": m.id,
                            "chat_id": chat_id,
                            "parent_id": m.parent_id,
                            "seq": last + 1 + i,
                            "role": m.role,
                            "content": m.content,
                            "model": m.model,
                            "done": m.done,
                            "extra": json_text(m.extra),
                            "created_at": m.created_at or now,
                            "updated_at": m.created_at or now,
                        }
                        for i, m in enumerate(fresh)
                    ],
                )
            if current_message_id is not None:
                known = current_message_id in by_id or any(
                    m.id == current_message_id for m in fresh
                )
                if known or session.get(ChatMessage, (chat_id, current_message_id)) is not None:
                    chat.current_message_id = current_message_id
            for name, value in chat_fields.items():
                setattr(chat, name, value)
            if extra:
                chat.extra = {**(chat.extra or {}), **extra}
            chat.updated_at = now
        if not with_rows:
            return chat, None
        out = [  # an extra the client sent is the stored one: not decoded again
            MessageRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                bool(r[5]),
                sent[i] if i in sent else json_value(r[6]) or {},
                r[7],
            )
            for i, r in enumerate(rows)
        ]
        out += [
            MessageRow(
                m.id, m.parent_id, m.role, m.content, m.model, m.done, m.extra, m.created_at or now
            )
            for m in fresh
        ]
        return chat, out

    def _named_rows(self, session: Session, chat_id: str, ids: list[str]) -> list[Any]:
        """The stored rows (merge columns) of ``ids`` in ``chat_id``, read in chunks."""
        columns = ChatMessage.__table__.c
        found: list[Any] = []
        for start in range(0, len(ids), 500):
            query = select(*(columns[name] for name in _MERGE_COLUMNS)).where(
                columns.chat_id == chat_id, columns.id.in_(ids[start : start + 500])
            )
            found += [tuple(row) for row in session.execute(query)]
        return found
