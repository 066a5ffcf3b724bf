"""A PostgreSQL cluster of the test's own, where every connection needs a password.

The machine's PostgreSQL (5432) trusts every local connection, so it cannot show that a user
without the password cannot get in. ``PgCluster().start()`` runs ``initdb
--auth=scram-sha-256`` as the ``postgres`` OS user (PostgreSQL refuses to run as root) on a free
port in a fresh directory, and creates the password role ``oui`` owning database ``oui_team``:
``cluster.url`` is its address (password included). Binaries: $OUI_TEST_PG_BIN, else
/usr/lib/postgresql/<newest>/bin.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from support.oui_process import free_port


def pg_bin() -> Path:
    configured = os.environ.get("OUI_TEST_PG_BIN")
    if configured:
        return Path(configured)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise RuntimeError("no PostgreSQL binaries: install postgresql or set OUI_TEST_PG_BIN")
    return versions[-1].parent


class PgCluster:
    def __init__(self, user: str = "oui", database: str = "oui_team") -> None:
        self.user = user
        self.database = database
        self.password = secrets.token_urlsafe(18)
        self.superuser_password = secrets.token_urlsafe(18)
        self.port = free_port()
        # Not under pytest's tmp dir: that is root's only (0700), and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="oui-pgcluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.bin = pg_bin()

    @property
    def url(self) -> str:
        """The team role's URL (with its password)."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def address(self) -> str:
        """``host:port/db``, as it would appear in a leaked URL."""
        return f"127.0.0.1:{self.port}/{self.database}"

    def _as_postgres(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)}: {result.stdout}{result.stderr}\n{log}")

    def start(self) -> PgCluster:
        import psycopg

        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "--auth=scram-sha-256",
            "--username=postgres",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        admin = f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            conn.execute(f"CREATE DATABASE {self.database} OWNER {self.user}")
        return self

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._as_postgres(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
                )
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
