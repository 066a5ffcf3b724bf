"""Replicas of the oui team service: real ``jupyter server`` processes in service mode on one
PostgreSQL database, for the tests and benchmarks of replicas (issue #16).

Users are those of ``support.identity`` (``Authorization: token alice-token`` is alice), standing
in for the hub; alice is an admin (``OUI_ADMIN_USERS`` / ``OUI_HUB_ADMINS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.oui_process import OuiProcess

TESTS = Path(__file__).resolve().parents[1]
LISTENER = "oui-bus oui_team_events"  # the bus listener's application_name
PUBLISHER = "oui-bus publisher"


@contextlib.contextmanager
def team_database() -> Iterator[str]:
    """A fresh, empty database: on $OUI_TEST_POSTGRES_URL's server when it is set (dropped
    after), else in a cluster of the test's own (``support.pgcluster``)."""
    base = os.environ.get("OUI_TEST_POSTGRES_URL", "")
    if not base:
        from support.pgcluster import PgCluster

        cluster = PgCluster().start()
        try:
            yield cluster.url
        finally:
            cluster.stop()
        return
    from support.pgdatabase import fresh_database

    with fresh_database(base) as url:
        yield url


class Replica(OuiProcess):
    def __init__(self, root: Path, database_url: str, upstream: str, *extra: str) -> None:
        super().__init__(
            root,
            database_url,
            upstream,
            "--ServerApp.identity_provider_class=support.identity.MultiUserIdentityProvider",
            "--OuiJupyter.team_mode=service",
            *extra,
        )
        paths = [str(TESTS.parent), str(TESTS), self.env.get("PYTHONPATH", "")]
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.env["OUI_ADMIN_USERS"] = self.env["OUI_HUB_ADMINS"] = "alice"

    @property
    def api(self) -> str:
        return f"{self.url}/oui/api"

    @property
    def events_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/oui/api/events"

    def call(
        self, method: str, path: str, body: Any = None, user: str = "alice", timeout: float = 30
    ) -> tuple[int, Any]:
        """A blocking request as ``user``: (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {user}-token", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def start_replicas(
    root: Path, database_url: str, upstream: str, count: int = 2, *extra: str
) -> list[Replica]:
    """``count`` replicas on one database, started one after the other (the first migrates)."""
    replicas: list[Replica] = []
    try:
        for index in range(count):
            replica = Replica(root / f"replica-{index}", database_url, upstream, *extra)
            replicas.append(replica)
            replica.start()
    except BaseException:
        for replica in replicas:
            replica.stop()
        raise
    return replicas


def listener_pids(database_url: str) -> list[int]:
    """The backends of the replicas' bus listeners on this database."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            (LISTENER,),
        ).fetchall()
    return sorted(int(r[0]) for r in rows)


def terminate_listeners(database_url: str) -> list[int]:
    """``pg_terminate_backend`` every connection of the replicas' buses on this database (the
    listeners and the publishers); the listeners' pids."""
    import psycopg
    from sqlalchemy.engine import make_url

    pids = listener_pids(database_url)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name IN (%s, %s)",
            (LISTENER, PUBLISHER),
        )
    return pids
