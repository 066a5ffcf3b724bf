"""Upgrades lose nothing: a database at every earlier revision, with rows in every table,
upgraded to head the way a server does (``migrate.upgrade``), still holds every row with every
value (SQLite and PostgreSQL).

The rows are made from the reflected schema of that revision, so a new migration is covered
without touching this file. A migration that is meant to change stored values says how in
``CHANGED`` (old row -> the expected new value of a column).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, MetaData, Table, and_, func, select, text

from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database

pytestmark = pytest.mark.storage

ROWS_PER_TABLE = 3
#: (table, column) -> (old row -> expected value after the upgrade), for intended changes.
CHANGED: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {}


def alembic_config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    oldest_first = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    return oldest_first[:-1]  # every revision but head


def test_every_earlier_revision_is_tested():
    revisions = earlier_revisions()
    assert revisions[0] == "0001" and migrate.HEAD_REVISION not in revisions
    assert len(revisions) == int(migrate.HEAD_REVISION) - 1


def value_for(table: Table, column: Any, n: int) -> Any:
    """A distinct, type-true value for row ``n`` of ``column`` (Unicode, sizes at their limit)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return n % 2 == 0
    if kind is int:  # past 2**31 where the column takes 64 bits
        wide = isinstance(column.type, BigInteger)
        return (1_000_000_007 if wide else 700_000_001) * (n + 1)
    if kind is float:
        return 1_764_000_000.25 + n
    if kind is bytes:  # every byte value, NUL included
        return f"{n}.{table.name}.{column.name}".encode() + bytes(range(256))
    if kind in (dict, list):
        return {"row": n, "text": "é ✓ 漢字", "list": [1, 2.5, None, True], "nested": {"k": "v"}}
    value = f"{n}.{table.name}.{column.name}-é漢"
    length = getattr(column.type, "length", None)
    if length:  # as long as the column takes
        value = (value * (length // len(value) + 1))[:length]
    return value


def build_rows(metadata: MetaData) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        table_rows = []
        for n in range(ROWS_PER_TABLE):
            row: dict[str, Any] = {}
            for column in table.columns:
                foreign = next(iter(column.foreign_keys), None)
                if foreign is None:
                    row[column.name] = value_for(table, column, n)
                    continue
                parent = foreign.column.table.name
                if parent == table.name:  # a tree (folder.parent_id): row n hangs under row n-1
                    row[column.name] = table_rows[n - 1][foreign.column.name] if n else None
                else:
                    row[column.name] = rows[parent][n][foreign.column.name]
            table_rows.append(row)
        rows[table.name] = table_rows
    return rows


@pytest.mark.parametrize("revision", earlier_revisions())
def test_upgrading_from_every_revision_keeps_every_row(oui_database_url: str, revision: str):
    db = Database(oui_database_url)
    with db.engine.connect() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()
    old = MetaData()
    old.reflect(db.engine)
    rows = build_rows(old)
    assert set(rows) == set(old.tables) - {"alembic_version"}
    with db.engine.begin() as conn:
        for table in old.sorted_tables:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])

    assert migrate.upgrade(db.engine) == revision
    new = MetaData()
    new.reflect(db.engine)
    with db.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == migrate.HEAD_REVISION
        for name, table_rows in rows.items():
            assert name in new.tables, f"table {name} is gone after upgrading from {revision}"
            table = new.tables[name]
            count = conn.execute(select(func.count()).select_from(table)).scalar()
            assert count == len(table_rows), f"{name}: {count} of {len(table_rows)} rows left"
            key = [c.name for c in old.tables[name].primary_key.columns]
            for row in table_rows:
                where = and_(*(table.c[k] == row[k] for k in key))
                found = conn.execute(select(table).where(where)).mappings().one_or_none()
                assert found is not None, f"{name} {[row[k] for k in key]} lost from {revision}"
                for column, _value in row.items():
                    expected = CHANGED.get((name, column), lambda r, c=column: r[c])(row)
                    assert column in found, f"{name}.{column} is gone after the upgrade"
                    assert found[column] == expected, (name, column, revision)
    db.dispose()
