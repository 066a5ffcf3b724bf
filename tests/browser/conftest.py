"""Browser tests: Playwright drives the system Chromium against a real ``jupyter lab``.

The lab server runs with the extension installed in this environment (``pip install -e .``
builds and installs the labextension), an isolated settings/workspace directory, a random
token, ``--LabApp.expose_app_in_browser`` (tests reach ``window.jupyterapp``) and, where
``tests/support/llama_server.py`` is importable, the embedded SmolLM2 model.

Environment:
- ``OUI_CHROMIUM``: the Chromium binary (default ``/usr/bin/chromium``).
- ``OUI_TEST_ARTIFACTS``: where screenshots go (default ``test-artifacts/``).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OUI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("OUI_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """Replace pytest-jupyter's per-test event loop: Playwright's sync API runs its own loop
    in this thread, and pytest-jupyter would try to close it."""
    yield


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    """No in-process ServerApp here: the lab server is a subprocess."""
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running ``jupyter lab`` and a small authenticated REST client for it."""

    url: str
    token: str
    root_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _llm_server_args(request: pytest.FixtureRequest) -> tuple[list[str], str | None, dict[str, Any]]:
    """Jupyter CLI arguments that point oui-jupyter at the embedded model, when available.

    ``tests/support/llama_server.py`` (owned by the chat pipeline) provides a session fixture
    ``llama_server``; we use its ``jupyter_args`` (list of ``--OuiJupyter...=...`` flags) and
    ``model`` (the model id to pick in the sidebar).
    """
    try:
        import support.llama_server  # noqa: F401
    except ImportError:
        return [], None, {}
    try:
        server = request.getfixturevalue("llama_server")
    except pytest.FixtureLookupError:
        return [], None, {}
    args = list(getattr(server, "jupyter_args", []) or [])
    model = getattr(server, "model", None) or getattr(server, "model_id", None)
    return args, model, {"llama_server": server}


@pytest.fixture(scope="session")
def lab_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    (base / "settings").mkdir()
    # No "Would you like to get notified about Jupyter news?" toast over the page.
    notification = base / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (base / "workspaces").mkdir()
    (base / "data").mkdir()
    (base / "runtime").mkdir()
    (base / "config").mkdir()
    token = uuid.uuid4().hex
    port = free_port()
    llm_args, model, extra = _llm_server_args(request)
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(base / "config"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "OUI_DATA_DIR": str(base / "data"),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        f"--OuiJupyter.data_dir={base / 'data'}",
        *llm_args,
    ]
    log_path = base / "jupyter.log"
    log = log_path.open("wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(root))
    url = f"http://127.0.0.1:{port}/"
    server = LabServer(url=url, token=token, root_dir=root, process=process, log_path=log_path, model=model, extra=extra)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            log.close()
            pytest.fail(f"jupyter lab exited early:\n{server.log_tail()}")
        try:
            server.api("GET", "api/status", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"jupyter lab did not start:\n{server.log_tail()}")
            time.sleep(0.3)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / "jupyter.log")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set OUI_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_lab(browser: Any, server: LabServer, path: str = "", context: Any = None) -> Any:
    """A page on Lab (``path`` opens a document), once the shell is restored.

    Without ``context`` the page gets a new browser context of its own."""
    if context is None:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    target = f"{server.url}lab/tree/{path}?token={server.token}" if path else server.lab_url
    page.goto(target)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
    return page


@pytest.fixture
def lab_page(browser: Any, lab_server: LabServer) -> Iterator[Any]:
    page = open_lab(browser, lab_server)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture
def fake() -> Any:
    from .fake_backend import FakeBackend

    return FakeBackend()


@pytest.fixture
def fake_context(browser: Any, fake: Any) -> Iterator[Any]:
    """A browser context whose ``oui/api`` (REST and socket) is answered by ``fake``."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    fake.install(context)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def fake_page(browser: Any, lab_server: LabServer, fake_context: Any) -> Any:
    return open_lab(browser, lab_server, context=fake_context)


def screenshot(page: Any, name: str, target: Any = None) -> Path:
    """Save a screenshot under ``test-artifacts/browser/`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (target or page).screenshot(path=str(path))
    return path


def open_sidebar(page: Any) -> Any:
    """Open the chat sidebar through its command and return its locator."""
    page.evaluate("() => window.jupyterapp.commands.execute('oui-jupyter:open')")
    sidebar = page.locator("#oui-jupyter-sidebar")
    sidebar.wait_for(state="visible")
    return sidebar
