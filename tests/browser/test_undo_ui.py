"""Undo of an agent turn in the sidebar, and notebooks the server changed, in a real Lab.

The notebook is a real file opened in a real Lab; ``oui/api`` is the scripted backend
(fake_backend.py), which stands in for what the server does on an undo (write the kept
bytes back, send ``notebook:changed``). The server side of undo (checkpoints, byte-exact
restore, the 409) is tested against a real server and kernel in
tests/tools/test_notebook_tools.py.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

from .conftest import LabServer, open_lab, open_sidebar, screenshot
from .fake_backend import FakeBackend

UNDO_ROUTE = re.compile(r".*/oui/api/v1/tools/undo(\?.*)?$")
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
HOSTILE = '<img src=x onerror="window.__oui_pwned=1">'


def with_cell(saved: bytes, source: str, mark: dict[str, str]) -> bytes:
    """The saved notebook with one more cell, as the agent's edit leaves it."""
    nb = json.loads(saved)
    cell = {"cell_type": "code", "execution_count": None, "id": "agent-1"}
    nb["cells"].append({**cell, "metadata": {"oui": mark}, "outputs": [], "source": source})
    return json.dumps(nb, indent=1).encode()


def notebook(sources: list[str], mark: dict[str, str] | None = None) -> bytes:
    cells = []
    for i, src in enumerate(sources):
        metadata = {"oui": mark} if mark and i == len(sources) - 1 else {}
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": metadata,
                "outputs": [],
                "source": src,
            }
        )
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=2).encode()


def shown_sources(page: Any) -> list[str]:
    result: list[str] = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells"
        ".map(c => c.getSource())"
    )
    return result


def wait_sources(page: Any, expected: list[str], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while shown_sources(page) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook shows {shown_sources(page)}, not {expected}")
        page.wait_for_timeout(50)


def add_chat(fake: FakeBackend, title: str, tool_calls: list[dict[str, Any]]) -> tuple[str, str]:
    chat_id, user_id, answer_id = (uuid.uuid4().hex for _ in range(3))
    now = int(time.time())
    messages = {
        user_id: {
            "id": user_id,
            "parentId": None,
            "childrenIds": [answer_id],
            "role": "user",
            "content": "Add a cell",
            "timestamp": now,
        },
        answer_id: {
            "id": answer_id,
            "parentId": user_id,
            "childrenIds": [],
            "role": "assistant",
            "content": "I added a cell.",
            "model": "smollm2",
            "done": True,
            "timestamp": now,
            "tool_calls": tool_calls,
        },
    }
    fake.chats[chat_id] = {
        "id": chat_id,
        "title": title,
        "chat": {"title": title, "history": {"messages": messages, "currentId": answer_id}},
        "created_at": now,
        "updated_at": now + len(fake.chats),
        "pinned": False,
    }
    return chat_id, answer_id


def edit_call() -> dict[str, Any]:
    return {
        "id": "call_1",
        "name": "edit_notebook",
        "arguments": '{"operations": []}',
        "round": 0,
        "offset": 0,
        "status": "done",
        "result": "inserted cell 1",
        "data": None,
        "sources": [],
        "approval": "approved",
        "started_at": time.time(),
        "duration_ms": 12,
    }


def wait_socket(page: Any, fake: FakeBackend) -> None:
    """Frames go to the sockets open now: wait for the sidebar's."""
    while not fake.sockets:
        page.wait_for_timeout(50)


def open_notebook(page: Any, path: Path) -> bytes:
    """Open ``path`` in Lab and save it once its kernel is up (Lab's first save writes the
    kernel's language_info: until then the document counts as changed); its bytes then."""
    page.evaluate(
        f"() => window.jupyterapp.commands.execute('docmanager:open', {{path: '{path.name}'}})"
    )
    page.locator(f"{PANEL} .jp-Cell").first.wait_for()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status"
        " === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.shell.currentWidget.context.save()")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    return path.read_bytes()


