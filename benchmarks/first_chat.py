"""First chat on a freshly (re)started server: time to its first event and its first token.

Each case starts a real `jupyter server` (oui with the embedded SmolLM2, cold: its llama.cpp
server starts on the turn) over a workspace of 200 standard-library files, and sends one
streamed `chat/completions` turn in a new chat:

* (a) `index`: a fresh data dir: the chat is sent while the initial index runs (the scan has
  begun and chunks wait for their embeddings);
* (b) `restart`: the server restarted over the index (a) left complete;
* (c) `off`: the same restarted server, the turn without workspace knowledge;
* (a) `loaded`: as (a), with one CPU-bound process per core beside the server.

First event: the first SSE `data:` line (a status, the sources or a token); first token: the
first chunk with text; `statuses`: when each status (and the sources) arrived, in seconds
from the send. Usage: python first_chat.py [--code DIR] [--cases index,restart,off,loaded]
(`--code`: the oui_jupyter source tree the server runs, e.g. another checkout, for a before/after;
`--files`, `--max-kb`: the workspace's size).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "bench-token"
AUTH = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
#: answerable from the workspace (bisect.py is one of its files), so the turn reads sources
QUESTION = "How does bisect.insort insert an item into a sorted list?"
FILES = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_workspace(root: Path, count: int = FILES, max_kb: int = 10) -> int:
    """``count`` standard-library modules of 1 to ``max_kb`` KB (by path; no tests, no
    site-packages)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    picked = []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if {"site-packages", "test", "tests", "idle_test"} & set(rel.parts):
            continue
        if 1_000 <= path.stat().st_size <= max_kb * 1_000:
            picked.append(rel)
        if len(picked) == count:
            break
    for rel in picked:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stdlib / rel, root / rel)
    return len(picked)


