"""Schema migrations: a cheap revision check, then Alembic only when needed.

SQLite files are backed up before an upgrade; on PostgreSQL an advisory lock makes two
servers starting on one database migrate it once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# The newest revision in migrations/versions; tests check it matches Alembic's head.
HEAD_REVISION = "0010"
PG_LOCK_KEY = 0x6F75_695F  # "oui_"


def migrations_dir() -> Path:
    """The Alembic script folder: inside the wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "migrations", here.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("oui-jupyter's migrations folder is missing from the install")


def current_revision(conn: Connection) -> str | None:
    if not conn.dialect.has_table(conn, "alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def backup_sqlite(path: Path, revision: str) -> Path:
    """A consistent copy of a live SQLite file (the online backup API)."""
    target = path.with_name(f"{path.name}.bak-{revision}-{int(time.time())}")
    src = sqlite3.connect(str(path))
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def _run_alembic(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to head; returns the revision it started from."""
    with engine.connect() as conn:
        start = current_revision(conn)
    if start == HEAD_REVISION:
        return start
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_conn:
            lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            try:
                with engine.connect() as conn:
                    start = current_revision(conn)
                    if start != HEAD_REVISION:
                        log.info("oui: migrating database %s -> %s", start, HEAD_REVISION)
                        _run_alembic(conn)
                        conn.commit()
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                lock_conn.commit()
        return start
    database = engine.url.database
    if start is not None and database and database != ":memory:" and Path(database).exists():
        backup = backup_sqlite(Path(database), start)
        log.info("oui: backed up %s to %s before migrating", database, backup)
    with engine.connect() as conn:
        log.info("oui: migrating database %s -> %s", start, HEAD_REVISION)
        _run_alembic(conn)
        conn.commit()
    return start