def test_undo_this_turn_restores_the_open_notebook(
    browser: Any, fake_context: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    path: Path = lab_server.root_dir / "undo_me.ipynb"
    path.write_bytes(notebook(["a = 1"]))
    chat_id, answer_id = add_chat(fake, "Add a cell", [edit_call()])
    page = open_lab(browser, lab_server, context=fake_context)
    original = open_notebook(page, path)
    sidebar = open_sidebar(page)

    wait_socket(page, fake)
    # The agent's edit lands on disk; its frame reloads the clean document.
    path.write_bytes(with_cell(original, "b = 2", {"chat_id": chat_id, "message_id": answer_id}))
    fake.emit({"type": "notebook:changed", "data": {"path": "undo_me.ipynb"}})
    wait_sources(page, ["a = 1", "b = 2"])

    undos: list[dict[str, Any]] = []

    def on_undo(route: Any, request: Any) -> None:
        undos.append(json.loads(request.post_data))
        path.write_bytes(original)  # what the server does: the kept bytes back
        fake.emit({"type": "notebook:changed", "data": {"path": "undo_me.ipynb"}})
        body = {"restored": ["undo_me.ipynb"]}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.context.route(UNDO_ROUTE, on_undo)
    sidebar.locator(f".jp-OuiChatList-item[data-chat-id='{chat_id}'] .jp-OuiChatList-open").click()
    answer = sidebar.locator(f".jp-OuiMessage[data-message-id='{answer_id}']")
    undo = answer.get_by_role("button", name="Undo the notebook changes of this answer")
    undo.wait_for()
    assert undo.inner_text() == "Undo this turn"
    screenshot(page, "undo-01-button")
    undo.click()
    answer.get_by_text("Undone: restored undo_me.ipynb.").wait_for()
    assert undos == [{"chat_id": chat_id, "message_id": answer_id}]
    wait_sources(page, ["a = 1"])
    assert path.read_bytes() == original
    dirty = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    assert dirty is False
    screenshot(page, "undo-02-restored")


def test_undo_refusal_is_shown_and_a_dirty_notebook_is_left_alone(
    browser: Any, fake_context: Any, fake: FakeBackend, lab_server: LabServer
) -> None:
    path: Path = lab_server.root_dir / "keep_mine.ipynb"
    path.write_bytes(notebook(["x = 1", "y = 2"]))
    no_undo, _ = add_chat(fake, "Only read", [{**edit_call(), "name": "read_file"}])
    refused, answer_id = add_chat(fake, "Refused undo", [edit_call()])
    page = open_lab(browser, lab_server, context=fake_context)
    open_notebook(page, path)
    sidebar = open_sidebar(page)

    message = f"cells 1 of {HOSTILE}.ipynb changed since this turn; nothing was undone"
    page.context.route(
        UNDO_ROUTE,
        lambda route, _request: route.fulfill(
            status=409,
            content_type="application/json",
            body=json.dumps({"message": message, "detail": message}),
        ),
    )
    # An answer whose calls changed no notebook offers no undo.
    sidebar.locator(f".jp-OuiChatList-item[data-chat-id='{no_undo}'] .jp-OuiChatList-open").click()
    read_only = sidebar.locator(".jp-OuiMessage[data-role='assistant']").first
    read_only.get_by_role("button", name="Regenerate answer").wait_for()  # actions are drawn
    assert read_only.locator(".jp-OuiMessage-undo").count() == 0
    sidebar.get_by_role("button", name="Back to the chat list").click()

    sidebar.locator(f".jp-OuiChatList-item[data-chat-id='{refused}'] .jp-OuiChatList-open").click()
    answer = sidebar.locator(f".jp-OuiMessage[data-message-id='{answer_id}']")
    answer.get_by_role("button", name="Undo the notebook changes of this answer").click()
    notice = answer.locator(".jp-OuiMessage-notice")
    notice.get_by_text("nothing was undone", exact=False).wait_for()
    assert notice.inner_text() == f"Could not undo: {message} (HTTP 409)"
    assert page.evaluate("() => window.__oui_pwned === undefined")
    assert answer.locator(".jp-OuiMessage-notice img").count() == 0
    screenshot(page, "undo-03-refused")

    # The user has unsaved work: a server-side change does not replace it.
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells[0]"
        ".setSource('x = 100')"
    )
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    path.write_bytes(notebook(["from the server"]))
    fake.emit({"type": "notebook:changed", "data": {"path": "keep_mine.ipynb"}})
    page.wait_for_timeout(1000)
    assert shown_sources(page) == ["x = 100", "y = 2"]
