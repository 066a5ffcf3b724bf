"""An agent turn that edits and runs the open notebook, approved or denied in the sidebar,
and "Undo this turn", in a real Lab with a real kernel.

The first tests run the real server's tool loop against the scripted upstream (``nbagent``
calls ``edit_notebook`` to insert ``print(6*7)``, then ``run_cells`` on that cell): the
calls wait for approval, the edit and the output show in the open notebook, the undo puts
the exact bytes back. The last one answers ``oui/api`` from the test (fake_backend.py) to
show a hostile refusal escaped and to check that a notebook with unsaved work is not
reloaded when the server says it changed.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.scripted_openai import ScriptedOpenAI

from .conftest import (
    LabServer,
    _shoot_on_failure,
    open_lab,
    open_sidebar,
    running_lab,
    screenshot,
    scripted_lab_config,
)
from .fake_backend import FakeBackend

UNDO_ROUTE = re.compile(r".*/oui/api/v1/tools/undo(\?.*)?$")
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
HOSTILE = '<img src=x onerror="window.__oui_pwned=1">'


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
        "(path) => window.jupyterapp.commands.execute('docmanager:open', {path})", path.name
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


@pytest.fixture(scope="module")
def agent_lab(
    tmp_path_factory: pytest.TempPathFactory, scripted_openai_server: ScriptedOpenAI
) -> Iterator[LabServer]:
    """A real lab whose only connection is the scripted upstream (``nbagent`` inserts
    ``print(6*7)`` with ``edit_notebook``, then runs it with ``run_cells``)."""
    config = scripted_lab_config(scripted_openai_server.base_url, completion_timeout=10.0)
    with running_lab(tmp_path_factory.mktemp("agent-lab"), config, "jupyter-agent.log") as lab:
        yield lab


@pytest.fixture
def agent_page(browser: Any, agent_lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = open_lab(browser, agent_lab)
    yield page
    _shoot_on_failure(request, page)
    page.context.close()


def ask_the_agent(page: Any) -> tuple[Any, Any]:
    """A new chat with ``nbagent``, ``edit_notebook`` and ``run_cells`` ticked in the Tools
    picker; the sidebar and the card of the first call, waiting for approval."""
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="New chat").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll("
        "'#oui-jupyter-sidebar .jp-OuiModelPicker-select option')]"
        ".some(o => o.value === 'nbagent')",
        timeout=60_000,
    )
    sidebar.get_by_role("combobox", name="Model").select_option("nbagent")
    sidebar.locator(".jp-OuiToolPicker-summary").click()
    sidebar.get_by_role("checkbox", name="edit_notebook (asks first)").check()
    sidebar.get_by_role("checkbox", name="run_cells (asks first)").check()
    sidebar.locator(".jp-OuiToolPicker-summary").click()  # closed again
    box = sidebar.get_by_role("textbox", name="Message")
    box.fill("Add a cell that prints 6*7 and run it")
    box.press("Enter")
    card = waiting_card(sidebar, "edit_notebook")
    return sidebar, card


def waiting_card(sidebar: Any, name: str) -> Any:
    """The card of the call of ``name`` once it waits (not an earlier card still shown so)."""
    title = sidebar.page.locator(".jp-OuiToolCall-name", has_text=re.compile(f"^{name}$"))
    card = sidebar.locator(".jp-OuiToolCall[data-status='awaiting_approval']").filter(has=title)
    card.wait_for(state="visible", timeout=30_000)
    assert card.locator(".jp-OuiToolCall-name").inner_text() == name
    return card


def shown_outputs(page: Any) -> list[str]:
    texts: list[str] = page.evaluate(
        f"() => [...document.querySelectorAll('{PANEL} .jp-Cell')]"
        ".map(c => [...c.querySelectorAll('.jp-OutputArea-output')]"
        ".map(o => o.innerText.trim()).join('|'))"
    )
    return texts


def stored_answer(lab: LabServer) -> dict[str, Any]:
    """The newest chat's current answer, as the server keeps it."""
    (summary, *_) = lab.api("GET", "oui/api/v1/chats/")
    chat = lab.api("GET", f"oui/api/v1/chats/{summary['id']}")
    history = chat["chat"]["history"]
    answer: dict[str, Any] = history["messages"][history["currentId"]]
    return {**answer, "chat_id": summary["id"]}


def approve_both(page: Any, lab: LabServer, path: Path, first: str) -> tuple[Any, Any, bytes]:
    """Open ``path`` (one cell ``first``), ask the agent, approve its edit and its run; the
    sidebar, the answer and the notebook's bytes before the turn."""
    path.write_bytes(notebook([first]))
    original = open_notebook(page, path)
    sidebar, card = ask_the_agent(page)
    assert path.read_bytes() == original  # nothing changes before the user says so
    card.get_by_role("button", name="Approve: edit_notebook").click()
    waiting_card(sidebar, "run_cells").get_by_role("button", name="Approve: run_cells").click()
    answer = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
    answer.get_by_text("Tool said:", exact=False).wait_for(timeout=30_000)
    wait_outputs(page, ["", "42"])
    return sidebar, answer, original


