"""No process of a user's holds the team's secrets, and her kernel cannot open the team database.

The team database is a cluster of the test's own with password authentication only
(``support.pgcluster``): the machine's PostgreSQL trusts every local connection, where no
password would be needed to get in. The service is given the role's URL (password included)
and the team key; alice's server and a kernel in it are then searched for both (environment,
command line, every file under her home), and her kernel tries to log in to the database with
everything it can read. A positive control shows each search would have found them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.hub import TEAM_KEY, Hub, process_cmdline, process_environ
from support.pgcluster import PgCluster

MAX_FILE = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def team_database_url(pg_cluster: PgCluster) -> str:
    """The password cluster, whatever $OUI_TEST_POSTGRES_URL says (that server trusts all)."""
    return pg_cluster.url


def secrets_of(cluster: PgCluster) -> dict[str, str]:
    return {
        "team key": TEAM_KEY,
        "database password": cluster.password,
        "database address": cluster.address,  # 127.0.0.1:<port>/oui_team
        "database host:port": f"127.0.0.1:{cluster.port}",
    }


def found_in(text: bytes, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value.encode() in text]


@pytest.fixture(scope="module")
def alice_kernel(hub: Hub) -> Iterator[dict[str, Any]]:
    """A kernel running in alice's server (started through her server's REST API)."""
    hub.spawn("alice")
    started = hub.request("alice", "/user/alice/api/kernels", "POST", {"name": "python3"})
    assert started.status == 201, started.text
    kernel = started.json()
    yield kernel
    hub.request("alice", f"/user/alice/api/kernels/{kernel['id']}", "DELETE")


def kernel_pid(hub: Hub, kernel_id: str) -> int:
    for pid in hub.processes_of("alice"):
        if any(kernel_id in part for part in process_cmdline(pid)):
            return pid
    raise AssertionError(f"kernel {kernel_id} is not among alice's processes")


def run_in_kernel(hub: Hub, kernel_id: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in alice's kernel; answers what it printed."""
    from jupyter_client.blocking import BlockingKernelClient

    runtime = hub.homes / "alice" / ".local" / "share" / "jupyter" / "runtime"
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    out: list[str] = []

    def collect(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    try:
        client.wait_for_ready(timeout=timeout)
        reply = client.execute_interactive(code, timeout=timeout, output_hook=collect)
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def test_the_service_holds_the_secrets_and_alices_processes_do_not(
    hub: Hub, pg_cluster: PgCluster, alice_kernel: dict[str, Any]
) -> None:
    secrets = secrets_of(pg_cluster)
    # positive control: the service process has them, and the search sees them there
    service = hub.service_pid()
    service_env = process_environ(service)
    assert service_env["OUI_TEAM_DATABASE_URL"] == pg_cluster.url
    environ_text = "\0".join(f"{k}={v}" for k, v in service_env.items()).encode()
    assert sorted(found_in(environ_text, secrets)) == sorted(secrets)
    # ... but not on its command line (readable by every local user)
    assert found_in("\0".join(process_cmdline(service)).encode(), secrets) == []

    pids = hub.processes_of("alice")
    kernel = kernel_pid(hub, alice_kernel["id"])
    assert hub.server_pid("alice") in pids and kernel in pids
    for pid in pids:
        env = process_environ(pid)
        assert env, f"could not read the environment of {pid}"
        assert not {"OUI_TEAM_DATABASE_URL", "OPENAI_API_KEYS", "OPENAI_API_BASE_URLS"} & set(
            env
        ), (pid, sorted(env))
        environ_text = "\0".join(f"{k}={v}" for k, v in env.items()).encode()
        assert found_in(environ_text, secrets) == [], (pid, process_cmdline(pid))
        assert found_in("\0".join(process_cmdline(pid)).encode(), secrets) == [], pid
    assert process_environ(kernel)["OUI_TEAM_URL"] == hub.service_url  # all she is told


def test_no_file_under_alices_home_holds_the_secrets(
    hub: Hub, pg_cluster: PgCluster, alice_kernel: dict[str, Any]
) -> None:
    # her server has used oui (through the service) and written its files first
    assert hub.user_api("alice", "v1/users/user").status == 200
    assert hub.service_api("alice", "models").status == 200
    secrets = secrets_of(pg_cluster)
    home = hub.homes / "alice"
    searched = 0
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE:
            assert found_in(path.read_bytes(), secrets) == [], path
            searched += 1
    assert searched >= 3, f"only {searched} files under {home}"
    assert (home / ".local" / "share" / "jupyter" / "runtime").is_dir()


KERNEL_ATTACK = r"""
import json, os, pathlib, re
from urllib.parse import urlsplit
import psycopg

WORD = re.compile(r"[^\s\"'<>;,/:@=&?]{6,200}")
URL = re.compile(r"\w+://[^\s\"'<>]+")

def candidates(limit=1500):
    texts = list(os.environ.values())
    for path in pathlib.Path.home().rglob("*"):
        try:
            if path.is_file() and path.stat().st_size <= 1_000_000:
                texts.append(path.read_bytes().decode("utf-8", "replace"))
        except OSError:
            pass
    found = {}  # first seen first: passwords of URLs, then the environment, then files
    for text in texts:
        for url in URL.findall(text):
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                found.setdefault(password, None)
    for text in texts:
        for word in WORD.findall(text):
            found.setdefault(word, None)
    return list(found)[:limit]

def attempt(passwords, port, socket_dir):
    ok = []
    tries = [("127.0.0.1", p) for p in [None, *passwords]] + [(socket_dir, None)]
    for host, password in tries:
        for user in ("oui", "postgres"):
            try:
                psycopg.connect(host=host, port=port, dbname="oui_team", user=user,
                                password=password, connect_timeout=5).close()
            except psycopg.OperationalError as exc:
                if "password" not in str(exc) and "authentication" not in str(exc):
                    ok.append(("error", user, str(exc)[:200]))
            else:
                ok.append(["in", host, user])
    return ok
"""


def test_alices_kernel_cannot_open_the_team_database(
    hub: Hub, pg_cluster: PgCluster, alice_kernel: dict[str, Any]
) -> None:
    kernel_id = alice_kernel["id"]
    args = f"{pg_cluster.port}, {str(pg_cluster.root)!r}"
    run_in_kernel(hub, kernel_id, KERNEL_ATTACK)
    printed = run_in_kernel(
        hub,
        kernel_id,
        f"c = candidates(); print(json.dumps([len(c), attempt(c, {args})]))",
        timeout=300,
    )
    tried, outcome = json.loads(printed.strip().splitlines()[-1])
    assert tried >= 20, f"the kernel found only {tried} strings to try"
    assert outcome == [], outcome
    # positive control: with the password the same code gets in (so refusals above are real)
    printed = run_in_kernel(
        hub, kernel_id, f"print(json.dumps(attempt([{pg_cluster.password!r}], {args})))"
    )
    assert ["in", "127.0.0.1", "oui"] in json.loads(printed.strip().splitlines()[-1])
