"""Browser tests: Playwright drives the system Chromium against a real ``jupyter lab``.

The lab server runs with the extension installed in this environment (``pip install -e .``
builds and installs the labextension), an isolated settings/workspace/data directory, a random
token and ``--LabApp.expose_app_in_browser`` (tests reach ``window.jupyterapp``). Its models are
the real ones: the embedded SmolLM2 (``oui-jupyter[local]``) is started by the extension on
first use. ``test_live.py`` needs it; ``test_chat_ui.py`` answers ``oui/api`` from the test
(``fake_backend.py``) to check the UI token by token.

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.chromium import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("OUI_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


def _shoot_on_failure(request: pytest.FixtureRequest, page: Any) -> None:
    if request.node.stash.get(_FAILED, False):
        try:
            screenshot(page, f"FAILED-{request.node.name}")
        except Exception:  # the page may be gone
            pass


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


def embedded_model() -> str | None:
    """The embedded model id when ``oui-jupyter[local]`` is installed, else None."""
    try:
        from oui_jupyter.providers.local_llama import LOCAL_MODEL_ID, local_model_path
    except ImportError:
        return None
    return LOCAL_MODEL_ID if local_model_path() is not None else None


@pytest.fixture(scope="package")
def lab_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabServer]:
    # Short answers keep the tiny model's turns quick; titles still come from the model.
    config = {"default_model_params": {"max_tokens": 256, "temperature": 0.8}}
    with running_lab(tmp_path_factory.mktemp("lab"), config) as server:
        yield server


def scripted_lab_config(base_url: str, **extra: Any) -> dict[str, Any]:
    """``OuiJupyter`` settings of a lab whose only model connection is a scripted upstream
    at ``base_url``: no embedded model, no titles or tags, no workspace index."""
    return {
        "openai_api_base_urls": [base_url],
        "openai_api_keys": ["sk-scripted"],
        "local_model_enabled": False,
        "enable_title_generation": False,
        "enable_tags_generation": False,
        "index_workspace": False,
        **extra,
    }


@contextmanager
def running_lab(
    base: Path, oui_config: dict[str, Any], log_name: str = "jupyter.log"
) -> Iterator[LabServer]:
    """A ``jupyter lab`` in ``base`` with ``c.OuiJupyter`` settings ``oui_config``; stopped after."""
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
    model = embedded_model()
    (base / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"OuiJupyter": oui_config})
    )
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
    ]
    log_path = base / "jupyter.log"
    log = log_path.open("wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(root))
    url = f"http://127.0.0.1:{port}/"
    server = LabServer(
        url=url, token=token, root_dir=root, process=process, log_path=log_path, model=model
    )
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
        shutil.copy(log_path, ARTIFACTS / log_name)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium through Playwright's sync API, for this package only: while Playwright runs,
    its event loop counts as running in this thread, which would break the asyncio tests of
    other packages (pytest-jupyter) if it outlived this one."""
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
    # A fresh workspace per page: no documents left open by earlier tests.
    workspace = f"{server.url}lab/workspaces/t{uuid.uuid4().hex[:12]}"
    target = (
        f"{workspace}/tree/{path}?reset&token={server.token}"
        if path
        else f"{workspace}?reset&token={server.token}"
    )
    page.goto(target)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )
    return page


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, browser: Any, lab_server: LabServer) -> Iterator[Any]:
    page = open_lab(browser, lab_server)
    try:
        yield page
    finally:
        _shoot_on_failure(request, page)
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
def fake_page(
    request: pytest.FixtureRequest, browser: Any, lab_server: LabServer, fake_context: Any
) -> Iterator[Any]:
    page = open_lab(browser, lab_server, context=fake_context)
    yield page
    _shoot_on_failure(request, page)


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
