"""The SQL engine: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def json_text(value: Any) -> str:
    """``value`` as JSON text: how JSON columns are written (by the engine and by ``Prepared``)."""
    return msgspec.json.encode(value).decode()


def json_value(value: Any) -> Any:
    """A JSON column as read from a DBAPI cursor: text on SQLite, already decoded by psycopg."""
    if isinstance(value, (str, bytes)):
        return msgspec.json.decode(value)
    return value


def table_of(model: Any) -> Table:
    """A mapped class's ``Table`` (SQLAlchemy types ``__table__`` as the wider ``FromClause``)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Prepared:
    """A Core statement compiled once for one dialect and run on a DBAPI cursor.

    For the few statements between a chat request and its first token: building a statement,
    its cache key and SQLAlchemy's execution and result machinery cost ~0.3 ms a statement,
    ten times the SQL itself on SQLite. Values go by bind-parameter name and must be what the
    driver takes (JSON as ``json_text``); rows come back as DBAPI tuples.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._order: Sequence[str] | None = compiled.positiontup if compiled.positional else None
        # Values the statement carries itself (literals, LIMIT 1): sent as parameters.
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}

    def _args(self, values: dict[str, Any]) -> Any:
        if self._fixed:
            values = {**self._fixed, **values}
        if self._order is None:
            return values
        return tuple(values[name] for name in self._order)

    def execute(self, cursor: Any, **values: Any) -> Any:
        cursor.execute(self.sql, self._args(values))
        return cursor

    def executemany(self, cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
        cursor.executemany(self.sql, [self._args(row) for row in rows])


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; ``postgresql://`` is read as psycopg 3.

    JSON columns go through msgspec: several times faster than the json module on the
    read path of a long chat.
    """
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


class Database:
    """Owns the engine and hands out sessions (``expire_on_commit=False``)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_db_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads only."""
        with self._sessions() as session:
            yield session

    def prepare(self, statement: ClauseElement) -> Prepared:
        return Prepared(statement, self.engine.dialect)

    @property
    def integrity_error(self) -> type[Exception]:
        """The driver's own ``IntegrityError`` (what a ``cursor`` block raises)."""
        return self.engine.dialect.loaded_dbapi.IntegrityError

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A DBAPI cursor of a pooled connection, in a transaction: committed on success,
        rolled back on error. For ``Prepared`` statements."""
        connection = self.engine.raw_connection()
        try:
            yield connection.cursor()
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def dispose(self) -> None:
        self.engine.dispose()
