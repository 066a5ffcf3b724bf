"""A fresh server's first chat while the initial index runs: the sidebar shows what the server
is doing (a status) before the first token, and the answer arrives.

A server of its own (fresh data dir, cold embedded SmolLM2, cold embedding model) over a
workspace of 200 files; the chat is sent once the index has found them and is embedding.
Asserts order, never times.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import LabServer, _shoot_on_failure, open_lab, running_lab, screenshot
from .test_live import STREAMING, answer_text, new_chat, wait_done

pytestmark = pytest.mark.llm

FILES = 200

# Every change of the last answer's status line or body, recorded in the page as it happens.
RECORD_STATUS = """() => {
  window.__ouiSeen = [];
  const root = document.querySelector('#oui-jupyter-sidebar');
  const look = () => {
    const answers = root.querySelectorAll('.jp-OuiMessage[data-role=assistant]');
    const answer = answers[answers.length - 1];
    if (!answer) { return; }
    const status = answer.querySelector('.jp-OuiMessage-status');
    const body = answer.querySelector('.jp-OuiMessage-body');
    const entry = {
      status: status && !status.hidden ? status.textContent : '',
      body: body ? body.innerText.trim().length : 0
    };
    const last = window.__ouiSeen[window.__ouiSeen.length - 1];
    if (!last || last.status !== entry.status || (last.body === 0) !== (entry.body === 0)) {
      window.__ouiSeen.push(entry);
    }
  };
  new MutationObserver(look).observe(root, {
    subtree: true, childList: true, characterData: true, attributes: true
  });
}"""


def workspace_files(root: Path) -> None:
    for i in range(FILES):
        folder = root / f"pkg{i % 10}"
        folder.mkdir(exist_ok=True)
        lines = [f'"""Module {i}: helpers for the lighthouse log number {i}."""', ""]
        for j in range(12):
            lines += [
                f"def record_{i}_{j}(entry: str) -> str:",
                f'    """Store entry {j} of log {i}, with the keeper\'s note and the weather."""',
                f"    return entry.strip() + ' / {i}-{j}'",
                "",
            ]
        (folder / f"module_{i}.py").write_text("\n".join(lines))


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LabServer]:
    config = {"default_model_params": {"max_tokens": 48, "temperature": 0.8}}
    with running_lab(tmp_path, config, log_name="jupyter-first-chat.log") as server:
        if server.model is None:
            pytest.skip('the embedded model is missing: pip install "oui-jupyter[local]"')
        workspace_files(server.root_dir)  # before any use of oui: the index has not opened
        yield server


def wait_indexing(server: LabServer, timeout: float = 120) -> dict[str, Any]:
    """Until the initial index found the files and chunks wait for their embeddings."""
    deadline = time.monotonic() + timeout
    while True:
        status = server.api("GET", "oui/api/v1/retrieval/status")
        if status["files_total"] >= FILES and status["pending"] > 0:
            return status
        assert time.monotonic() < deadline, f"the index did not start: {status}"
        time.sleep(0.1)


def test_first_chat_while_indexing_shows_a_status_then_answers(
    request: pytest.FixtureRequest, browser: Any, fresh_server: LabServer
) -> None:
    server = fresh_server
    page = open_lab(browser, server)
    try:
        at_send = wait_indexing(server)
        page.evaluate("() => window.jupyterapp.commands.execute('oui-jupyter:open')")
        page.locator("#oui-jupyter-sidebar").wait_for(state="visible")
        page.evaluate(RECORD_STATUS)
        sidebar = new_chat(
            page, server, "Which function records the lighthouse log entries?", workspace=True
        )
        page.wait_for_selector(STREAMING, timeout=60_000)
        wait_done(page, 300_000)
        screenshot(page, "first-chat-answered")
        seen = page.evaluate("() => window.__ouiSeen")
        assert answer_text(sidebar), "no answer"
        first_text = next(i for i, e in enumerate(seen) if e["body"] > 0)
        before = [e["status"] for e in seen[:first_text] if e["status"]]
        assert before, f"no status before the first token: {seen}"
        assert any(
            s.startswith(("Searching the workspace", "Starting the local model", "Reading"))
            for s in before
        ), before
        # the status line is gone once the words came
        assert all(not e["status"] for e in seen[first_text:]), seen
        # the chat ran while the index was embedding
        assert at_send["pending"] > 0
        log = server.log_tail(200_000)
        assert "oui: starting the local model" in log and "local-model.log" in log, log[-3000:]
        assert "oui: the local model is ready" in log
    finally:
        _shoot_on_failure(request, page)
        page.context.close()