def wait_outputs(page: Any, expected: list[str], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while shown_outputs(page) != expected:
        assert time.monotonic() < deadline, shown_outputs(page)
        page.wait_for_timeout(100)


def test_approve_edits_and_runs_then_undo_restores_the_bytes(
    agent_page: Any, agent_lab: LabServer, scripted_openai_server: ScriptedOpenAI
) -> None:
    page = agent_page
    path: Path = agent_lab.root_dir / "agent_undo.ipynb"
    path.write_bytes(notebook(["a = 1"]))
    original = open_notebook(page, path)
    sidebar, card = ask_the_agent(page)
    assert path.read_bytes() == original  # nothing changes before the user says so
    screenshot(page, "agent-01-edit-waits")
    card.get_by_role("button", name="Approve: edit_notebook").click()

    run_card = waiting_card(sidebar, "run_cells")
    wait_sources(page, ["a = 1", "print(6*7)"])  # the edit is on disk and shown
    on_disk = json.loads(path.read_bytes())
    added = on_disk["cells"][1]
    assert added["outputs"] == [] and added["metadata"]["oui"]["message_id"]
    run_card.get_by_role("button", name="Approve: run_cells").click()

    answer = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
    answer.get_by_text("Tool said:", exact=False).wait_for(timeout=30_000)
    wait_outputs(page, ["", "42"])
    ran = json.loads(path.read_bytes())["cells"][1]
    ((output,),) = [ran["outputs"]]
    assert output["output_type"] == "stream" and output["name"] == "stdout"
    assert "".join(output["text"]) == "42\n"
    stored = stored_answer(agent_lab)
    assert [(c["name"], c["status"], c["approval"]) for c in stored["tool_calls"]] == [
        ("edit_notebook", "done", "approved"),
        ("run_cells", "done", "approved"),
    ]
    assert added["metadata"]["oui"] == {"chat_id": stored["chat_id"], "message_id": stored["id"]}
    told = scripted_openai_server.requests[-1]["messages"][-1]
    assert told["role"] == "tool" and "[output] 42" in told["content"]
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty") is False
    screenshot(page, "agent-02-ran")

    undo = answer.get_by_role("button", name="Undo the notebook changes of this answer")
    assert undo.inner_text() == "Undo this turn"
    undo.click()
    answer.get_by_text("Undone: restored agent_undo.ipynb.").wait_for()
    assert path.read_bytes() == original
    wait_sources(page, ["a = 1"])
    assert shown_outputs(page) == [""]
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty") is False
    screenshot(page, "agent-03-undone")
    # done once: the button is off, and the server has nothing left to undo for the turn
    assert undo.is_disabled()
    with pytest.raises(urllib.error.HTTPError) as refused:
        body = {"chat_id": stored["chat_id"], "message_id": stored["id"]}
        agent_lab.api("POST", "oui/api/v1/tools/undo", body)
    assert refused.value.code == 404
    assert path.read_bytes() == original


def test_deny_runs_nothing_and_the_model_is_told(
    agent_page: Any, agent_lab: LabServer, scripted_openai_server: ScriptedOpenAI
) -> None:
    page = agent_page
    path: Path = agent_lab.root_dir / "agent_deny.ipynb"
    path.write_bytes(notebook(["b = 2"]))
    original = open_notebook(page, path)
    sidebar, card = ask_the_agent(page)
    card.get_by_role("button", name="Deny: edit_notebook").click()
    answer = sidebar.locator(".jp-OuiMessage[data-role='assistant']").last
    answer.get_by_text("Tool said: The user denied this call.").wait_for(timeout=30_000)
    sidebar.locator(".jp-OuiToolCall[data-status='denied']").wait_for()
    told = scripted_openai_server.requests[-1]["messages"][-1]
    assert told["role"] == "tool" and told["content"] == "The user denied this call."
    stored = stored_answer(agent_lab)
    assert [(c["name"], c["status"]) for c in stored["tool_calls"]] == [("edit_notebook", "denied")]
    assert path.read_bytes() == original
    assert shown_sources(page) == ["b = 2"] and shown_outputs(page) == [""]
    assert answer.locator(".jp-OuiMessage-undo").count() == 0  # nothing to undo
    # nothing ran in the notebook's kernel either: its next execution count is still 1
    count = page.evaluate(
        """async () => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await kernel.requestExecute({code: 'pass', silent: false}).done;
          return reply.content.execution_count;
        }"""
    )
    assert count == 1


def test_undo_refused_when_the_user_changed_the_agents_cell(
    agent_page: Any, agent_lab: LabServer
) -> None:
    """The user edits and saves the cell the agent wrote: the undo refuses (409), says why
    (the notebook's hostile name escaped), and changes nothing."""
    page = agent_page
    path: Path = agent_lab.root_dir / f"{HOSTILE}.ipynb"
    _sidebar, answer, _original = approve_both(page, agent_lab, path, "c = 3")
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells[1]"
        ".setSource('print(7*6)')"
    )
    page.evaluate("() => window.jupyterapp.shell.currentWidget.context.save()")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    saved = path.read_bytes()
    assert "".join(json.loads(saved)["cells"][1]["source"]) == "print(7*6)"
    answer.get_by_role("button", name="Undo the notebook changes of this answer").click()
    notice = answer.locator(".jp-OuiMessage-notice")
    notice.get_by_text("nothing was undone", exact=False).wait_for()
    message = f"cell 1 of {HOSTILE}.ipynb changed since this turn; nothing was undone"
    assert notice.inner_text() == f"Could not undo: {message} (HTTP 409)"
    assert page.evaluate("() => window.__oui_pwned === undefined")
    assert answer.locator(".jp-OuiMessage-notice img").count() == 0
    assert path.read_bytes() == saved
    assert shown_sources(page) == ["c = 3", "print(7*6)"]
    screenshot(page, "agent-04-refused")


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
    wait_socket(page, fake)
    fake.emit({"type": "notebook:changed", "data": {"path": "keep_mine.ipynb"}})
    page.wait_for_timeout(1000)
    assert shown_sources(page) == ["x = 100", "y = 2"]
