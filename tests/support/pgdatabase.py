"""A fresh, empty PostgreSQL database on a given server, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator


def create_database(url: str, prefix: str = "oui_test") -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of ``url``; returns its URL and a dropper."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(url).set(drivername="postgresql")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server.set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def fresh_database(url: str, prefix: str = "oui_test") -> Iterator[str]:
    """``create_database`` as a context: the database is dropped on exit."""
    database_url, drop = create_database(url, prefix)
    try:
        yield database_url
    finally:
        drop()
