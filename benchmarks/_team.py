"""Shared parts of the team benchmarks: a fresh PostgreSQL database and replicas of the oui team
service (``team_mode=service``, real ``jupyter server`` processes) on it.

The database server: ``$OUI_BENCH_POSTGRES_URL``, else ``$OUI_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``; each run makes its own database and drops it.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.oui_process import OuiProcess

SERVER = (
    os.environ.get("OUI_BENCH_POSTGRES_URL")
    or os.environ.get("OUI_TEST_POSTGRES_URL")
    or "postgresql://postgres@127.0.0.1:5432/test"
)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A fresh database on ``SERVER``, dropped after the run."""
    from support.pgdatabase import fresh_database as on_server

    with on_server(SERVER, "oui_bench") as url:
        yield url


@contextlib.contextmanager
def replicas(
    database_url: str, upstream: str, count: int, *extra: str
) -> Iterator[list[OuiProcess]]:
    """``count`` team service replicas on ``database_url``; users ``u<N>`` (``_team_identity``)."""
    with tempfile.TemporaryDirectory() as tmp:
        started: list[OuiProcess] = []
        try:
            for index in range(count):
                replica = OuiProcess(
                    Path(tmp) / f"replica-{index}",
                    database_url,
                    upstream,
                    "--ServerApp.identity_provider_class=_team_identity.BenchIdentityProvider",
                    "--OuiJupyter.team_mode=service",
                    *extra,
                )
                paths = [str(ROOT), str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")]
                replica.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
                started.append(replica)
                replica.start()
            yield started
        finally:
            for replica in started:
                replica.stop()
