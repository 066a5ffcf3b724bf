"""A real ``jupyter server`` process with oui, on a data dir and database that outlive it.

For the tests that kill the server (``kill -9``) and start it again on the same data. Single
user: the token is the owner's (the operating system user).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "crash-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM, then SIGKILL if the process has not exited after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


class OuiProcess:
    def __init__(self, root: Path, database_url: str, upstream: str, *extra: str) -> None:
        self.root = root
        (root / "work").mkdir(parents=True, exist_ok=True)
        config = root / "jupyter_server_config.py"
        config.write_text("c.ServerApp.jpserver_extensions = {'oui_jupyter': True}\n")
        self.port = 0
        self.args = [
            "--no-browser",
            "--allow-root",
            f"--ServerApp.token={TOKEN}",
            f"--config={config}",
            f"--ServerApp.root_dir={root / 'work'}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.log_level=WARN",
            f"--OuiJupyter.database_url={database_url}",
            f"--OuiJupyter.data_dir={root / 'data'}",
            f"--OuiJupyter.openai_api_base_urls={upstream}",
            "--OuiJupyter.openai_api_keys=sk-scripted",
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.enable_title_generation=False",
            "--OuiJupyter.enable_tags_generation=False",
            "--OuiJupyter.index_workspace=False",
            "--OuiJupyter.warm_up_delay=0",
            *extra,
        ]
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OUI_", "JUPYTERHUB_", "JPY_"))
        }
        self.env.update(
            JUPYTER_DATA_DIR=str(root / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(root / "rt"),
            JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> OuiProcess:
        """Start and wait until oui's services are built (the database opened)."""
        self.port = free_port()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", f"--port={self.port}", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = self.request("GET", "oui/api/v1/users/user", timeout=5)
                if status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: {self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def kill(self) -> None:
        """``kill -9``: no shutdown hook runs, nothing is flushed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)
