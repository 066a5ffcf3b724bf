"""A real ``jupyter server`` with the extension, as a subprocess, and notebooks executed in
kernels that server starts (``POST /api/sessions``), so discovery works exactly as in Lab:
the kernel's parent is the server, ``JPY_SESSION_NAME`` names the notebook, and the server's
``jpserver-<pid>.json`` in the runtime dir holds its URL and token. Nothing oui-specific is
put in the kernel's environment.

The server's root holds the example project as ``scripts/examples.sh`` copies it for
``lab.sh`` (under ``notebooks/``), and each executed notebook is saved back there through the
contents API, as Lab saves it: the tracked notebooks are never written.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nb_support import free_port, text_of
from nbclient import NotebookClient
from support.oui_process import stop_process

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXAMPLES_SH = REPO / "scripts" / "examples.sh"


class AttachedKernelManager(AsyncKernelManager):
    """A kernel manager for a kernel someone else (the Jupyter server) started and owns."""

    @property
    def has_kernel(self) -> bool:  # type: ignore[override]
        return True

    async def _async_is_alive(self) -> bool:
        return True  # the server watches the process; a dead kernel shows as a timeout

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """The server owns the kernel: the session is deleted through its REST API instead."""

    is_alive = _async_is_alive  # type: ignore[assignment]
    shutdown_kernel = _async_shutdown_kernel  # type: ignore[assignment]


@dataclass
class LiveServer:
    url: str
    token: str
    root: Path
    runtime: Path
    process: subprocess.Popen[bytes]
    log: Path
    tracked_before: str | None = None  # ``notebooks_status()`` before the server started

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=120
        )

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.http() as client:
            response = client.request(method, "oui/api/" + path, **kwargs)
            response.raise_for_status()
            return response.json()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def execute(
        self, path: str, timeout: int = 300, replies: list[dict[str, Any]] | None = None
    ) -> nbformat.NotebookNode:
        """Run the notebook at ``path`` (relative to the root) in a kernel the server starts.

        ``replies`` collects each code cell's ``execute_reply`` content (payloads such as
        ``set_next_input`` live there). Every run checks that the token is nowhere in the
        executed notebook (outputs, metadata, widget state)."""
        nb = nbformat.read(self.root / path, as_version=4)
        with self.http() as client:
            response = client.post(
                "api/sessions",
                json={
                    "path": path,
                    "name": Path(path).name,
                    "type": "notebook",
                    "kernel": {"name": "python3"},
                },
            )
            response.raise_for_status()
            session = response.json()
        kernel_id = session["kernel"]["id"]
        try:
            km = AttachedKernelManager(
                connection_file=str(self.runtime / f"kernel-{kernel_id}.json")
            )
            km.load_connection_file()
            runner = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3")
            if replies is not None:
                runner.on_cell_executed = lambda cell, cell_index, execute_reply: replies.append(
                    execute_reply["content"]
                )
            runner.execute()
        finally:
            with self.http() as client:
                client.delete(f"api/sessions/{session['id']}")
        assert self.token not in nbformat.writes(nb), f"the Jupyter token is in the executed {path}"
        self.save(path, nb)
        return nb

    def save(self, path: str, nb: nbformat.NotebookNode) -> None:
        """Write ``nb`` to ``path`` through the contents API, as Lab's save does."""
        with self.http() as client:
            response = client.put(
                f"api/contents/{path}", json={"type": "notebook", "format": "json", "content": nb}
            )
            response.raise_for_status()


def start_live_server(
    base: Path,
    llama_url: str,
    extra: dict[str, Any] | None = None,
    sections: dict[str, Any] | None = None,
) -> LiveServer:
    """``extra``: more ``OuiJupyter`` settings; ``sections``: more config sections (``LabApp``...)."""
    root, runtime, config, data = base / "root", base / "runtime", base / "config", base / "data"
    for folder in (root, runtime, config, data):
        folder.mkdir(parents=True, exist_ok=True)
    tracked_before = notebooks_status()
    copy_examples(root / "notebooks")
    token = secrets.token_hex(16)
    port = free_port()
    settings = {
        "ServerApp": {"jpserver_extensions": {"oui_jupyter": True}},
        "OuiJupyter": {
            "data_dir": str(data / "oui"),
            "warm_up_delay": 0.0,
            "openai_api_base_urls": [llama_url],
            "openai_api_keys": ["none"],
            "local_model_enabled": False,
            "default_model_params": {"max_tokens": 48, "temperature": 0},
            "enable_title_generation": False,
            **(extra or {}),
        },
        **(sections or {}),
    }
    (config / "jupyter_server_config.json").write_text(json.dumps(settings))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OUI_", "JUPYTERHUB_", "JPY_", "JUPYTER_"))
    }
    env.update(
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(data),
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    log = base / "server.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--allow-root",
        ],
        cwd=root,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    live = LiveServer(
        f"http://127.0.0.1:{port}/", token, root, runtime, process, log, tracked_before
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter server exited ({process.returncode}):\n{live.log_tail()}")
        try:
            if live.api("GET", "version"):
                return live
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_live_server(live)
    pytest.fail(f"jupyter server did not answer in 90 s:\n{live.log_tail()}")


def copy_examples(to: Path) -> None:
    """The example project copied as lab.sh copies it (``scripts/examples.sh``)."""
    subprocess.run(
        ["bash", str(EXAMPLES_SH)],
        env={**os.environ, "OUI_EXAMPLES_DIR": str(to)},
        check=True,
        capture_output=True,
    )


def notebooks_status() -> str | None:
    """``git status --porcelain`` of the tracked notebooks/ (None outside a git checkout)."""
    if not (REPO / ".git").exists():
        return None
    return subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all", "notebooks/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def stop_live_server(live: LiveServer) -> None:
    stop_process(live.process, grace=20)


def outputs_text(cell: Any, name: str | None = None) -> str:
    """A cell's streams and displays, without error tracebacks."""
    return text_of(cell, name, tracebacks=False)
