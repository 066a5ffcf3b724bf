"""Shared parts of the chat benchmarks: a scripted upstream in its own process and a real
`jupyter server` with oui pointed at it (single user: the benchmark token is the owner)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _server import TOKEN, JupyterServer, free_port

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"token {TOKEN}"}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


class Upstream:
    """``tests/support/scripted_openai.py`` as a separate process (its own core time)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "support" / "scripted_openai.py"),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # its base URL: it listens

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_oui(upstream: Upstream, *extra: str, data_dir: str | None = None) -> JupyterServer:
    """A server whose one connection is ``upstream`` (no titles, tags or index); ``data_dir``
    keeps its database across restarts."""
    server = JupyterServer(
        True,
        [
            f"--OuiJupyter.openai_api_base_urls={upstream.base_url}",
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.enable_title_generation=False",
            "--OuiJupyter.enable_tags_generation=False",
            "--OuiJupyter.index_workspace=False",
            *extra,
        ],
        data_dir=data_dir,
    )
    server.start()
    server.get("/oui/api/models", timeout=60)  # services built, model list cached
    server.wait_until_settled()
    return server


def post(server: JupyterServer, path: str, body: Any, timeout: float = 60) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def new_chat(server: JupyterServer, messages: int = 0) -> str:
    """A chat with a linear history of ``messages`` messages (user/assistant turns)."""
    history: dict[str, Any] = {}
    parent = None
    for i in range(messages):
        mid = f"m{i}"
        history[mid] = {
            "id": mid,
            "parentId": parent,
            "childrenIds": [],
            "role": "user" if i % 2 == 0 else "assistant",
            "content": "lorem ipsum dolor sit amet " * 8,
            "timestamp": int(time.time()),
        }
        if parent:
            history[parent]["childrenIds"].append(mid)
        parent = mid
    chat = {
        "title": "bench",
        "models": ["fast"],
        "history": {"messages": history, "currentId": parent},
    }
    return post(server, "/oui/api/v1/chats/new", {"chat": chat})["id"]
