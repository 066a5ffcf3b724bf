"""Alembic environment for oui-jupyter (run programmatically by oui_jupyter.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from oui_jupyter.store.orm import metadata

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        with create_engine(url).connect() as conn:
            _run(conn)
            conn.commit()
        return
    _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        transaction_per_migration=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("oui-jupyter migrations run online only")
run_migrations()
