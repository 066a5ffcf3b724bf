"""Start and stop a real `jupyter server` for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    def __init__(
        self, with_oui: bool = True, extra: list[str] | None = None, data_dir: str | None = None
    ) -> None:
        self.with_oui = with_oui
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        config = root / "config.py"
        config.write_text(f"c.ServerApp.jpserver_extensions = {{'oui_jupyter': {with_oui}}}\n")
        data = data_dir or str(root / "data")
        env = dict(os.environ, JUPYTER_DATA_DIR=data, JUPYTER_RUNTIME_DIR=str(root / "rt"))
        self.args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            f"--ServerApp.token={TOKEN}",
            f"--config={config}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.log_level=WARN",
            *(extra or []),
        ]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> bytes:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"token {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    def start(self) -> float:
        """Seconds from spawn until the server answers HTTP."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while True:
            try:
                self.get("/api/status", timeout=1)
                return time.perf_counter() - t0
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("jupyter server exited") from None
                time.sleep(0.005)

    def wait_until_settled(self, timeout: float = 300) -> None:
        """Wait until oui's first-use work is over: the retrieval index opened (DuckDB, numpy)
        and the workspace indexed (the embedding model loaded). It runs in threads, so a
        measurement taken meanwhile shares the interpreter with a one-off start-up."""
        import json

        deadline = time.monotonic() + timeout
        while True:
            status = json.loads(self.get("/oui/api/v1/retrieval/status"))
            if (
                status.get("ready")
                and status.get("state") in ("idle", "error")
                and not status.get("pending")
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"oui did not settle: {status}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()