class Server:
    def __init__(self, root: Path, data: Path, base: Path, code: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/oui/api/"
        config = base / "config"
        config.mkdir(exist_ok=True)
        (config / "jupyter_server_config.json").write_text(
            json.dumps(
                {
                    "ServerApp": {"jpserver_extensions": {"oui_jupyter": True}},
                    "OuiJupyter": {
                        "enable_title_generation": False,
                        "enable_tags_generation": False,
                    },
                }
            )
        )
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(base / "jdata"),
            JUPYTER_RUNTIME_DIR=str(base / "rt"),
            HF_HUB_OFFLINE="1",
        )
        if code:
            env["PYTHONPATH"] = code + os.pathsep + env.get("PYTHONPATH", "")
        self.log = open(base / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                f"--ServerApp.token={TOKEN}",
                f"--ServerApp.root_dir={root}",
                f"--OuiJupyter.data_dir={data}",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                probe = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}/api/status", headers=AUTH
                )
                urllib.request.urlopen(probe, timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("jupyter server did not start") from None
                time.sleep(0.1)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=AUTH)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def wait_status(self, ok: Any, timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.api("GET", "v1/retrieval/status")
            if ok(status):
                return status
            if time.monotonic() > deadline:
                raise RuntimeError(f"the index did not get there: {status}")
            time.sleep(0.1)

    def first_chat(self, workspace: bool, question: str = QUESTION) -> dict[str, Any]:
        chat = self.api("POST", "v1/chats/new", {"chat": {"title": "First", "models": ["smollm2"]}})
        body = {
            "model": "smollm2",
            "stream": True,
            "chat_id": chat["id"],
            "features": {"workspace": workspace},
            "messages": [{"role": "user", "content": question}],
            "max_tokens": 32,
            "temperature": 0.0,
        }
        request = urllib.request.Request(
            self.url + "chat/completions", data=json.dumps(body).encode(), headers=AUTH
        )
        t0 = time.perf_counter()
        first_event = first_token = None
        statuses: list[tuple[float, str]] = []
        sources = 0
        with urllib.request.urlopen(request, timeout=600) as response:
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                now = time.perf_counter() - t0
                first_event = first_event if first_event is not None else now
                data = json.loads(line[5:])
                if data.get("status") and not data["status"].get("done"):
                    statuses.append((round(now, 2), data["status"]["description"]))
                if data.get("sources") and not sources:
                    statuses.append((round(now, 2), f"{len(data['sources'])} sources"))
                sources = len(data.get("sources") or []) or sources
                choices = data.get("choices") or []
                if (
                    first_token is None
                    and choices
                    and (choices[0].get("delta") or {}).get("content")
                ):
                    first_token = now
        return {
            "first_event_s": round(first_event or -1, 2),
            "first_token_s": round(first_token or -1, 2),
            "total_s": round(time.perf_counter() - t0, 2),
            "sources": sources,
            "statuses": statuses,
        }

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def busy_loop() -> None:
    while True:
        pass


def indexing(status: dict[str, Any]) -> bool:
    """The initial index is under way: files found, chunks waiting for their embeddings."""
    return status.get("files_total", 0) > 0 and status.get("pending", 0) > 0


def case_index(
    base: Path,
    code: str | None,
    data: Path,
    root: Path,
    finish: bool = True,
    question: str = QUESTION,
) -> dict[str, Any]:
    """``finish``: wait for the index to be complete before stopping (for the restarts)."""
    server = Server(root, data, base, code)
    try:
        server.api("GET", "v1/retrieval/status")  # the first use: the index opens
        before = server.wait_status(indexing)
        result = server.first_chat(workspace=True, question=question)
        after = server.api("GET", "v1/retrieval/status")
        result["index_at_send"] = f"{before['embedded']}/{before['chunks']} embedded"
        result["index_after"] = f"{after['embedded']}/{after['chunks']} embedded"
        if finish:
            server.wait_status(lambda s: s["state"] == "idle" and s["chunks"] and not s["pending"])
        return result
    finally:
        server.close()


def case_restarted(
    base: Path, code: str | None, data: Path, root: Path, workspace: bool, question: str = QUESTION
) -> dict:
    server = Server(root, data, base, code)
    try:
        server.api("GET", "v1/retrieval/status")
        server.wait_status(lambda s: s["ready"] and s["state"] == "idle")
        return server.first_chat(workspace=workspace, question=question)
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", help="the oui_jupyter source tree to run (default: installed)")
    parser.add_argument("--cases", default="index,restart,off,loaded")
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--max-kb", type=int, default=10, help="largest file taken, in KB")
    parser.add_argument("--question", default=QUESTION, help="the first chat's question")
    args = parser.parse_args()
    cases = args.cases.split(",")
    base = Path(tempfile.mkdtemp(prefix="oui-first-chat-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        root = base / "root"
        files = make_workspace(root, args.files, args.max_kb)
        data = base / "data"
        if {"index", "restart", "off"} & set(cases):
            results["(a) during the initial index"] = case_index(
                base, args.code, data, root, question=args.question
            )
        if "restart" in cases:
            results["(b) restarted, index done"] = case_restarted(
                base, args.code, data, root, True, args.question
            )
        if "off" in cases:
            results["(c) workspace knowledge off"] = case_restarted(
                base, args.code, data, root, False, args.question
            )
        if "loaded" in cases:
            hogs = [
                multiprocessing.Process(target=busy_loop, daemon=True)
                for _ in range(os.cpu_count() or 1)
            ]
            for hog in hogs:
                hog.start()
            try:
                results[f"(a) + {len(hogs)} busy processes"] = case_index(
                    base,
                    args.code,
                    base / "data-loaded",
                    root,
                    finish=False,
                    question=args.question,
                )
            finally:
                for hog in hogs:
                    hog.terminate()
                    hog.join(5)
    finally:
        if os.environ.get("OUI_BENCH_KEEP"):
            print(f"kept {base} (server and local-model logs)")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(
        f"workspace: {files} standard-library files of 1-{args.max_kb} KB; "
        f"code: {args.code or 'installed'}; {os.cpu_count()} CPUs"
    )
    print(f"{'case':<32}{'first event s':>14}{'first token s':>14}{'total s':>9}{'sources':>8}")
    for name, r in results.items():
        print(
            f"{name:<32}{r['first_event_s']:>14.2f}{r['first_token_s']:>14.2f}"
            f"{r['total_s']:>9.2f}{r['sources']:>8}"
        )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
