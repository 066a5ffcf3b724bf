"""Shared by the lab_* benchmarks: a real `jupyter lab` and the system Chromium.

`LabProcess(extension=False)` disables both halves of oui-jupyter (the labextension through
page_config, the server extension through jpserver_extensions) in an isolated config dir.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.chromium import CHROMIUM, CHROMIUM_ARGS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabProcess:
    def __init__(self, extension: bool = True, index_workspace: bool = False) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        base = Path(self.tmp.name)
        for name in (
            "root",
            "config/labconfig",
            "settings/@jupyterlab/apputils-extension",
            "workspaces",
            "data",
            "rt",
        ):
            (base / name).mkdir(parents=True)
        (
            base / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        server_config: dict[str, Any] = {
            "ServerApp": {"jpserver_extensions": {"oui_jupyter": extension}}
        }
        if extension:
            server_config["OuiJupyter"] = {"index_workspace": index_workspace}
        (base / "config/jupyter_server_config.json").write_text(json.dumps(server_config))
        if not extension:
            (base / "config/labconfig/page_config.json").write_text(
                json.dumps({"disabledExtensions": {"oui-jupyter": True}})
            )
        self.root = base / "root"
        self.token = uuid.uuid4().hex
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(base / "lab.log", "wb")
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(base / "config"),
            JUPYTER_RUNTIME_DIR=str(base / "rt"),
            HF_HUB_OFFLINE="1",
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--ServerApp.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.expose_app_in_browser=True",
                f"--LabApp.user_settings_dir={base / 'settings'}",
                f"--LabApp.workspaces_dir={base / 'workspaces'}",
                f"--OuiJupyter.data_dir={base / 'data'}",
                "--ServerApp.log_level=WARN",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.root),
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                self.api("GET", "api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((base / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.2)

    @property
    def lab_url(self) -> str:
        return f"{self.url}lab?token={self.token}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.tmp.cleanup()

    def __enter__(self) -> LabProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_lab(browser: Any, lab: LabProcess, context: Any = None) -> tuple[Any, float]:
    """A page on Lab; returns it and the ms from navigation start to the shell being restored."""
    context = context or browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(lab.lab_url)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=90_000)
    ready = page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; return performance.now(); }"
    )
    return page, float(ready)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def write_result(name: str, result: dict[str, Any]) -> None:
    """Print the result and keep it as test-artifacts/benchmarks/<name>.json."""
    out = Path(__file__).resolve().parents[1] / "test-artifacts" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
