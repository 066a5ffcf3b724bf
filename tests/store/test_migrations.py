"""Migrations: cheap head check, SQLite backup before upgrade, one migration on a shared PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import metadata

pytestmark = pytest.mark.storage


def alembic_head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.migrations_dir()))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_head_constant_matches_alembic():
    assert migrate.HEAD_REVISION == alembic_head()


def test_upgrade_creates_every_table_and_is_idempotent(oui_database_url):
    db = Database(oui_database_url)
    assert migrate.upgrade(db.engine) is None
    assert migrate.upgrade(db.engine) == migrate.HEAD_REVISION
    tables = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= tables
    db.dispose()


def test_schema_matches_the_orm(oui_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(oui_database_url)
    migrate.upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    db.dispose()


def test_sqlite_is_backed_up_before_an_upgrade(tmp_path: Path):
    path = tmp_path / "oui.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        from alembic import command

        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.migrations_dir()))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO config (key, value, updated_at) VALUES ('k', '1', 0)"))
        conn.commit()
    assert migrate.upgrade(db.engine) == "0001"
    backups = list(tmp_path.glob("oui.db.bak-0001-*"))
    assert len(backups) == 1
    backup = Database(f"sqlite:///{backups[0]}")
    with backup.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert conn.execute(text("SELECT value FROM config WHERE key='k'")).scalar() in (1, "1")
    backup.dispose()
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_two_servers_starting_together_migrate_once(postgres_database_url, monkeypatch):
    """Both call upgrade at once; Alembic runs once (advisory lock on PostgreSQL)."""
    oui_database_url = postgres_database_url
    runs = []
    real = migrate._run_alembic

    def counting(conn):
        runs.append(threading.get_ident())
        real(conn)

    monkeypatch.setattr(migrate, "_run_alembic", counting)
    errors = []
    barrier = threading.Barrier(2)

    def start_server():
        db = Database(oui_database_url)
        try:
            barrier.wait()
            migrate.upgrade(db.engine)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start_server) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(runs) == 1


def test_message_column_names_are_the_message_table() -> None:
    """The stores' prepared INSERTs and bulk copies name every column of a message row."""
    from oui_jupyter.store.orm import MESSAGE_COLUMN_NAMES, ChatMessage

    assert sorted(MESSAGE_COLUMN_NAMES) == sorted(c.name for c in ChatMessage.__table__.columns)
    assert len(set(MESSAGE_COLUMN_NAMES)) == len(MESSAGE_COLUMN_NAMES)
