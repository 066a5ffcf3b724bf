"""Memory a user's server adds in team client mode (issue #16), after a chat and indexing a
1,000-file workspace, over the same jupyter server without oui.

Three real ``jupyter server`` processes on one workspace of ``N`` files (Python, Markdown,
notebooks): a bare one (oui disabled), alice's server in team client mode in front of a team
service process (its real ``oui/api/embeddings``: all-MiniLM-L6-v2, run once for the team),
and with ``--single-user`` a single-user oui server on the same files for comparison. Each is
read (``VmRSS`` of ``/proc/<pid>/status``) after the workspace is indexed and one streamed
chat turn that searched it.

    PYTHONPATH=$PWD:$PWD/tests:$PWD/tests/team python benchmarks/team_user_rss.py [N=1000] [--single-user]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "team")]

from client_support import ClientProcess, TeamServiceProcess
from support.oui_process import TOKEN, OuiProcess
from support.scripted_openai import ScriptedOpenAI


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def workspace(root: Path, n: int) -> None:
    """``n`` small files of the kinds a data scientist keeps: modules, notes, notebooks."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        folder = root / f"project{i % 20}"
        folder.mkdir(exist_ok=True)
        kind = i % 3
        words = " ".join(f"measure{i} value{(i * 7) % 97} sample{(i * 13) % 89}" for _ in range(20))
        if kind == 0:
            (folder / f"module{i}.py").write_text(
                f'"""Module {i}: {words}"""\n\n\ndef f{i}(x):\n    return x * {i}\n'
            )
        elif kind == 1:
            (folder / f"notes{i}.md").write_text(f"# Notes {i}\n\n{words}\n\n## More\n\n{words}\n")
        else:
            cells = [
                {"cell_type": "markdown", "metadata": {}, "source": [f"# Analysis {i}\n", words]},
                {
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": 1,
                    "outputs": [],
                    "source": [f"df{i} = load({i})\n", "df.describe()"],
                },
            ]
            notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
            (folder / f"analysis{i}.ipynb").write_text(json.dumps(notebook))


def wait_indexed(server: OuiProcess, n: int, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, status = server.request("GET", "oui/api/v1/retrieval/status")
        if (
            code == 200
            and status["files_total"] >= n
            and status["files"] == status["files_total"]
            and status["state"] == "idle"
            and status["embedded"] > 0
            and not status["pending"]
        ):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"not indexed in time: {status}")
        time.sleep(0.5)


def chat_turn(server: OuiProcess) -> None:
    """One streamed turn that searches the workspace, saved in a chat."""
    code, chat = server.request("POST", "oui/api/v1/chats/new", {"chat": {"title": "rss"}})
    assert code == 200, chat
    body = {
        "model": "fast",
        "stream": True,
        "chat_id": chat["id"],
        "features": {"workspace": True},
        "messages": [{"role": "user", "content": "Which module measures value42?"}],
    }
    request = urllib.request.Request(
        f"{server.url}/oui/api/chat/completions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        text = response.read().decode()
    assert "[DONE]" in text, text[-500:]


def bare_server(root: Path, work: Path) -> OuiProcess:
    server = OuiProcess(root, "sqlite:///unused.db", "http://127.0.0.1:9/v1")
    (root / "jupyter_server_config.py").write_text(
        "c.ServerApp.jpserver_extensions = {'oui_jupyter': False}\n"
    )
    server.args = [a for a in server.args if not a.startswith("--OuiJupyter.")]
    server.args = [
        f"--ServerApp.root_dir={work}" if a.startswith("--ServerApp.root_dir=") else a
        for a in server.args
    ]
    return server


def start_bare(server: OuiProcess) -> None:
    """Start a server without oui and wait until its own API answers."""
    import subprocess

    from support.oui_process import free_port

    server.port = free_port()
    with server.log.open("ab") as log:
        server.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={server.port}", *server.args],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            if server.request("GET", "api/contents")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(server.log.read_text()[-2000:])
        time.sleep(0.2)


def with_workspace(server: OuiProcess, work: Path) -> None:
    server.args = [
        f"--ServerApp.root_dir={work}" if a.startswith("--ServerApp.root_dir=") else a
        for a in server.args
    ]
    server.args = [a for a in server.args if a != "--OuiJupyter.index_workspace=False"]
    server.args += ["--OuiJupyter.index_workspace=True", "--OuiJupyter.index_start_delay=0"]


def main(n: int, single_user: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="oui-rss-"))
    work = tmp / "work"
    workspace(work, n)
    upstream = ScriptedOpenAI().start()
    results: dict[str, float] = {}
    try:
        bare = bare_server(tmp / "bare", work)
        start_bare(bare)
        bare.request("GET", "api/contents")
        results["bare jupyter server"] = rss_mb(bare.proc.pid)  # type: ignore[union-attr]
        bare.stop()

        service = TeamServiceProcess(
            tmp / "service", f"sqlite:///{tmp / 'team.db'}", upstream.base_url
        )
        # the real team embeddings (the stand-in's fake ones are for the fast tests)
        (tmp / "service" / "jupyter_server_config.py").write_text(
            "c.ServerApp.jpserver_extensions = {'oui_jupyter': True}\n"
        )
        service.start()
        try:
            client = ClientProcess(tmp / "client", service)
            with_workspace(client, work)
            client.start()
            t0 = time.monotonic()
            status = wait_indexed(client, n)
            print(f"team client: {status['files']} files indexed in {time.monotonic() - t0:.0f} s")
            chat_turn(client)
            results["team client"] = rss_mb(client.proc.pid)  # type: ignore[union-attr]
            client.stop()
        finally:
            service.stop()

        if single_user:
            single = OuiProcess(tmp / "single", f"sqlite:///{tmp / 'single.db'}", upstream.base_url)
            with_workspace(single, work)
            single.start()
            t0 = time.monotonic()
            wait_indexed(single, n)
            print(f"single user: indexed in {time.monotonic() - t0:.0f} s")
            chat_turn(single)
            results["single-user oui"] = rss_mb(single.proc.pid)  # type: ignore[union-attr]
            single.stop()
    finally:
        upstream.stop()
    base = results["bare jupyter server"]
    for name, value in results.items():
        added = "" if name.startswith("bare") else f"  (adds {value - base:.0f} MB)"
        print(f"{name:22s} RSS {value:6.0f} MB{added}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1000, "--single-user" in sys.argv)
